"""Memory of a 2-worker Dask cluster over a long search, with and without recycling the workers.

    .venv/bin/python -m benchmarks.dask_memory [--candidates 200] [--out benchmarks/results/dask_memory.json]

Starts `dask scheduler` and `dask worker --nworkers 2 --nthreads 1` as separate processes (TF with
one thread per worker: 2 cores), then runs the real `python -m flows.search` on them with
`search.executor: dask`, on the same candidates as benchmarks/memory.py (the thread executor's
run). Twice: with the default `search.recycle_after` (10), then with recycling off (the baseline).
After every "[k/N]" progress line it samples the resident memory of the Dask workers (the
processes that train) and of everything (workers, their nannies, the scheduler, the search and
its Prefect API server); a thread samples the total every half second for the peak.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import yaml

from benchmarks.memory import EARLY_START, PROGRESS, WINDOW, PeakSampler, git_commit, growth, params, window_median
from benchmarks.overhead import REPO, stage_env
from flows.runtime.model_server import stop
from flows.runtime.prefect_server import free_port

DASK = str(Path(sys.executable).with_name("dask"))
COUNTED = (
    "workers: the 2 Dask worker processes, which train; total: those, their nannies and the `dask worker` "
    "command, the scheduler, and the search process with its Prefect API server"
)


@contextmanager
def cluster(scratch: Path) -> Iterator[tuple[str, list[psutil.Process]]]:
    """A scheduler and 2 single-threaded workers as OS processes; their address, and the roots to measure."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = os.environ | {"NAS_TF_THREADS": "1"}
    log = (scratch / "cluster.log").open("ab")
    scheduler = subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        cwd=scratch,
        stderr=log,
    )
    workers = subprocess.Popen(
        [DASK, "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
        cwd=scratch,
        env=env,
        stderr=log,
    )
    try:
        yield address, [psutil.Process(scheduler.pid), psutil.Process(workers.pid)]
    finally:
        for process in (workers, scheduler):
            stop(process, timeout=60)
        log.close()


def rss_mb(roots: list[psutil.Process]) -> tuple[float, float]:
    """Total RSS of `roots` and all their descendants, and the Dask worker processes' share of it."""
    total = workers = 0
    for root in roots:
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for proc in procs:
            try:
                rss = proc.memory_info().rss
                if "spawn_main" in " ".join(proc.cmdline()):  # a nanny's worker process
                    workers += rss
            except psutil.Error:
                continue
            total += rss
    return total / 2**20, workers / 2**20


def run_search(candidates: int, recycle_after: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="nas-dask-memory-"))
    try:
        with cluster(work) as (address, roots):
            cfg = params(candidates, recycle_after)
            cfg["search"] |= {"executor": "dask", "dask_address": address}
            (work / "params.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
            env = os.environ | stage_env(work) | {"PYTHONUNBUFFERED": "1"}
            for stage in ("flows.raw", "flows.prepare"):
                subprocess.run([sys.executable, "-m", stage], cwd=work, env=env, check=True, capture_output=True)
            started = time.perf_counter()
            search = subprocess.Popen(
                [sys.executable, "-m", "flows.search"],
                cwd=work,
                env=env,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            measured = [*roots, psutil.Process(search.pid)]
            totals: list[float] = []
            workers: list[float] = []
            assert search.stdout is not None
            with PeakSampler(lambda: rss_mb(measured)[0]) as peak:
                for line in search.stdout:
                    if PROGRESS.search(line):
                        total, worker = rss_mb(measured)
                        totals.append(round(total, 1))
                        workers.append(round(worker, 1))
                        if len(totals) % 20 == 0:
                            print(f"  recycle_after={recycle_after}: {len(totals)}/{candidates}", flush=True)
                if search.wait() != 0:
                    raise SystemExit(f"search failed (recycle_after={recycle_after}); see {work}")
            wall = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "recycle_after": recycle_after,
        "rss_mb_after_each": totals,
        "worker_rss_mb_after_each": workers,
        "peak_rss_mb": round(max([peak.peak_mb, *totals]), 1),
        "median_worker_rss_mb_candidates_20_to_40": window_median(workers, EARLY_START),
        "median_worker_rss_mb_last_20": window_median(workers, len(workers) - WINDOW),
        "worker_growth_after_20": round(growth(workers), 4),
        "median_rss_mb_candidates_20_to_40": window_median(totals, EARLY_START),
        "median_rss_mb_last_20": window_median(totals, len(totals) - WINDOW),
        "growth_after_20": round(growth(totals), 4),
        "wall_seconds": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/dask_memory.json")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "candidates": args.candidates,
        "command": f"python -m benchmarks.dask_memory --candidates {args.candidates}",
        "commit": git_commit(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "counted": COUNTED,
        "runs": {},
    }
    for label, recycle in (("recycled every 10 (default)", 10), ("never recycled (baseline)", 10**6)):
        run = run_search(args.candidates, recycle)
        results["runs"][label] = run
        print(
            f"{label}: workers {run['median_worker_rss_mb_candidates_20_to_40']:.0f} -> "
            f"{run['median_worker_rss_mb_last_20']:.0f} MB ({run['worker_growth_after_20']:+.1%}), "
            f"total peak {run['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
