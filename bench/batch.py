"""Benchmark of batch analysis (avemo.batch): prints figures, asserts nothing.

    python -m bench.batch [--clips 8] [--videos 2] [--workers 1,2] [--actors 2] [--no-ray]

Builds a temporary folder of real clips (RAVDESS and SAVEE speech, and RAVDESS face stills muxed with
RAVDESS speech into mp4s, as tests/clips.py does), then runs it through worker pools of each size and
through the Ray engine, the audio-only clips and the audio-video ones on their own. For each: start-up
(until every worker has its first result), clips/s from then on, and per worker process its peak resident
memory (VmHWM) and its proportional share (PSS: shared code pages split between the processes).
The "1 worker" row is a pool of one process, so that its memory is a worker's alone.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("AVEMO_OFFLINE", "1")


# -- memory of the processes below this one (/proc) -------------------------------------------------
def _children() -> dict[int, int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    return parents


def _descendants(root: int) -> list[int]:
    parents = _children()
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        kids = [p for p, parent in parents.items() if parent == pid]
        found += kids
        frontier += kids
    return found


def _kib(path: str, field: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemorySampler:
    """Peak RSS (the kernel's VmHWM) and the highest PSS seen, per descendant process, every 0.3 s."""

    def __init__(self):
        self.peak: dict[int, dict] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for pid in _descendants(os.getpid()):
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                row = self.peak.setdefault(pid, {"command": command, "hwm": 0, "pss": 0})
                row["command"] = command or row["command"]
                row["hwm"] = max(row["hwm"], _kib(f"/proc/{pid}/status", "VmHWM"))
                row["pss"] = max(row["pss"], _kib(f"/proc/{pid}/smaps_rollup", "Pss"))
            self._stop.wait(0.3)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()

    def workers(self, marker: str) -> list[dict]:
        return [row for row in self.peak.values() if marker in row["command"] and row["hwm"] > 100 * 1024]

    def others(self, marker: str) -> int:
        """Peak RSS summed over the other processes (for Ray: its GCS, raylet, agents), in KiB."""
        return sum(row["hwm"] for row in self.peak.values() if marker not in row["command"])


# -- the clips --------------------------------------------------------------------------------------------
def build_folder(folder: Path, n_audio: int, n_video: int) -> tuple[list[Path], list[Path]]:
    from tests import clips

    sources = ([clips.ravdess_clip(actor=a, emotion=e) for a in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
                for e in (3, 4, 5, 6)] + [clips.savee_clip(f"{s}_{c}") for s in ("DC", "JE", "JK", "KL")
                                          for c in ("a01", "h02", "sa03", "su04")])
    order = sources[::2] + sources[1::2]  # alternate corpora and speakers
    audio = []
    for source in order[:n_audio]:
        audio.append(Path(shutil.copy(source, folder / source.name)))
    videos = [clips.still_video(folder / f"face-{actor:02d}.mp4", clips.face_still(actor),
                                clips.ravdess_clip(actor=actor, emotion=5))
              for actor in (1, 2, 3, 4, 5, 6, 7, 8)[:n_video]]
    return audio, videos


def measure(results, n_workers: int) -> tuple[float, float, int, int]:
    """Start-up (until the n-th result: every worker going), clips/s after it, clips, errors."""
    started = time.perf_counter()
    stamps, errors = [], 0
    for _, result in results:
        stamps.append(time.perf_counter() - started)
        errors += result["error"] is not None
    k = min(n_workers, len(stamps) - 1)
    startup = stamps[k - 1] if k > 0 else stamps[0]
    # Fewer clips than two per worker after the start-up time nothing: Ray hands out results in bursts.
    timed = len(stamps) - k
    rate = timed / (stamps[-1] - startup) if stamps[-1] > startup and timed >= 2 * n_workers else float("nan")
    return startup, rate, len(stamps), errors


def report(label: str, kind: str, figures, workers: list[dict]) -> None:
    startup, rate, count, errors = figures
    hwm = ", ".join(f"{w['hwm'] / 1024:.0f}" for w in workers) or "?"
    pss = ", ".join(f"{w['pss'] / 1024:.0f}" for w in workers) or "?"
    print(f"{label:<16} {kind:<12} {rate:6.2f} clips/s   start-up {startup:5.1f} s   {count} clips, {errors} errors   "
          f"per worker: peak RSS {hwm} MB, PSS {pss} MB")


def main() -> None:
    from avemo import batch
    from avemo.backend import filter_native_logs

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=12, help="audio-only clips (RAVDESS and SAVEE)")
    parser.add_argument("--videos", type=int, default=6, help="audio-video mp4s (a face still + speech)")
    parser.add_argument("--workers", default="1,2", help="pool sizes to measure, comma-separated")
    parser.add_argument("--actors", type=int, default=2, help="Ray actors")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray engine")
    args = parser.parse_args()
    filter_native_logs()  # the workers' native notices stay off the figures

    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0))
    total, available = _kib("/proc/meminfo", "MemTotal"), _kib("/proc/meminfo", "MemAvailable")
    load = os.getloadavg()
    print(f"machine: {cores} cores ({usable} usable), {total / 2**20:.1f} GiB memory "
          f"({available / 2**20:.1f} GiB available), load average {load[0]:.1f} before the runs")

    folder = Path(tempfile.mkdtemp(prefix="avemo-bench-batch-"))
    try:
        audio, videos = build_folder(folder, args.clips, args.videos)
        print(f"clips: {len(audio)} audio-only (RAVDESS/SAVEE, 3-4 s), {len(videos)} audio-video mp4s "
              f"(a 398x224 face still at 25 fps + RAVDESS speech, 3-4 s); each set run on its own, models "
              "loaded anew each time (start-up); clips/s counted once every worker has its first result")
        sets = [("audio-only", audio), ("audio-video", videos)]
        peak_pss = 0
        for n in [int(w) for w in args.workers.split(",")]:
            for kind, paths in sets:
                with MemorySampler() as sampler:
                    figures = measure(batch.iter_parallel(paths, n), n)
                workers = sampler.workers("multiprocessing")
                peak_pss = max([peak_pss, *(w["pss"] for w in workers)])
                report(f"{n} worker(s)", kind, figures, workers)
        if not args.no_ray:
            try:
                ray = batch.import_ray()
            except batch.BatchError as error:
                print(f"ray: skipped ({error})")
            else:
                for kind, paths in sets:
                    with MemorySampler() as sampler:  # iter_ray starts a local instance (all cores) and its actors
                        try:
                            figures = measure(batch.iter_ray(paths, num_actors=args.actors), args.actors)
                        finally:
                            ray.shutdown()
                    report(f"ray, {args.actors} actors", kind, figures, sampler.workers("MapWorker"))
                print(f"{'':<16} Ray's own processes (GCS, raylet, agents, idle workers): peak RSS "
                      f"{sampler.others('MapWorker') / 1024:.0f} MB in all (start-up includes starting Ray)")
        if peak_pss:
            print(f"memory: a worker's PSS is at most {peak_pss / 1024:.0f} MB, so about {int(available / peak_pss)} "
                  f"fit in the {available / 2**20:.1f} GiB available; the {usable} cores run {usable} at a time")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
