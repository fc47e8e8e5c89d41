"""Cheaper performance estimation against full-training random search, measured in one run per dataset.

    .venv/bin/python -m benchmarks.estimation.run --dataset digits
    .venv/bin/python -m benchmarks.estimation.run --dataset mnist
    .venv/bin/python -m benchmarks.render                # BENCHMARKS.md's blocks, from both result files

Every method runs through the real search stage (`run_search_stage`: Prefect, MLflow, recycled
workers) in one scratch directory, and its winner through the real retrain stage (train+val,
one look at test). Methods, in order: `random` (every candidate trained to the end), then
`successive_halving` and `hyperband` with the same random sampler and seed (so they choose
among the very same candidates), `oneshot` (plus `kendall`: K of its scored paths trained
stand-alone, for Kendall's tau) and `darts`. Each method's numbers go to
benchmarks/results/estimation_<dataset>.json as soon as it ends; `--only` reruns some of them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
METHODS = ("random", "successive_halving", "hyperband", "oneshot", "kendall", "darts")

# Both datasets: 27 epochs at most, eta 3 and min 1 epoch, so Hyperband has s_max = 3 and one
# Hyperband iteration starts 27 + 12 + 6 + 4 = 49 candidates: the budget of every method.
SETTINGS: dict[str, dict[str, Any]] = {
    "digits": {
        "data": {"source": "digits"},
        "space": {},  # params.yaml's default space
        "candidates": 49,
        "epochs": 27,
        "oneshot": {"epochs": 15, "evaluations": 100, "top_k": 2},
        "darts": {"epochs": 10},
        "kendall": 20,
    },
    "mnist": {
        "data": {"source": "mnist", "limit": 2000},
        "space": {  # smaller than the default: 28x28 inputs cost ~12x more per conv than 8x8 digits
            "conv_blocks": [1, 2, 3],
            "filters": [8, 16, 32],
            "kernel_size": [3, 5],
            "pooling": ["max", "avg"],
            "dense_layers": [0, 1],
            "units": [32, 64],
        },
        "candidates": 49,
        "epochs": 27,
        "oneshot": {"epochs": 10, "evaluations": 100, "top_k": 2},
        "darts": {"epochs": 6},
        "kendall": 20,
    },
}


QUICK = {
    "candidates": 6,
    "epochs": 3,
    "oneshot": {"epochs": 1, "evaluations": 6, "top_k": 2},
    "darts": {"epochs": 1},
    "kendall": 4,
}  # --quick: a smoke test of the script, not a measurement


def settings(dataset: str, quick: bool = False) -> dict[str, Any]:
    return SETTINGS[dataset] | (QUICK if quick else {})


def params_for(dataset: str, method: str, quick: bool = False) -> dict[str, Any]:
    """The full params.yaml of one method: the defaults, the dataset's settings, the method's keys."""
    from nas_core.config import NasConfig

    s = settings(dataset, quick)
    cfg = NasConfig().model_dump(mode="json")
    cfg["data"] |= s["data"]
    cfg["space"] |= s["space"]
    cfg["train"] |= {"epochs": s["epochs"], "patience": s["epochs"]}  # "full training": every epoch, best kept
    cfg["retrain"] |= {"epochs": s["epochs"], "model_name": f"bench-{dataset}"}
    cfg["tracking"] |= {"uri": "sqlite:///mlflow.db", "experiment": f"bench-{method}"}
    search = cfg["search"] | {"max_candidates": s["candidates"], "parallelism": 2, "seed": 0, "strategy": "random"}
    search["hyperband"] = {"min_epochs": 1, "max_epochs": s["epochs"], "eta": 3}
    if method in ("successive_halving", "hyperband"):
        search["estimation"] = method
    elif method in ("oneshot", "darts"):
        search |= {"estimation": method, "strategy": "evolution"}
        search[method] = search[method] | s[method]
    cfg["search"] = search
    return cfg


def run_method(dataset: str, method: str, workdir: Path, quick: bool = False) -> dict[str, Any]:
    """Search, then retrain the winner; the numbers that matter, and the per-candidate records."""
    import yaml

    from flows.retrain import retrain_flow
    from flows.search import run_search_stage

    params = workdir / f"params-{method}.yaml"
    params.write_text(yaml.safe_dump(params_for(dataset, method, quick), sort_keys=False))
    started = time.perf_counter()
    summary = run_search_stage(params_path=str(params))
    search_wall = time.perf_counter() - started
    results = json.loads((workdir / "artifacts/search_results.json").read_text())
    winner = json.loads((workdir / "artifacts/best_architecture.json").read_text())
    test = retrain_flow(params_path=str(params))
    record: dict[str, Any] = {
        "summary": summary,
        "search_wall_seconds": round(search_wall, 1),
        "total_epochs": sum(r["epochs_run"] for r in results),
        "candidates": len(results),
        "winner": {
            "key": winner["key"],
            "val_accuracy": winner["val_accuracy"],
            "architecture": winner["architecture"],
        },
        "test_accuracy": test["test_accuracy"],
        "results": [
            {k: r[k] for k in ("key", "status", "val_accuracy", "epochs_run", "train_seconds", "rung", "stopped_early")}
            for r in results
        ],
    }
    if method == "oneshot":
        record["scored"] = json.loads((workdir / "artifacts/oneshot_scores.json").read_text())
    return record


def run_kendall(dataset: str, workdir: Path, oneshot: dict[str, Any], quick: bool = False) -> dict[str, Any]:
    """Train K of the one-shot's scored paths stand-alone (spread over the score range) and rank-correlate."""
    from concurrent.futures import ThreadPoolExecutor

    from scipy import stats

    from nas_core.isolation import IsolatedTrainer
    from nas_core.training import TrainSettings
    from nas_core.worker import TrainRequest

    scored = sorted(oneshot["scored"], key=lambda r: r["score"])
    k = min(settings(dataset, quick)["kendall"], len(scored))
    picks = [scored[round(i * (len(scored) - 1) / (k - 1))] for i in range(k)]
    epochs = settings(dataset, quick)["epochs"]
    train_settings = TrainSettings(epochs=epochs, patience=epochs)
    data_dir = str((workdir / "data/prepared").resolve())
    started = time.perf_counter()
    with IsolatedTrainer(parallelism=2) as trainer, ThreadPoolExecutor(2) as pool:
        requests = [
            TrainRequest(p["key"], i, p["architecture"], data_dir, train_settings, seed=i) for i, p in enumerate(picks)
        ]
        trained = list(pool.map(trainer.train, requests))
    wall = time.perf_counter() - started
    pairs = [(p["score"], r.val_accuracy) for p, r in zip(picks, trained, strict=True) if r.ok]
    tau = stats.kendalltau([a for a, _ in pairs], [b for _, b in pairs])
    seconds = [r.train_seconds for r in trained if r.ok]
    return {
        "k": len(pairs),
        "kendall_tau": float(tau.statistic),
        "p_value": float(tau.pvalue),
        "pairs": pairs,
        "standalone_train_seconds_mean": sum(seconds) / len(seconds),
        "wall_seconds": round(wall, 1),
    }


