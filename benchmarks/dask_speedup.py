"""Two single-threaded Dask workers against one, on the same candidates, measured in the same run.

    .venv/bin/python -m benchmarks.dask_speedup [--candidates 8] [--epochs 4] [--repeats 3]

Each configuration is a real `distributed.LocalCluster` of single-threaded worker processes with
TensorFlow at one intra-op thread (NAS_TF_THREADS=1), training a fixed list of candidates on the
full digits dataset through `nas_core.worker.train_request`: the function the search's Prefect
task calls on a Dask worker. Workers are warmed up (TensorFlow imported, data loaded) before the
clock starts, so the figure is training throughput, not start-up. Repeats alternate 1, 2, 1, 2, ...
so background load hits both sides alike; the speedup is the ratio of the median wall times. Each
run also reports how many cores its workers really got (their CPU seconds over the wall time):
1.0 and 2.0 on a quiet machine, less when other processes take a share of the two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def prepare_digits(out_dir: Path) -> tuple[int, ...]:
    """The full digits dataset (1,797 images), split and scaled as the prepare stage does."""
    from flows.io.datasets import load_dataset
    from nas_core.config import DataConfig
    from nas_core.data import split_and_scale
    from nas_core.prepared import manifest, write_splits

    cfg = DataConfig()
    x, y = load_dataset(cfg, REPO)
    splits = split_and_scale(x, y, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    info = manifest(splits, cfg.source)
    write_splits(splits, info, out_dir)
    return tuple(int(d) for d in info["input_shape"])


def fixed_requests(n: int, data_dir: Path, input_shape: tuple[int, ...], epochs: int) -> list[Any]:
    """`n` distinct feasible architectures from a seeded sampler: the same list for every configuration."""
    from benchmarks.overhead import SMALL_CNN_SPACE, sample_architectures
    from nas_core.space import sample_key
    from nas_core.train_settings import TrainSettings
    from nas_core.worker import TrainRequest

    archs = sample_architectures(n, 0, input_shape, SMALL_CNN_SPACE)
    settings = TrainSettings(epochs=epochs, patience=epochs)  # no early stop: the same work on each side
    return [
        TrainRequest(
            key=sample_key(arch), index=i, architecture=arch, data_dir=str(data_dir), settings=settings, seed=i
        )
        for i, arch in enumerate(archs)
    ]


def warm_up(data_dir: str) -> int:
    """On each worker: import TensorFlow, configure its threads and read the data, before timing."""
    from nas_core import worker

    worker._configure_from_env()
    worker._load_arrays(data_dir)
    return os.getpid()


def cpu_seconds() -> float:
    """On a worker: the CPU time its process has used so far."""
    import psutil

    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


def timed_run(workers: int, requests: list[Any]) -> tuple[float, float, int]:
    """Wall seconds and the workers' CPU seconds to train every request on `workers` single-threaded workers.

    CPU seconds / wall seconds is how many cores the workers really got: on a quiet machine 1.0
    and 2.0, less when other processes compete for the cores.
    """
    from distributed import Client, LocalCluster

    from nas_core.worker import TF_THREADS_ENV, train_request

    cluster_kwargs: dict[str, Any] = {
        "n_workers": workers,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": None,
        "env": {TF_THREADS_ENV: "1"},
    }
    with LocalCluster(**cluster_kwargs) as cluster, Client(cluster) as client:
        client.run(warm_up, requests[0].data_dir)
        cpu_before = sum(client.run(cpu_seconds).values())
        started = time.perf_counter()
        results = client.gather(client.map(train_request, requests, pure=False))
        wall = time.perf_counter() - started
        cpu = sum(client.run(cpu_seconds).values()) - cpu_before
    return wall, cpu, sum(1 for r in results if r.ok)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/dask_speedup.json")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="nas-dask-bench-")) / "prepared"
    input_shape = prepare_digits(data_dir)
    requests = fixed_requests(args.candidates, data_dir, input_shape, args.epochs)
    load_before = os.getloadavg()
    walls: dict[int, list[float]] = {1: [], 2: []}
    cores_used: dict[int, list[float]] = {1: [], 2: []}
    for repeat in range(args.repeats):
        for workers in (1, 2):
            wall, cpu, ok = timed_run(workers, requests)
            walls[workers].append(round(wall, 2))
            cores_used[workers].append(round(cpu / wall, 2))
            print(
                f"repeat {repeat + 1}: {workers} worker(s): {wall:.1f}s wall, {cpu / wall:.2f} cores used, "
                f"{ok}/{len(requests)} completed",
                flush=True,
            )
    one, two = statistics.median(walls[1]), statistics.median(walls[2])
    report = {
        "candidates": args.candidates,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "wall_seconds_1_worker": walls[1],
        "wall_seconds_2_workers": walls[2],
        "median_1_worker": one,
        "median_2_workers": two,
        "speedup": round(one / two, 2),
        "cores_used_1_worker": cores_used[1],
        "cores_used_2_workers": cores_used[2],
        "cores": os.cpu_count(),
        "load_average_before": [round(v, 1) for v in load_before],
        "load_average_after": [round(v, 1) for v in os.getloadavg()],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
