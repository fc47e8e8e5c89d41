"""What getting a 60,000-image MNIST to the Dask workers costs, each way a search could do it.

    .venv/bin/python -m benchmarks.dask_data [--repeats 3] [--out benchmarks/results/dask_data.json]

Train and val with MNIST's shapes and dtype as the prepare stage writes them (54,000 + 6,000 images,
28x28x1 float32: 188 MB; the pixel values do not change what moving them costs), on a scheduler and
2 workers started as separate processes on this machine (loopback, so no network limit). Each way
is timed until both workers hold the data, on a fresh cluster per repeat:
- `plugin` (what the search does, flows/runtime/dask_workers.py): the .npz bytes in a worker
  plugin, written to each worker's local directory; also timed again for a worker that restarts
  (a recycle), and the scheduler's memory growth, since it keeps the copy for workers to come;
- `scatter`: Dask's `scatter(..., broadcast=True)` of the arrays to every worker's memory;
- `shared disk`: each worker reads the .npz files from a folder they all see (the old way; the
  files are in the page cache, so this is the floor of a fetch from any store).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from distributed import Client

from benchmarks.dask_memory import cluster
from benchmarks.memory import git_commit
from benchmarks.overhead import REPO
from flows.runtime.dask_workers import DATA_PLUGIN, install_on_workers

SHAPES = {"train": 54_000, "val": 6_000}  # MNIST's 60,000 training images, split 90/10 as prepare does


def write_mnist_shaped(folder: Path) -> str:
    """train.npz and val.npz of MNIST's shapes (random pixels); a stand-in content hash."""
    rng = np.random.default_rng(0)
    for split, n in SHAPES.items():
        x = rng.integers(0, 256, size=(n, 28, 28, 1), dtype=np.uint8).astype(np.float32) / 255.0
        np.savez(folder / f"{split}.npz", x=x, y=rng.integers(0, 10, size=n))
    return "mnist-shaped"


def load_both(folder: str) -> int:
    with np.load(f"{folder}/train.npz") as train, np.load(f"{folder}/val.npz") as val:
        return int(train["x"].nbytes + val["x"].nbytes)


def plugin_folder(content_hash: str, dask_worker: Any) -> bool:
    plugin = dask_worker.plugins.get(DATA_PLUGIN + content_hash)
    return plugin is not None and plugin.folder is not None


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def one_repeat(folder: Path, content_hash: str) -> dict[str, float]:
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch, cluster(Path(scratch)) as (address, roots):
        with Client(address) as client:
            client.wait_for_workers(2, timeout=120)
            scheduler = roots[0]
            before = scheduler.memory_info().rss
            started = time.perf_counter()
            with install_on_workers(client, folder, content_hash, recycle_after=10**6):
                times["plugin"] = time.perf_counter() - started  # both workers have written the files
                times["scheduler_mb"] = (scheduler.memory_info().rss - before) / 2**20
                worker = next(iter(client.scheduler_info()["workers"]))
                started = time.perf_counter()
                client.restart_workers([worker])
                client.wait_for_workers(2, timeout=120)
                while not all(client.run(plugin_folder, content_hash).values()):
                    time.sleep(0.05)
                times["plugin_restarted_worker"] = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as scratch, cluster(Path(scratch)) as (address, _):
        with Client(address) as client:
            client.wait_for_workers(2, timeout=120)
            arrays = {split: np.load(folder / f"{split}.npz")["x"] for split in SHAPES}
            times["scatter"] = timed(lambda: client.scatter(arrays, broadcast=True))
            times["shared_disk"] = timed(lambda: client.run(load_both, str(folder)))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/dask_data.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        folder = Path(data)
        content_hash = write_mnist_shaped(folder)
        megabytes = sum(f.stat().st_size for f in folder.glob("*.npz")) / 2**20
        repeats = []
        for i in range(args.repeats):
            repeats.append(one_repeat(folder, content_hash))
            print(f"repeat {i + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in repeats[-1].items()), flush=True)
    results = {
        "command": f"python -m benchmarks.dask_data --repeats {args.repeats}",
        "commit": git_commit(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "data_mb": round(megabytes, 1),
        "workers": 2,
        "cores": psutil.cpu_count(),
        "repeats": repeats,
        "median": {key: round(statistics.median(r[key] for r in repeats), 3) for key in repeats[0]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
