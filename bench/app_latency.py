"""How fast the app answers: cold start, warm click-to-result latency, and the server's memory.

    python -m bench.app_latency [--runs 10] [--offline]

Starts `python app.py` on a free port, times until the page answers (cold start: the models load
at start-up), then sends a 4 s 1280x720 clip with speech (a RAVDESS face still + a RAVDESS speech
clip) through gradio_client: `--runs` warm calls of the API endpoint /predict and of the page's
endpoint /analyse_video (what the "Analyse" button runs: charts and face-mesh frames included),
each after one warm-up call; then `--bursts` bursts of `--concurrency` requests sent at once (8 visitors
clicking together), sampling the server's memory every 0.2 s meanwhile. Prints the medians and the
server's resident memory: after the sequential runs, and its peak under the concurrent bursts.
Targets: warm <= 1.5 s, cold start <= 20 s, RSS <= 2.5 GB under 8 concurrent requests.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.timing import timed  # noqa: E402
from tests.clips import face_still, ravdess_clip, still_video  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of a process in MB, from /proc (Linux)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def concurrent_bursts(url: str, clip: Path, pid: int, concurrency: int, bursts: int) -> tuple[float, float]:
    """Peak RSS (MB, sampled every 0.2 s) and the slowest request (s) over `bursts` bursts of `concurrency`
    requests sent at once to /predict, each from its own client."""
    from gradio_client import Client, handle_file

    samples, done = [], threading.Event()

    def sample():
        while not done.is_set():
            samples.append(rss_mb(pid)[0])
            time.sleep(0.2)

    def one_request(_):
        started = time.monotonic()
        Client(url, verbose=False, download_files=False).predict(handle_file(str(clip)), api_name="/predict")
        return time.monotonic() - started

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    slowest = 0.0
    try:
        with ThreadPoolExecutor(concurrency) as pool:
            for _ in range(bursts):
                slowest = max(slowest, *pool.map(one_request, range(concurrency)))
    finally:
        done.set()
        sampler.join()
    return max(samples), slowest


def start_app(port: int, offline: bool, log: Path) -> tuple[subprocess.Popen, float]:
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_ANALYTICS_ENABLED": "False"}
    if offline:
        env["AVEMO_OFFLINE"] = "1"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=REPO_ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    while True:
        if process.poll() is not None:
            raise SystemExit(f"the app exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                return process, time.monotonic() - started
        except OSError:
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--offline", action="store_true", help="AVEMO_OFFLINE=1: skip the Hub at start-up")
    parser.add_argument("--concurrency", type=int, default=8, help="requests sent at once in each burst")
    parser.add_argument("--bursts", type=int, default=3)
    args = parser.parse_args()

    from gradio_client import Client, handle_file

    with tempfile.TemporaryDirectory() as tmp:
        clip = still_video(Path(tmp) / "bench-720p.mp4", face_still(1), ravdess_clip(actor=1, emotion=5),
                           seconds=4, size=(1280, 720))
        port = free_port()
        process, cold = start_app(port, args.offline, Path(tmp) / "app.log")
        try:
            client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=False)
            result = client.predict(handle_file(str(clip)), api_name="/predict")
            api = timed(lambda: client.predict(handle_file(str(clip)), api_name="/predict"), args.runs)
            page = timed(lambda: client.predict(handle_file(str(clip)), api_name="/analyse_video"), args.runs)
            now, peak = rss_mb(process.pid)
            burst_peak, slowest = concurrent_bursts(f"http://127.0.0.1:{port}/", clip, process.pid,
                                                    args.concurrency, args.bursts)
            origin = next((line.split("model weights: ", 1)[1] for line in
                           (Path(tmp) / "app.log").read_text().splitlines() if "model weights: " in line), "?")
        finally:
            process.terminate()
            process.wait(timeout=30)

    print(f"clip: 4 s, 1280x720, H.264 + AAC speech; {args.runs} warm runs each; models: {origin}")
    print(f"analysed: audio={'yes' if result['audio'] else 'no'} video={'yes' if result['video'] else 'no'} "
          f"fused={result['fused']['label'] if result['fused'] else None}; unavailable={result['unavailable']}")
    print(f"cold start (process start -> page answers): {cold:.1f} s   (target <= 20 s)")
    print(f"warm API /predict: median {statistics.median(api):.2f} s, min {min(api):.2f}, max {max(api):.2f}"
          "   (target <= 1.5 s)")
    print(f"warm page 'Analyse' (/analyse_video, charts + face-mesh frames): median {statistics.median(page):.2f} s,"
          f" min {min(page):.2f}, max {max(page):.2f}")
    print(f"server memory after the sequential runs: RSS {now / 1024:.2f} GB, peak {peak / 1024:.2f} GB")
    print(f"under {args.bursts} bursts of {args.concurrency} concurrent /predict requests: peak RSS "
          f"{burst_peak / 1024:.2f} GB (target <= 2.5 GB); slowest request {slowest:.1f} s (they queue: "
          "two analyses run at a time)")


if __name__ == "__main__":
    main()
