"""Our search against Keras Tuner 1.4.8 on the same space, data, trials and epochs, in one run.

    .venv/bin/pip install -e ".[bench]"
    .venv/bin/python -m benchmarks.keras_tuner --dataset digits --trials 10 --epochs 5 --seeds 0 1 2

For each seed, each side runs as its own process, timed from start to exit (imports, Prefect
server and worker start-up included):
- Keras Tuner `RandomSearch` (max_trials = N) against our `random` strategy (N candidates) at
  parallelism 1 and at parallelism 2. Keras Tuner has no parallel mode on one machine short of
  its distributed gRPC set-up, so its single process is the reference for both.
- Keras Tuner's own draw (the architectures its RandomSearch trained) through our search with
  the `fixed` strategy, at parallelism 1 and 2: the same models on both sides, so only the search
  machinery differs.
- Keras Tuner `Hyperband` (max_epochs = E, factor 3, one iteration) against our
  `estimation: hyperband` (min 1, max E epochs, eta 3) at equal work: given as many new
  candidates as make our plan train the number of epochs closest to what Keras Tuner's trained
  (its schedule is fixed by its settings, so the first seed's count holds for every seed).
- Keras Tuner's draw once more at parallelism 1, with a Prefect server already running (as under
  `make schedule`, or with PREFECT_API_URL set): what the temporary server's start-up costs.
The sides alternate which runs first: Keras Tuner on even seeds, ours on odd ones (the rows on
Keras Tuner's draw need its run, so they always follow it), so that drift along a seed's runs
falls on both sides. Before the timed runs, each side runs once untimed (one model, one epoch): it warms the disk
cache and creates our MLflow store, which then persists from run to run as it does between a
user's searches (creating a new store costs about 3 s of schema migrations, once).
The HyperModel is our space with the same choices and conditions, and builds our builder's model
(benchmarks/kt_search.py); training settings (Adam at a constant 1e-3, batch, epochs, no early
stopping) match, and our search names its winner by val alone, as Keras Tuner does (no
re-scoring of the top candidates, which our defaults add).
Each side's winner is then retrained the same way (train split, E epochs) once per test seed
(`--test-seeds`, default 0 1 2) and scored on the test split; its test accuracy is the mean of
those, so the test accuracies compare architectures, not training recipes or initialisations.
The summary also gives each row's test accuracy minus Keras Tuner's, paired by seed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from benchmarks.overhead import REPO, git_commit, prepare_data, timed
from nas_core.estimation.hyperband import plan

SPACE = {
    "conv_blocks": [1, 2],
    "filters": [16, 32, 64],
    "kernel_size": [3, 5],
    "pooling": ["max", "none"],
    "padding": ["same"],
    "skip": [False],
    "dense_layers": [0, 1],
    "units": [32, 64, 128],
    "activation": ["relu", "elu"],
    "dropout": [0.0, 0.25],
    "batch_norm": [False],
}


def base_params(args: argparse.Namespace) -> dict[str, Any]:
    from nas_core.config import NasConfig

    cfg = NasConfig().model_dump(mode="json")
    cfg["data"] |= {"source": args.dataset, "limit": args.limit}
    cfg["space"] |= SPACE
    # Keras Tuner's side trains at a constant rate and names its winner by val alone: ours does the
    # same here (our defaults are a cosine schedule and 9 more trainings that re-score the top 3).
    cfg["train"] |= {"epochs": args.epochs, "patience": args.epochs, "batch_size": args.batch_size}
    cfg["train"] |= {"schedule": "constant"}
    cfg["search"] |= {"reevaluate_top_k": 0}
    return cfg


def run_ours(
    args: argparse.Namespace,
    work: Path,
    seed: int,
    parallelism: int,
    hyperband: bool,
    n: int,
    architectures: list[dict[str, Any]] | None = None,
    api_url: str | None = None,
) -> dict:
    """Our search as `python -m flows.search`; given `architectures`, it trains exactly those (`fixed`)."""
    cfg = base_params(args)
    cfg["search"] |= {"strategy": "random", "max_candidates": n, "parallelism": parallelism, "seed": seed}
    if architectures is not None:
        cfg["search"] |= {"strategy": "fixed", "strategy_options": {"architectures": architectures}}
    if hyperband:
        cfg["search"] |= {
            "estimation": "hyperband",
            "hyperband": {"min_epochs": 1, "max_epochs": args.epochs, "eta": 3},
        }
    (work / "params.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    for stale in ("mlartifacts", "artifacts", "metrics"):
        shutil.rmtree(work / stale, ignore_errors=True)
    wall = timed([sys.executable, "-m", "flows.search", "--fresh"], work, api_url)
    winner = json.loads((work / "artifacts/best_architecture.json").read_text())
    results = json.loads((work / "artifacts/search_results.json").read_text())
    return {
        "wall_seconds": wall,
        "candidates": len(results),
        "training_epochs": sum(r["epochs_run"] for r in results),
        "best_val_accuracy": winner["val_accuracy"],
        "best_architecture": winner["architecture"],
        "drawn_architectures": [r["architecture"] for r in results if r["status"] != "FAILED"],
    }


def run_keras_tuner(args: argparse.Namespace, work: Path, seed: int, tuner: str) -> dict:
    out = work / f"kt-{tuner}-{seed}.json"
    cmd = [sys.executable, "-m", "benchmarks.kt_search", "--tuner", tuner, "--space", "space.json"]
    cmd += ["--trials", str(args.trials), "--epochs", str(args.epochs), "--seed", str(seed), "--out", str(out)]
    cmd += ["--batch-size", str(args.batch_size)]
    wall = timed(cmd, work)
    return json.loads(out.read_text()) | {"wall_seconds": wall}


def test_accuracy(work: Path, arch: dict[str, Any], epochs: int, batch_size: int, seed: int) -> float:
    """The architecture trained on the train split with `seed`, scored on test: the same for both sides."""
    import keras
    import numpy as np

    from nas_core.builder import build_model
    from nas_core.training import compile_model

    data = work / "data/prepared"
    train, test = np.load(data / "train.npz"), np.load(data / "test.npz")
    keras.utils.set_random_seed(seed)
    model = build_model(arch, train["x"].shape[1:], int(train["y"].max()) + 1)
    compile_model(model, 1e-3)
    model.fit(train["x"], train["y"], epochs=epochs, batch_size=batch_size, verbose=0)
    accuracy = float(model.evaluate(test["x"], test["y"], batch_size=256, verbose=0)[1])
    keras.backend.clear_session()
    return accuracy


def total_params(work: Path, archs: list[dict[str, Any]]) -> int:
    """Trainable weights of every architecture a search drew: how much its draw cost, whatever searched."""
    import keras
    import numpy as np

    from nas_core.builder import build_model

    train = np.load(work / "data/prepared/train.npz")
    total = 0
    for arch in archs:
        total += build_model(arch, train["x"].shape[1:], int(train["y"].max()) + 1).count_params()
        keras.backend.clear_session()
    return total


def candidates_for_epochs(epochs: int, max_epochs: int) -> int:
    """The candidate budget whose Hyperband plan (min 1 epoch, eta 3) trains the epochs closest to `epochs`.

    Equal work against Keras Tuner's Hyperband, whose brackets start fewer candidates for more epochs.
    """

    def planned(n: int) -> int:
        return sum(b.total_epochs() for b in plan(n, 1, max_epochs, 3))

    n = 1
    while planned(n + 1) <= epochs:
        n += 1
    return n + 1 if abs(planned(n + 1) - epochs) < abs(planned(n) - epochs) else n


def warm_up(args: argparse.Namespace, work: Path) -> None:
    """One untimed run of each side (one model, one epoch): disk cache, bytecode, and our MLflow store."""
    tiny = argparse.Namespace(**(vars(args) | {"trials": 1, "epochs": 1}))
    run_keras_tuner(tiny, work, 0, "random")
    run_ours(tiny, work, 0, 1, False, 1)


@contextmanager
def running_prefect_server(work: Path) -> Iterator[str]:
    """A Prefect API server started before the clock, as a scheduled setup has one; its own database.

    Started and stopped around its one run, so that its idle polling loads no other run.
    """
    from flows.runtime.prefect_server import temporary_server

    with temporary_server(home=work / ".prefect-running-server") as api_url:
        yield api_url


def paired_difference(outcomes: list[dict], reference: list[dict], key: str) -> dict[str, Any]:
    """Per seed, this row's value minus the reference's; with its mean and standard deviation."""
    differences = [o[key] - r[key] for o, r in zip(outcomes, reference, strict=True)]
    spread = statistics.stdev(differences) if len(differences) > 1 else 0.0
    return {"per_seed": differences, "mean": statistics.mean(differences), "stdev": spread}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=9)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--test-seeds", type=int, nargs="+", default=[0, 1, 2], help="retrain seeds of each winner")
    parser.add_argument("--skip-hyperband", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="nas-vs-kt-"))
    prepare_data(work, base_params(args))  # the raw and prepare stages, as `make run` runs them
    from nas_core.architecture import cnn_search_space
    from nas_core.config import SpaceConfig

    (work / "space.json").write_text(json.dumps(cnn_search_space(SpaceConfig.model_validate(SPACE)).to_dict()))
    warm_up(args, work)
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())

    runs: dict[str, list[dict]] = {}

    def record(name: str, seed: int, outcome: dict) -> None:
        runs.setdefault(name, []).append(outcome | {"seed": seed, "load_average": os.getloadavg()[0]})
        print(f"seed {seed} {name}: {outcome['wall_seconds']:.1f}s val {outcome['best_val_accuracy']:.4f}", flush=True)

    hyperband_epochs: int | None = None  # Keras Tuner Hyperband's epochs, fixed by its settings

    def run_ours_at_both_parallelisms(seed: int, hyperband: bool, n: int) -> None:
        kind = "Hyperband" if hyperband else "random"
        for p in (1, 2):
            record(f"ours {kind}, parallelism {p}", seed, run_ours(args, work, seed, p, hyperband, n))

    for turn, seed in enumerate(args.seeds):
        ours_first = turn % 2 == 1
        if ours_first:
            run_ours_at_both_parallelisms(seed, False, args.trials)
        kt_random = run_keras_tuner(args, work, seed, "random")
        record("keras-tuner RandomSearch", seed, kt_random)
        if not ours_first:
            run_ours_at_both_parallelisms(seed, False, args.trials)
        # The two random searches draw different models; on Keras Tuner's own draw only the machinery differs.
        drawn = kt_random["drawn_architectures"]
        for p in (1, 2):
            outcome = run_ours(args, work, seed, p, False, len(drawn), architectures=drawn)
            record(f"ours on Keras Tuner's draw, parallelism {p}", seed, outcome)
        with running_prefect_server(work) as api_url:
            outcome = run_ours(args, work, seed, 1, False, len(drawn), architectures=drawn, api_url=api_url)
        record("ours on Keras Tuner's draw, parallelism 1, Prefect server running", seed, outcome)
        if args.skip_hyperband:
            continue
        if ours_first and hyperband_epochs is not None:  # known from an earlier seed's Keras Tuner run
            run_ours_at_both_parallelisms(seed, True, candidates_for_epochs(hyperband_epochs, args.epochs))
        kt_hb = run_keras_tuner(args, work, seed, "hyperband")
        record("keras-tuner Hyperband", seed, kt_hb)
        hyperband_epochs = hyperband_epochs or int(kt_hb["training_epochs"])
        if not ours_first:
            run_ours_at_both_parallelisms(seed, True, candidates_for_epochs(hyperband_epochs, args.epochs))

    scored: dict[tuple[str, int], float] = {}  # rows that picked the same winner share its retrains

    def retrained(arch: dict[str, Any], test_seed: int) -> float:
        key = (json.dumps(arch, sort_keys=True), test_seed)
        if key not in scored:
            scored[key] = test_accuracy(work, arch, args.epochs, args.batch_size, test_seed)
        return scored[key]

    for outcomes in runs.values():  # after every timed run, so that no training overlaps a timing
        for outcome in outcomes:
            per_seed = [retrained(outcome["best_architecture"], test_seed) for test_seed in args.test_seeds]
            outcome["test_accuracy_per_retrain"] = per_seed
            outcome["test_accuracy"] = statistics.mean(per_seed)
            try:  # a side note: a failure here must not lose the timings above
                outcome["params_drawn"] = total_params(work, outcome.pop("drawn_architectures"))
            except Exception as error:
                print(f"could not count the drawn parameters: {type(error).__name__}: {error}", flush=True)
                outcome["params_drawn"] = None

    summary = {}
    for name, outcomes in runs.items():
        reference = "keras-tuner Hyperband" if "Hyperband" in name else "keras-tuner RandomSearch"
        ratios = [o["wall_seconds"] / r["wall_seconds"] for o, r in zip(outcomes, runs[reference], strict=True)]
        summary[name] = {
            "median_wall_seconds": statistics.median(o["wall_seconds"] for o in outcomes),
            "median_wall_ratio_vs_keras_tuner": statistics.median(ratios),
            "mean_candidates": statistics.mean(o["candidates"] for o in outcomes),
            "mean_training_epochs": statistics.mean(o["training_epochs"] for o in outcomes),
            "mean_best_val_accuracy": statistics.mean(o["best_val_accuracy"] for o in outcomes),
            "mean_test_accuracy": statistics.mean(o["test_accuracy"] for o in outcomes),
            "test_accuracy_minus_keras_tuner": paired_difference(outcomes, runs[reference], "test_accuracy"),
            "mean_params_drawn": statistics.mean(o["params_drawn"] or 0 for o in outcomes),
        }
    result = {
        "dataset": args.dataset,
        "limit": args.limit,
        "trials": args.trials,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seeds": args.seeds,
        "test_seeds": args.test_seeds,
        "space": SPACE,
        "started": started,
        "commit": git_commit(),
        "alternated": True,  # Keras Tuner first on even seeds, ours first on odd ones
        "hyperband_epochs_matched": True,  # our Hyperband's budget: Keras Tuner's epochs, not its candidates
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "summary": summary,
        "runs": runs,
    }
    print(json.dumps(summary, indent=2))
    out = args.out or REPO / f"benchmarks/results/keras_tuner_{args.dataset}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
