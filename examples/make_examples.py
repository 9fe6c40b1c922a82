"""Build the app's bundled example clips from the shared corpora (run once; the outputs are committed).

    python examples/make_examples.py          # AVEMO_DATA points at the corpora (default ../shared/data)

A RAVDESS face still with a real RAVDESS speech clip muxed in gives a small mp4 (there is no RAVDESS
video on these machines; the faces are near neutral, so the face and the voice may well disagree,
which the app then shows). Two speech clips are copied as they are (16 kHz mono FLAC). See README.md
in this folder for the attribution.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # for tests.clips when run as a script

from tests.clips import face_still, ravdess_clip, run_ffmpeg, savee_clip  # noqa: E402

MAX_BYTES = 300_000

# name -> (face actor, speech clip)
VIDEOS = {
    "ravdess-actor01-angry.mp4": (1, ravdess_clip(actor=1, emotion=5, intensity=2, statement=1)),
    "ravdess-actor08-sad.mp4": (8, ravdess_clip(actor=8, emotion=4, intensity=2, statement=2)),
}
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


def main() -> None:
    for name, (actor, speech) in VIDEOS.items():
        small_video(HERE / name, face_still(actor), speech)
    for name, source in AUDIO.items():
        shutil.copyfile(source, HERE / name)
    for name in [*VIDEOS, *AUDIO]:
        size = (HERE / name).stat().st_size
        print(f"{name}: {size / 1000:.0f} kB")
        assert size <= MAX_BYTES, f"{name} is over {MAX_BYTES} bytes"


if __name__ == "__main__":
    main()