def conditions() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpus": os.cpu_count(),
        "load_average_1_5_15": [round(v, 2) for v in load],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(SETTINGS), required=True)
    parser.add_argument("--only", nargs="*", choices=METHODS, help="rerun only these methods (default: all)")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch directory (default: /tmp/nas-bench-...)")
    parser.add_argument("--quick", action="store_true", help="tiny settings: a smoke test of this script")
    args = parser.parse_args()
    tag = f"{args.dataset}{'-quick' if args.quick else ''}"
    workdir = (args.workdir or Path(f"/tmp/nas-bench-estimation-{tag}")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ["PREFECT_HOME"] = str(workdir / ".prefect")  # a private ephemeral Prefect server, not the repo's
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")  # a busy machine starts slowly
    os.chdir(workdir)
    sys.path.insert(0, str(ROOT))
    out = RESULTS / f"estimation_{tag}.json"
    report: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {}
    report["settings"] = settings(args.dataset, args.quick)
    report["command"] = " ".join(["python -m benchmarks.estimation.run", *sys.argv[1:]])
    report.setdefault("methods", {})

    import yaml

    from flows.prepare import prepare_flow

    base = workdir / "params-prepare.yaml"
    base.write_text(yaml.safe_dump(params_for(args.dataset, "random", args.quick), sort_keys=False))
    mnist = ROOT / "data/external/mnist.pkl.gz"
    if mnist.is_file() and not (workdir / "data/external" / mnist.name).is_file():  # no second download
        (workdir / "data/external").mkdir(parents=True, exist_ok=True)
        shutil.copy(mnist, workdir / "data/external" / mnist.name)
    if not (workdir / "data/prepared/manifest.json").is_file():
        prepare_flow(params_path=str(base))
    for method in args.only or METHODS:
        print(f"=== {args.dataset}: {method}", flush=True)
        before = conditions()
        started = time.perf_counter()
        if method == "kendall":
            record = run_kendall(args.dataset, workdir, report["methods"]["oneshot"], args.quick)
        else:
            record = run_method(args.dataset, method, workdir, args.quick)
        record["conditions"] = {"before": before, "after": conditions()}
        record["method_wall_seconds"] = round(time.perf_counter() - started, 1)
        report["methods"][method] = record
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1, default=str) + "\n")
        shutil.rmtree(workdir / "artifacts/checkpoints", ignore_errors=True)
        print(f"=== {method}: done in {record['method_wall_seconds']}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
