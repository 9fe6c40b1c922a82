"""How fast the app answers and how much memory it holds: cold start, click-to-result, RSS over many requests.

    python -m bench.app_latency [--runs 10] [--mixed 50] [--offline]

Starts `python app.py` on a free port and times until the page answers (cold start: the models load at
start-up); its resident memory then is the idle RSS. Then through gradio_client, with a 4 s 1280x720 clip with
speech (a RAVDESS face still + a RAVDESS speech clip): `--runs` warm calls of the API endpoint /predict and of
the page's endpoint /analyse_video (what the "Analyse" button runs: charts and face-mesh frames included), each
after one warm-up call; then `--mixed` sequential requests that cycle through /predict, /analyse_video and
/analyse_voice on that clip, a 2 s webcam-like WebM, a 3 s RAVDESS take and a 7 s SAVEE sentence (RSS
before and after: growth); then `--bursts` bursts of `--concurrency` requests sent at once (8 visitors clicking
together), sampling the server's memory every 0.2 s meanwhile.
Targets (#28): first page <= 8 s, RSS <= 800 MB idle, growth <= 10% over 50 mixed requests, <= 1.5 GB under
bursts of 8, click-to-result <= 1.1 s.
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


def mixed_requests(client, clips: list, count: int) -> list[float]:
    """`count` sequential requests cycling through the clips, each to /predict and to its tab's button (the voice
    tab for a sound file, the video tab for a video). Returns each request's seconds."""
    from gradio_client import handle_file

    calls = [(clip, endpoint) for clip in clips
             for endpoint in ("/predict", "/analyse_voice" if clip.suffix in (".flac", ".wav") else "/analyse_video")]
    seconds = []
    for i in range(count):
        clip, endpoint = calls[i % len(calls)]
        started = time.monotonic()
        client.predict(handle_file(str(clip)), api_name=endpoint)
        seconds.append(time.monotonic() - started)
    return seconds


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
    parser.add_argument("--mixed", type=int, default=50, help="sequential mixed requests measured for memory growth")
    parser.add_argument("--offline", action="store_true", help="AVEMO_OFFLINE=1: skip the Hub at start-up")
    parser.add_argument("--concurrency", type=int, default=8, help="requests sent at once in each burst")
    parser.add_argument("--bursts", type=int, default=3)
    args = parser.parse_args()

    from gradio_client import Client, handle_file

    from tests.clips import savee_clip, streamed_webm

    with tempfile.TemporaryDirectory() as tmp:
        clip = still_video(Path(tmp) / "bench-720p.mp4", face_still(1), ravdess_clip(actor=1, emotion=5),
                           seconds=4, size=(1280, 720))
        webm = streamed_webm(Path(tmp) / "webcam.webm", face_still(2), ravdess_clip(actor=2, emotion=3))
        mixed = [clip, webm, ravdess_clip(actor=3, emotion=4), savee_clip("JE_sa14")]
        port = free_port()
        process, cold = start_app(port, args.offline, Path(tmp) / "app.log")
        try:
            time.sleep(2)  # settled: what the page's first load and the queue's workers hold
            idle, _ = rss_mb(process.pid)
            client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=False)
            result = client.predict(handle_file(str(clip)), api_name="/predict")
            api = timed(lambda: client.predict(handle_file(str(clip)), api_name="/predict"), args.runs)
            page = timed(lambda: client.predict(handle_file(str(clip)), api_name="/analyse_video"), args.runs)
            before, _ = rss_mb(process.pid)
            mixed_seconds = mixed_requests(client, mixed, args.mixed)
            after, peak = rss_mb(process.pid)
            burst_peak, slowest = concurrent_bursts(f"http://127.0.0.1:{port}/", clip, process.pid,
                                                    args.concurrency, args.bursts)
            time.sleep(2)
            after_bursts, _ = rss_mb(process.pid)
            origin = next((line.split("model weights: ", 1)[1] for line in
                           (Path(tmp) / "app.log").read_text().splitlines() if "model weights: " in line), "?")
        finally:
            process.terminate()
            process.wait(timeout=30)

    print(f"clip: 4 s, 1280x720, H.264 + AAC speech; {args.runs} warm runs each; models: {origin}")
    print(f"analysed: audio={'yes' if result['audio'] else 'no'} video={'yes' if result['video'] else 'no'} "
          f"fused={result['fused']['label'] if result['fused'] else None}; unavailable={result['unavailable']}")
    print(f"cold start (process start -> page answers): {cold:.1f} s   (target <= 8 s)")
    print(f"idle RSS after start: {idle:.0f} MB   (target <= 800 MB)")
    print(f"warm API /predict: median {statistics.median(api):.2f} s, min {min(api):.2f}, max {max(api):.2f}")
    print(f"click-to-result, page 'Analyse' (/analyse_video, charts + face-mesh frames): median "
          f"{statistics.median(page):.2f} s, min {min(page):.2f}, max {max(page):.2f}   (target <= 1.1 s)")
    print(f"{args.mixed} mixed sequential requests ({statistics.median(mixed_seconds):.2f} s median): RSS "
          f"{before:.0f} -> {after:.0f} MB, growth {100 * (after / before - 1):+.1f}%   (target <= 10%); "
          f"peak so far {peak:.0f} MB")
    print(f"under {args.bursts} bursts of {args.concurrency} concurrent /predict requests: peak RSS "
          f"{burst_peak:.0f} MB (target <= 1500 MB), {after_bursts:.0f} MB after them; slowest request "
          f"{slowest:.1f} s (they queue: two analyses run at a time)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores)")


if __name__ == "__main__":
    main()
