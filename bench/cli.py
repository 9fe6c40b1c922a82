"""How long `avemo predict` takes for one file, whole process, and its peak memory; beside `import tensorflow`.

    python -m bench.cli [--runs 5] [--hub]

Each run is a fresh process, as a user's command is: `avemo predict` on a 3 s RAVDESS take (cut to 3.0 s) and on
a 4 s 1280x720 video with speech (a RAVDESS face still and take), and `python -c "import tensorflow"` where
TensorFlow is installed (training's requirements), interleaved so that each sees the same load. Prints the
median and range of each, its peak resident memory (the child's ru_maxrss), and the ratio of the audio run to
the TensorFlow import. The models come from the bundled weights/ (AVEMO_OFFLINE=1) unless `--hub`: this
machine cannot reach the Hub, and asking costs a few seconds before the bundled weights are used.
Targets (#28): audio <= 4 s median and <= 0.6 x import tensorflow, peak <= 700 MB; video <= 6 s.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.clips import face_still, ravdess_clip, run_ffmpeg, still_video  # noqa: E402


def run(command: list[str], env: dict) -> tuple[float, float]:
    """(seconds, peak resident MB) of one child process; raises if it fails."""
    started = time.monotonic()
    child = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{child.stderr.read().decode()[-2000:]}")
    child.stderr.close()
    return seconds, usage.ru_maxrss / 1024


def summary(name: str, samples: list[tuple[float, float]]) -> str:
    seconds = [s for s, _ in samples]
    return (f"{name}: median {statistics.median(seconds):.2f} s (min {min(seconds):.2f}, max {max(seconds):.2f}); "
            f"peak memory {max(m for _, m in samples):.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--hub", action="store_true", help="let the CLI ask the Hub first, as by default")
    args = parser.parse_args()
    env = {**os.environ} if args.hub else {**os.environ, "AVEMO_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "take-3s.wav"
        run_ffmpeg("-i", str(ravdess_clip(actor=1, emotion=5)), "-t", "3.0", str(audio))
        video = still_video(Path(tmp) / "face-4s.mp4", face_still(1), ravdess_clip(actor=1, emotion=5), seconds=4,
                            size=(1280, 720))
        commands = {"avemo predict, 3 s audio": [sys.executable, "-m", "avemo", "predict", str(audio)],
                    "avemo predict, 4 s video": [sys.executable, "-m", "avemo", "predict", str(video)]}
        if importlib.util.find_spec("tensorflow") is not None:
            commands["python -c 'import tensorflow'"] = [sys.executable, "-c", "import tensorflow"]
        samples: dict[str, list] = {name: [] for name in commands}
        for name, command in commands.items():  # one untimed run each: files in the page cache
            run(command, env)
        for _ in range(args.runs):
            for name, command in commands.items():
                samples[name].append(run(command, env))
    print(f"{args.runs} runs each, {'Hub asked first' if args.hub else 'AVEMO_OFFLINE=1 (bundled weights)'}; "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    for name, runs in samples.items():
        print(summary(name, runs))
    tf = samples.get("python -c 'import tensorflow'")
    if tf:
        ratio = statistics.median(s for s, _ in samples["avemo predict, 3 s audio"]) / statistics.median(s for s, _ in tf)
        print(f"audio predict / import tensorflow: {ratio:.2f}   (target <= 0.6)")


if __name__ == "__main__":
    main()
