"""Timing and memory readings shared by the benchmark's measurements."""

import resource
import statistics
import time
from typing import Any, Callable

import torch


def median_time(run: Callable[[], Any], reps: int, warmup: int = 1) -> float:
    """Median seconds of `run()` over `reps` calls after `warmup` calls."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def alternating(runs: dict[str, Callable[[], Any]], reps: int) -> dict[str, list[float]]:
    """Seconds of each of `runs`, called in turn `reps` times (a, b, a, b): a slowdown of the
    machine while they run (other processes on shared cores) then hits each alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(reps):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def synchronize(device: torch.device) -> None:
    """Wait for the GPU's queued work, so a timer measures it (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory() -> dict[str, float]:
    """Peak RSS of this process and of its (finished) children, and GPU memory, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    gpu = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    return {"rss_mb": own, "children_rss_mb": children, "gpu_mb": gpu}
