"""Parallelism 2 against 1 on the same candidates, through the real search command, in one run.

    .venv/bin/python -m benchmarks.parallel_speedup --candidates 12 --epochs 10 --repeats 3
    .venv/bin/python -m benchmarks.parallel_speedup --candidates 12 --epochs 10 --repeats 3 --executor dask

Same architectures, seeds and epochs on both sides (the `fixed` strategy). With parallelism 1
one worker trains with TensorFlow's threads over both cores; with parallelism 2 two workers
train side by side with one thread each (search.parallelism sets this). The limit is 2.0.
With `--executor dask` the same search runs its candidates through Prefect's DaskTaskRunner on
the local Dask cluster the flow starts: 1 worker process with TensorFlow on both cores, or 2
with one thread each (results in dask_speedup.json). `--tf-threads 1` gives every worker one
TensorFlow thread on both sides (NAS_TF_THREADS), as when each added worker brings its own
cores: the scaling of a cluster rather than of one machine (dask_speedup_equal_threads.json).
Workers are recycled as a user's are (the default `search.recycle_after`); one untimed run of
each side comes first, then the order alternates.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

from benchmarks.overhead import (
    REPO,
    SMALL_CNN_SPACE,
    git_commit,
    params_for,
    prepare_data,
    sample_architectures,
    timed,
)
from nas_core.config import SearchConfig
from nas_core.worker import TF_THREADS_ENV


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--candidates", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--executor", default="threads", choices=["threads", "dask"])
    parser.add_argument("--tf-threads", type=int, default=None, help="TensorFlow threads of every worker, both sides")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    name = "parallel_speedup" if args.executor == "threads" else "dask_speedup"
    if args.tf_threads is not None:
        name += "_equal_threads"
        os.environ[TF_THREADS_ENV] = str(args.tf_threads)  # the searches inherit it, and hand it to their workers
    out = args.out or REPO / f"benchmarks/results/{name}.json"

    work = Path(tempfile.mkdtemp(prefix="nas-parallel-"))
    space_cfg = SMALL_CNN_SPACE
    manifest = prepare_data(work, params_for(args, [], space_cfg))
    archs = sample_architectures(args.candidates, 0, tuple(manifest["input_shape"]), space_cfg)

    def search_at(parallelism: int) -> float:
        cfg = params_for(args, archs, space_cfg)
        cfg["search"] |= {"parallelism": parallelism, "executor": args.executor}
        (work / "params.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        (work / "mlflow.db").unlink(missing_ok=True)  # both sides pay for a new store
        return timed([sys.executable, "-m", "flows.search"], work)

    for parallelism in (1, 2):  # untimed warm-up of each side: disk cache and bytecode
        search_at(parallelism)
    seconds: dict[int, list[float]] = {1: [], 2: []}
    for repeat in range(args.repeats):
        # The order alternates so that a slow drift of the shared machine does not land on one side.
        for parallelism in (1, 2) if repeat % 2 == 0 else (2, 1):
            seconds[parallelism].append(search_at(parallelism))
        print(f"repeat {repeat + 1}: p1 {seconds[1][-1]:.1f}s, p2 {seconds[2][-1]:.1f}s", flush=True)
    result = {
        "command": "python -m benchmarks.parallel_speedup " + " ".join(sys.argv[1:]),
        "commit": git_commit(),
        "recycle_after": SearchConfig().recycle_after,
        "executor": args.executor,
        "tf_threads_per_worker": args.tf_threads,
        "dataset": args.dataset,
        "candidates": len(archs),
        "epochs": args.epochs,
        "repeats": args.repeats,
        "seconds_parallelism_1": seconds[1],
        "seconds_parallelism_2": seconds[2],
        "speedup_median": round(statistics.median(seconds[1]) / statistics.median(seconds[2]), 3),
        "speedup_per_repeat": [round(a / b, 3) for a, b in zip(seconds[1], seconds[2], strict=True)],
        "limit": 2.0,
    }
    print(json.dumps(result, indent=2))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
