"""Overhead of the pipeline over a bare Keras loop, on the same candidates, measured in one run.

    .venv/bin/python -m benchmarks.overhead --dataset digits --candidates 12 --epochs 20 --repeats 3
    .venv/bin/python -m benchmarks.overhead --dataset mnist --candidates 4 --epochs 3 --repeats 3

Both sides train the same architectures with the same seeds, epochs, batch size and early
stopping, one at a time (parallelism 1, TensorFlow free to use every core):
- bare: one Python process that imports Keras and fits each model in a loop (no tracking);
- ours: `python -m flows.search` with the `fixed` strategy: a Prefect flow, one Prefect task per
  candidate, training in a worker process recycled as a user's are (`search.recycle_after`),
  every candidate logged to MLflow (SQLite) with its curves, summary and learning-curve plot.
  Re-scoring the top candidates is off: it trains models the bare loop does not.
Each side is timed from process start to exit, so imports, the Prefect server and worker
start-up are all counted. One untimed run of each side comes first: it warms the disk cache
for both, and creates our MLflow store, which then persists as it does for a user's nightly
searches (that run's wall time is kept as `ours_warm_up_seconds`). Sides then
alternate (bare first in odd repeats, ours first in even ones); the ratio of the medians is
reported, and each repeat's own ratio beside it. Each side also reports its training seconds
(build, compile and fit of every model: `train_seconds` of our candidate records) and the rest
of its wall time, which is where the pipeline's own cost shows without the training noise.
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
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from nas_core.config import SearchConfig

REPO = Path(__file__).resolve().parents[1]
# Small conv candidates that train in seconds on digits: the space of the overhead, parallel and Dask benchmarks.
SMALL_CNN_SPACE: dict[str, Any] = {
    "conv_blocks": [1, 2],
    "filters": [16, 32],
    "kernel_size": [3, 5],
    "pooling": ["max", "none"],
    "dense_layers": [0, 1],
    "units": [64],
    "batch_norm": [False],
    "dropout": [0.0, 0.25],
}


def sample_architectures(n: int, seed: int, input_shape: tuple[int, ...], space_cfg: dict[str, Any]) -> list[dict]:
    from nas_core.architecture import cnn_search_space, prepare_architecture
    from nas_core.config import SpaceConfig
    from nas_core.space import sample_key

    space = cnn_search_space(SpaceConfig(**space_cfg))
    rng = np.random.default_rng(seed)
    found: dict[str, dict] = {}
    while len(found) < n:
        try:
            arch = prepare_architecture(space, space.sample(rng), input_shape)
        except ValueError:
            continue
        found.setdefault(sample_key(arch), arch)
    return list(found.values())


def params_for(args: argparse.Namespace, archs: list[dict], space_cfg: dict[str, Any]) -> dict[str, Any]:
    from nas_core.config import NasConfig

    cfg = NasConfig().model_dump(mode="json")
    cfg["data"] |= {"source": args.dataset, "limit": args.limit}
    cfg["space"] |= space_cfg
    cfg["search"] |= {
        "strategy": "fixed",
        "strategy_options": {"architectures": archs},
        "max_candidates": len(archs),
        "parallelism": 1,
        # recycle_after stays at the default a user gets (10): a worker restart is part of our cost.
        # Re-scoring the top candidates trains models the bare loop does not, so it is off: equal work.
        "reevaluate_top_k": 0,
        "seed": 0,
    }
    cfg["train"] |= {"epochs": args.epochs, "patience": args.epochs, "batch_size": args.batch_size}
    return cfg


def stage_env(work: Path) -> dict[str, str]:
    """A stage's environment in a scratch folder, which has no pyproject.toml to give Prefect its settings.

    Prefect's 20 s default for its temporary server to answer is too short on a busy 2-core machine
    (a fresh PREFECT_HOME migrates its database first), so the project's longer wait is set here.
    """
    return {
        "PREFECT_HOME": str(work / ".prefect"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
        "PYTHONPATH": str(REPO),  # `-m benchmarks.…` from the scratch folder
    }


def prepare_data(work: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    """The raw and prepare stages in `work`, as `make run` runs them; the prepared data's manifest."""
    (work / "params.yaml").write_text(yaml.safe_dump(cfg | {"search": {}}))
    for stage in ("flows.raw", "flows.prepare"):
        done = subprocess.run(
            [sys.executable, "-m", stage],
            cwd=work,
            capture_output=True,
            text=True,
            env=os.environ | stage_env(work),
        )
        if done.returncode != 0:
            raise SystemExit(f"{stage} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    manifest: dict[str, Any] = json.loads((work / "data/prepared/manifest.json").read_text())
    return manifest


def git_commit() -> str:
    """The commit the benchmark measured, for its results file."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def timed(cmd: list[str], cwd: Path, api_url: str | None = None) -> float:
    """Wall seconds from process start to exit."""
    return timed_with_output(cmd, cwd, api_url)[0]


def timed_with_output(cmd: list[str], cwd: Path, api_url: str | None = None) -> tuple[float, str]:
    """Wall seconds from process start to exit, and the process's stdout.

    Without `api_url` the flow starts its own temporary Prefect server, as a user's own run does;
    with it, the flow uses that running server (as under `make schedule` or PREFECT_API_URL).
    """
    env = os.environ | stage_env(cwd)
    env.pop("PREFECT_API_URL", None)
    if api_url is not None:
        env["PREFECT_API_URL"] = api_url
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed, done.stdout


def run_bare(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, training) seconds of the bare loop; it prints its per-model training seconds last."""
    wall, stdout = timed_with_output(cmd, cwd)
    return wall, sum(json.loads(stdout.strip().splitlines()[-1])["train_seconds"])


def run_ours(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, training) seconds of our search, training summed from its candidate records."""
    wall = timed(cmd, cwd)
    records = json.loads((cwd / "artifacts/search_results.json").read_text())
    if any(r["status"] != "COMPLETED" for r in records):
        raise SystemExit(f"a candidate did not complete: {[(r['index'], r['status']) for r in records]}")
    return wall, sum(r["train_seconds"] for r in records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--candidates", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    work = Path(tempfile.mkdtemp(prefix="nas-overhead-"))
    space_cfg = SMALL_CNN_SPACE
    manifest = prepare_data(work, params_for(args, [], space_cfg))
    archs = sample_architectures(args.candidates, 0, tuple(manifest["input_shape"]), space_cfg)
    (work / "params.yaml").write_text(yaml.safe_dump(params_for(args, archs, space_cfg), sort_keys=False))
    (work / "archs.json").write_text(json.dumps(archs))

    bare_cmd = [
        sys.executable,
        str(REPO / "benchmarks/bare_keras.py"),
        "--archs",
        "archs.json",
        "--epochs",
        str(args.epochs),
        "--batch-size",
        str(args.batch_size),
    ]
    ours_cmd = [sys.executable, "-m", "flows.search"]
    # Untimed warm-up of each side: disk cache, compiled bytecode and our MLflow store.
    run_bare(bare_cmd, work)
    first_wall, _ = run_ours(ours_cmd, work)
    print(f"warm-up: ours {first_wall:.1f}s with a new MLflow store", flush=True)
    runs: dict[str, list[tuple[float, float]]] = {"bare": [], "ours": []}
    for repeat in range(args.repeats):
        # The order alternates (bare first, then ours first) so that a slow drift of the shared
        # machine does not always land on the same side.
        for side in ("bare", "ours") if repeat % 2 == 0 else ("ours", "bare"):
            runs[side].append(run_bare(bare_cmd, work) if side == "bare" else run_ours(ours_cmd, work))
        print(f"repeat {repeat + 1}: bare {runs['bare'][-1][0]:.1f}s, ours {runs['ours'][-1][0]:.1f}s", flush=True)
    bare = [wall for wall, _ in runs["bare"]]
    ours = [wall for wall, _ in runs["ours"]]
    rest = {side: [wall - training for wall, training in pairs] for side, pairs in runs.items()}
    bare_spread = (max(bare) - min(bare)) / statistics.median(bare)
    ratio = statistics.median(ours) / statistics.median(bare)
    result = {
        "command": "python -m benchmarks.overhead " + " ".join(sys.argv[1:]),
        "commit": git_commit(),
        "recycle_after": SearchConfig().recycle_after,
        "dataset": args.dataset,
        "limit": args.limit,
        "candidates": len(archs),
        "epochs": args.epochs,
        "repeats": args.repeats,
        "started": started,
        "bare_seconds": bare,
        "ours_seconds": ours,
        "bare_median": statistics.median(bare),
        "ours_median": statistics.median(ours),
        "ratio_ours_over_bare": round(ratio, 3),
        # The bare loop's own spread over its repeats, relative to its median: a ratio closer to 1
        # than this is inside the machine's noise.
        "bare_relative_spread": round(bare_spread, 3),
        "inside_noise": abs(ratio - 1) <= bare_spread,
        "ratio_per_repeat": [round(o / b, 3) for o, b in zip(ours, bare, strict=True)],
        "bare_training_seconds": [training for _, training in runs["bare"]],
        "ours_training_seconds": [training for _, training in runs["ours"]],
        "bare_rest_median": statistics.median(rest["bare"]),
        "ours_rest_median": statistics.median(rest["ours"]),
        "ours_warm_up_seconds": first_wall,
    }
    print(json.dumps(result, indent=2))
    out = args.out or REPO / f"benchmarks/results/overhead_{args.dataset}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
