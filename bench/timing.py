"""Timing helpers shared by the benchmark scripts."""
from __future__ import annotations

import statistics
import time


def timed(call, runs: int) -> list[float]:
    """Seconds taken by each of `runs` calls (after one untimed warm-up call)."""
    call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def median_ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return f"median {1000 * statistics.median(samples):7.1f} ms   p90 {1000 * p90:7.1f} ms   (n={len(samples)})"
