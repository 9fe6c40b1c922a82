"""Build the app's bundled example clips from the shared corpora (run once; the outputs are committed).

    python examples/make_examples.py          # AVEMO_DATA points at the corpora (default ../shared/data)

A RAVDESS face still with a real RAVDESS speech clip muxed in gives a small mp4 (there is no RAVDESS
video on these machines; the faces are near neutral, so the face and the voice may well disagree,
which the app then shows). One video is made to move: the still's face is warped, frame by frame,
into a smile that comes, holds and eases, with a slight nod of the head (a thin-plate spline through
the face-mesh landmarks, the face's outline held still). It is synthetic, and says so in its name.
Two speech clips are copied as they are (16 kHz mono FLAC). See README.md in this folder for the
attribution.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # for tests.clips when run as a script

from tests.clips import face_still, ravdess_clip, run_ffmpeg, savee_clip  # noqa: E402

MAX_BYTES = 300_000

# name -> (face actor, speech clip)
VIDEOS = {
    "ravdess-actor01-angry.mp4": (1, ravdess_clip(actor=1, emotion=5, intensity=2, statement=1)),
    "ravdess-actor08-sad.mp4": (8, ravdess_clip(actor=8, emotion=4, intensity=2, statement=2)),
}
# name -> (face actor, speech clip): the face warped into a smile while the actor's happy speech plays.
SMILING = {
    "ravdess-actor03-happy-synthetic-smile.mp4": (3, ravdess_clip(actor=3, emotion=3, intensity=2, statement=1)),
}
# A smile as face-mesh landmark moves, in shares of the face's width (x, y; y < 0 is up): the mouth corners
# out and up, the lips parting a little, the cheeks and lower eyelids raised (strong enough that the face
# model reads it as happy, about 60% on the held frame; half as strong, it read neutral).
SMILE_MOVES = {
    61: (-0.105, -0.09), 291: (0.105, -0.09), 40: (-0.045, -0.045), 270: (0.045, -0.045),
    91: (-0.045, -0.03), 321: (0.045, -0.03), 0: (0.0, -0.015), 17: (0.0, 0.03), 14: (0.0, 0.022),
    13: (0.0, -0.007), 205: (-0.03, -0.06), 425: (0.03, -0.06), 50: (-0.015, -0.045), 280: (0.015, -0.045),
    145: (0.0, -0.018), 374: (0.0, -0.018),
}
FPS = 25
AUDIO = {
    "ravdess-actor03-happy.flac": ravdess_clip(actor=3, emotion=3, intensity=2, statement=1),
    "savee-KL-surprised.flac": savee_clip("KL_su01"),
}


def small_video(out: Path, face: Path, speech: Path) -> Path:
    """A still face for the length of the speech, H.264 + AAC in an mp4 that browsers play at once."""
    run_ffmpeg("-loop", "1", "-framerate", "25", "-i", str(face), "-i", str(speech), "-shortest",
               "-vf", "format=yuv420p,pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "slow",
               "-crf", "28", "-tune", "stillimage", "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart",
               str(out))
    return out


def smile_frames(face: Path, seconds: float) -> list[np.ndarray]:
    """RGB frames of the still's face smiling: the smile grows over 0.8 s, holds with a slight pulse and
    eases at the end, while the head nods by a degree or two."""
    import cv2
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_FACE_OVAL

    from avemo.face.mesh import detect_faces, face_mesh

    still = cv2.cvtColor(cv2.imread(str(face)), cv2.COLOR_BGR2RGB)
    with face_mesh(stills=True) as mesh:
        points = detect_faces(mesh, still)[0]
    height, width = still.shape[:2]
    face_width = float(np.ptp(points[:, 0]))
    held = [points[i] for i in sorted({i for edge in FACEMESH_FACE_OVAL for i in edge})]
    held += [np.array(p, np.float32) for p in [(0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)]]
    frames = []
    for t in np.arange(int(seconds * FPS)) / FPS:
        strength = min(1.0, t / 0.8) * min(1.0, max(0.0, (seconds - t) / 0.6)) * (0.9 + 0.1 * np.sin(2 * np.pi * t))
        source = np.array([points[i] for i in SMILE_MOVES] + held, np.float32)[None]
        target = np.array([points[i] + strength * face_width * np.array(move) for i, move in SMILE_MOVES.items()]
                          + held, np.float32)[None]
        spline = cv2.createThinPlateSplineShapeTransformer()
        spline.estimateTransformation(target, source, [cv2.DMatch(i, i, 0) for i in range(source.shape[1])])
        smiled = spline.warpImage(still)  # (the transform maps target to source: warpImage pulls pixels back)
        nod = cv2.getRotationMatrix2D(tuple(points.mean(axis=0).tolist()), 1.5 * np.sin(2 * np.pi * t / 2.5), 1.0)
        frames.append(cv2.warpAffine(smiled, nod, (width, height), borderMode=cv2.BORDER_REPLICATE))
    return frames


def moving_video(out: Path, frames: list[np.ndarray], speech: Path) -> Path:
    import cv2

    with tempfile.TemporaryDirectory() as tmp:
        for i, frame in enumerate(frames):
            cv2.imwrite(f"{tmp}/{i:05d}.png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        run_ffmpeg("-framerate", str(FPS), "-i", f"{tmp}/%05d.png", "-i", str(speech), "-shortest",
                   "-vf", "format=yuv420p,pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "slow",
                   "-crf", "28", "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", str(out))
    return out


def main() -> None:
    import soundfile

    for name, (actor, speech) in VIDEOS.items():
        small_video(HERE / name, face_still(actor), speech)
    for name, (actor, speech) in SMILING.items():
        moving_video(HERE / name, smile_frames(face_still(actor), soundfile.info(str(speech)).duration), speech)
    for name, source in AUDIO.items():
        shutil.copyfile(source, HERE / name)
    for name in [*VIDEOS, *SMILING, *AUDIO]:
        size = (HERE / name).stat().st_size
        print(f"{name}: {size / 1000:.0f} kB")
        assert size <= MAX_BYTES, f"{name} is over {MAX_BYTES} bytes"


if __name__ == "__main__":
    main()
