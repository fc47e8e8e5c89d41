"""Memory over a long search: RSS after each of 200 candidates, with and without worker recycling.

    .venv/bin/python -m benchmarks.memory [--candidates 200] [--out benchmarks/results/memory.json]

Runs the real `python -m flows.search` (Prefect, MLflow, worker processes) in a scratch
directory, twice on the same candidates: once with the default `search.recycle_after` and once
with recycling off (the baseline: one long-lived worker per slot, as Keras Tuner trains in one
process). After every "[k/N]" progress line it samples the resident memory of the search process
and all its descendants: the training workers and Prefect's temporary API server (a child of the
search, started by it; its share is also recorded on its own). A thread samples the same total every
half second for the peak, which a per-candidate sample misses while a recycled pool is replaced.
Reports the growth of the median RSS from candidates 21-40 to the last 20, as a ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import yaml

from benchmarks.overhead import REPO, stage_env

PROGRESS = re.compile(r"\[(\d+)/(\d+)\] candidate")
EARLY_START = 20  # the first window skips the first candidates: imports, first pools, caches filling
WINDOW = 20
PEAK_INTERVAL = 0.5  # seconds between the peak thread's samples
SERVER_MARKERS = ("uvicorn", "prefect.server", "server start")
COUNTED = (
    "the search process and all its descendants: its training workers and Prefect's temporary API server "
    "(a child of the search)"
)


def params(candidates: int, recycle_after: int) -> dict[str, Any]:
    from nas_core.config import NasConfig

    cfg = NasConfig().model_dump(mode="json")
    cfg["data"] |= {"limit": 600}
    cfg["space"] |= {
        "conv_blocks": [0, 1, 2],
        "filters": [4, 8, 16],
        "kernel_size": [3],
        "pooling": ["max", "none"],
        "skip": [False, True],
        "dense_layers": [0, 1, 2],
        "units": [8, 16, 32],
        "activation": ["relu", "tanh", "elu"],
        "dropout": [0.0, 0.25],
        "batch_norm": [False, True],
    }
    cfg["search"] |= {"max_candidates": candidates, "parallelism": 2, "recycle_after": recycle_after, "seed": 1}
    cfg["train"] |= {"epochs": 1, "patience": 1, "batch_size": 64}
    cfg["tracking"] |= {"experiment": f"memory-recycle-{recycle_after}"}
    return cfg


def tree_rss_mb(root: psutil.Process) -> tuple[float, float]:
    """RSS of the search process and all its descendants, and the Prefect API server's share of it.

    The server is counted: it is a child of the search and lives as long as it does.
    """
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:  # the search has just exited
        return 0.0, 0.0
    total = server = 0
    for proc in procs:
        try:
            rss = proc.memory_info().rss
            if any(marker in " ".join(proc.cmdline()) for marker in SERVER_MARKERS):
                server += rss
        except psutil.Error:
            continue
        total += rss
    return total / 2**20, server / 2**20


class PeakSampler:
    """The highest total RSS, sampled every PEAK_INTERVAL s: a pool hand-over can fall between two candidates."""

    def __init__(self, total_mb: Callable[[], float]) -> None:
        self.total_mb = total_mb
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(PEAK_INTERVAL):
            self.peak_mb = max(self.peak_mb, self.total_mb())


def git_commit() -> str:
    """The commit the benchmark measured, for its results file."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def run_search(workdir: Path, candidates: int, recycle_after: int) -> dict[str, Any]:
    """One search; its total and server RSS after each candidate, and the peak total between them."""
    (workdir / "params.yaml").write_text(yaml.safe_dump(params(candidates, recycle_after), sort_keys=False))
    env = os.environ | stage_env(workdir) | {"PYTHONUNBUFFERED": "1"}
    for stage in ("flows.raw", "flows.prepare"):  # the data as `make run` makes it, in the scratch folder
        subprocess.run([sys.executable, "-m", stage], cwd=workdir, env=env, check=True, capture_output=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.search"],
        cwd=workdir,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    root = psutil.Process(proc.pid)
    samples: list[float] = []
    server: list[float] = []
    assert proc.stdout is not None
    with PeakSampler(lambda: tree_rss_mb(root)[0]) as peak:
        for line in proc.stdout:
            match = PROGRESS.search(line)
            if match:
                total, server_mb = tree_rss_mb(root)
                samples.append(round(total, 1))
                server.append(round(server_mb, 1))
                if len(samples) % 20 == 0:
                    done = f"{len(samples)}/{candidates}, {samples[-1]:.0f} MB"
                    print(f"  recycle_after={recycle_after}: {done}", flush=True)
        if proc.wait() != 0:
            raise SystemExit(f"search failed (recycle_after={recycle_after})")
    return {
        "rss_mb_after_each": samples,
        "server_rss_mb_after_each": server,
        "peak_rss_mb": round(max([peak.peak_mb, *samples]), 1),
    }


def window_median(samples: list[float], start: int, size: int = WINDOW) -> float:
    window = sorted(samples[start : start + size])
    return window[len(window) // 2]


def growth(samples: list[float], start: int = EARLY_START, size: int = WINDOW) -> float:
    """Growth of the median RSS over the last `size` candidates against candidates start..start+size.

    Windowed medians, because a sample taken while a recycled worker is being replaced is low
    (the new worker is still importing TensorFlow) or high (old and new both alive).
    """
    return window_median(samples, len(samples) - size, size) / window_median(samples, start, size) - 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/memory.json")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "candidates": args.candidates,
        "command": f"python -m benchmarks.memory --candidates {args.candidates}",
        "commit": git_commit(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "counted": COUNTED,
        "peak_interval_seconds": PEAK_INTERVAL,
        "runs": {},
    }
    for label, recycle in (("recycled every 10 (default)", 10), ("never recycled (baseline)", 10**6)):
        workdir = Path(tempfile.mkdtemp(prefix="nas-memory-"))
        started = time.perf_counter()
        run = run_search(workdir, args.candidates, recycle)
        samples = run["rss_mb_after_each"]
        results["runs"][label] = {
            "recycle_after": recycle,
            **run,
            "median_rss_mb_candidates_20_to_40": window_median(samples, EARLY_START),
            "median_rss_mb_last_20": window_median(samples, len(samples) - WINDOW),
            "growth_after_20": round(growth(samples), 4),
            "wall_seconds": round(time.perf_counter() - started, 1),
        }
        print(
            f"{label}: {samples[19]:.0f} MB at 20 -> {samples[-1]:.0f} MB at {len(samples)}, "
            f"growth {growth(samples):+.1%}, peak {run['peak_rss_mb']:.0f} MB",
            flush=True,
        )
        shutil.rmtree(workdir, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
