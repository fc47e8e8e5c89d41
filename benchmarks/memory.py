"""Memory over a long search: RSS after each of 200 candidates, with and without worker recycling.

    .venv/bin/python benchmarks/memory.py [--candidates 200] [--out benchmarks/results/memory.json]

Runs the real `python -m flows.search` (Prefect, MLflow, worker processes) in a scratch
directory, twice on the same candidates: once with the default `search.recycle_after` and once
with recycling off (the baseline: one long-lived worker per slot, as Keras Tuner trains in one
process). After every "[k/N]" progress line it samples the resident memory of the search process
and its training workers (the ephemeral Prefect API server is left out: it is infrastructure,
not the search). Reports the growth of the median RSS from candidates 20-40 to the last 20, as a ratio.
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
import time
from pathlib import Path
from typing import Any

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
PROGRESS = re.compile(r"\[(\d+)/(\d+)\] candidate")


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


def tree_rss_mb(root: psutil.Process) -> float:
    """RSS of the search process plus its training workers, without the Prefect API server."""
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            cmdline = " ".join(proc.cmdline())
            if "uvicorn" in cmdline or "prefect.server" in cmdline or "server start" in cmdline:
                continue
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total / 2**20


def run_search(workdir: Path, candidates: int, recycle_after: int) -> list[float]:
    (workdir / "params.yaml").write_text(yaml.safe_dump(params(candidates, recycle_after), sort_keys=False))
    env = os.environ | {"PREFECT_HOME": str(workdir / ".prefect"), "PYTHONUNBUFFERED": "1"}
    subprocess.run([sys.executable, "-m", "flows.prepare"], cwd=workdir, env=env, check=True, capture_output=True)
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
    assert proc.stdout is not None
    for line in proc.stdout:
        match = PROGRESS.search(line)
        if match:
            samples.append(round(tree_rss_mb(root), 1))
            if len(samples) % 20 == 0:
                print(f"  recycle_after={recycle_after}: {len(samples)}/{candidates}, {samples[-1]:.0f} MB", flush=True)
    if proc.wait() != 0:
        raise SystemExit(f"search failed (recycle_after={recycle_after})")
    return samples


def window_median(samples: list[float], start: int, size: int = 20) -> float:
    window = sorted(samples[start : start + size])
    return window[len(window) // 2]


def growth(samples: list[float], start: int = 20, size: int = 20) -> float:
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
    results: dict[str, Any] = {"candidates": args.candidates, "command": "benchmarks/memory.py", "runs": {}}
    for label, recycle in (("recycled every 10 (default)", 10), ("never recycled (baseline)", 10**6)):
        workdir = Path(tempfile.mkdtemp(prefix="nas-memory-"))
        for name in ("data",):
            shutil.copytree(REPO / name / "raw", workdir / name / "raw")
        started = time.perf_counter()
        samples = run_search(workdir, args.candidates, recycle)
        results["runs"][label] = {
            "recycle_after": recycle,
            "rss_mb_after_each": samples,
            "median_rss_mb_candidates_20_to_40": window_median(samples, 20),
            "median_rss_mb_last_20": window_median(samples, len(samples) - 20),
            "growth_after_20": round(growth(samples), 4),
            "wall_seconds": round(time.perf_counter() - started, 1),
        }
        print(
            f"{label}: {samples[19]:.0f} MB at 20 -> {samples[-1]:.0f} MB at {len(samples)}, "
            f"growth {growth(samples):+.1%}",
            flush=True,
        )
        shutil.rmtree(workdir, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
