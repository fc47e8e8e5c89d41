"""Parallelism 2 against 1 on the same candidates, through the real search command, in one run.

    .venv/bin/python -m benchmarks.parallel_speedup --candidates 12 --epochs 10 --repeats 2

Same architectures, seeds and epochs on both sides (the `fixed` strategy). With parallelism 1
one worker trains with TensorFlow's threads over both cores; with parallelism 2 two workers
train side by side with one thread each (search.parallelism sets this). The limit is 2.0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from benchmarks.overhead import REPO, SMALL_CNN_SPACE, params_for, sample_architectures, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--candidates", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/parallel_speedup.json")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="nas-parallel-"))
    shutil.copytree(REPO / "data" / "raw", work / "data" / "raw")
    space_cfg = SMALL_CNN_SPACE
    base = params_for(args, [], space_cfg)
    (work / "params.yaml").write_text(yaml.safe_dump(base | {"search": {}}))
    subprocess.run(
        [sys.executable, "-m", "flows.prepare"],
        cwd=work,
        check=True,
        capture_output=True,
        env=os.environ | {"PREFECT_HOME": str(work / ".prefect")},
    )
    manifest = json.loads((work / "data/prepared/manifest.json").read_text())
    archs = sample_architectures(args.candidates, 0, tuple(manifest["input_shape"]), space_cfg)

    seconds: dict[int, list[float]] = {1: [], 2: []}
    for repeat in range(args.repeats):
        for parallelism in (1, 2):
            cfg = params_for(args, archs, space_cfg)
            cfg["search"]["parallelism"] = parallelism
            (work / "params.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
            (work / "mlflow.db").unlink(missing_ok=True)
            seconds[parallelism].append(timed([sys.executable, "-m", "flows.search"], work))
        print(f"repeat {repeat + 1}: p1 {seconds[1][-1]:.1f}s, p2 {seconds[2][-1]:.1f}s", flush=True)
    result = {
        "dataset": args.dataset,
        "candidates": len(archs),
        "epochs": args.epochs,
        "repeats": args.repeats,
        "seconds_parallelism_1": seconds[1],
        "seconds_parallelism_2": seconds[2],
        "speedup_median": round(statistics.median(seconds[1]) / statistics.median(seconds[2]), 3),
        "limit": 2.0,
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
