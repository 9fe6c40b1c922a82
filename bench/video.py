"""Latency of the video branch on a 4 s 1280x720 clip (a RAVDESS face still with speech).

    python -m bench.video [--runs 10] [--model weights/video]

Prints frames decoded and sampled, and the median over warm runs of: decoding (grab every frame,
convert the sampled ones), face mesh + aligned crops, the blendshapes and facex on each face, the FER CNN
and the head, and the whole `VideoAnalyzer.analyse` call (run separately, so the parts need not add up
exactly).
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from avemo.config import WEIGHTS_DIR

CLIP_SECONDS = 4.0
CLIP_SIZE = (1280, 720)
PARTS = ("decode_ms", "face_ms", "expression_ms", "model_ms")


def build_clip(folder: Path) -> Path:
    from tests import clips

    if not clips.HAVE_DATA:
        raise SystemExit(clips.SKIP_REASON)
    return clips.still_video(folder / "bench.mp4", clips.face_still(1), clips.ravdess_clip(1),
                             seconds=CLIP_SECONDS, size=CLIP_SIZE)


def timed_parts(analyser, path: Path, info) -> dict:
    """One pass through the pipeline with each stage timed separately (milliseconds)."""
    import cv2

    from avemo.face.mesh import face_mesh, find_face
    from avemo.face.video import WORDS_EVERY_N_FACES, read_frames_at, sampling_plan

    plan = sampling_plan(info.duration, cfg=analyser.cfg)
    decode = face = expression = 0.0
    sampled, crops, features = 0, [], []
    capture = cv2.VideoCapture(str(path))
    decoded = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    with face_mesh(analyser.cfg) as mesh, analyser.landmarker() as landmarker:
        frames = read_frames_at(path, plan.targets.ravel())
        while True:
            start = time.perf_counter()
            item = next(frames, None)
            decode += time.perf_counter() - start
            if item is None:
                break
            if item[1] is None:
                continue
            sampled += 1
            start = time.perf_counter()
            found = find_face(mesh, item[1], analyser.cfg)
            face += time.perf_counter() - start
            if found is not None:
                crops.append(found.crop)
                start = time.perf_counter()
                if analyser.expression is not None:  # blendshapes as avemo.face.video.observe_faces reads them
                    blendshapes = (analyser.expression.head_reads_blendshapes
                                   or (len(crops) - 1) % WORDS_EVERY_N_FACES == 0)
                    features.append(analyser.expression.frame_features(landmarker, found.expression_crop, blendshapes))
                expression += time.perf_counter() - start
    start = time.perf_counter()
    analyser.frame_logits(np.stack(crops), np.stack(features) if features else None)
    model = time.perf_counter() - start
    return {"frames_decoded": decoded, "frames_sampled": sampled, "decode_ms": decode * 1e3,
            "face_ms": face * 1e3, "expression_ms": expression * 1e3, "model_ms": model * 1e3}


def run_benchmark(model_folder: Path = WEIGHTS_DIR / "video", runs: int = 10) -> dict:
    from avemo.media import probe
    from avemo.face.video import VideoAnalyzer

    analyser = VideoAnalyzer.load(model_folder)
    load_before = os.getloadavg()[0]  # the machine is shared: the figures are read with the load beside them
    with tempfile.TemporaryDirectory() as tmp:
        path = build_clip(Path(tmp))
        info = probe(path)
        analyser.analyse(path, info)  # warm-up: graph tracing, mediapipe start-up
        timed_parts(analyser, path, info)
        parts, totals = [], []
        for _ in range(runs):
            parts.append(timed_parts(analyser, path, info))
            start = time.perf_counter()
            analyser.analyse(path, info)
            totals.append((time.perf_counter() - start) * 1e3)
    result = {key: float(np.median([p[key] for p in parts])) for key in PARTS}
    return {"clip": f"{CLIP_SECONDS:.0f} s {CLIP_SIZE[0]}x{CLIP_SIZE[1]} 25 fps H.264", "runs": runs,
            "frames_decoded": parts[0]["frames_decoded"], "frames_sampled": parts[0]["frames_sampled"],
            **result, "total_ms": float(np.median(totals)), "total_ms_max": float(np.max(totals)),
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--model", type=Path, default=WEIGHTS_DIR / "video")
    args = parser.parse_args(argv)
    result = run_benchmark(args.model, args.runs)
    print(f"clip: {result['clip']}")
    print(f"frames decoded {result['frames_decoded']}, sampled {result['frames_sampled']}")
    for key in (*PARTS, "total_ms"):
        print(f"{key[:-3]:>8}: {result[key]:7.1f} ms (median of {result['runs']} warm runs)")
    print(f"load average (1 min) {result['load_average'][0]:.1f} before, {result['load_average'][1]:.1f} after")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
