"""Evidence for the winner rule and the retrain recipe, on tuning seeds only (issue 26).

    .venv/bin/python -m benchmarks.winner_selection --seeds 100 101 102 103 104 --schedule constant \
        --out benchmarks/results/winner_selection.json
    .venv/bin/python -m benchmarks.winner_selection --seeds 100 101 102 103 104 --schedule cosine \
        --out benchmarks/results/winner_selection_cosine.json

For each tuning seed s, digits is split with data.seed = s (so no split here is the default
split the pipeline reports on) and the default space is searched by random search with
search.seed = s: 12 candidates trained as the search trains them (train split, Adam with
`--schedule`, early stop on val loss, patience 5, 20 epochs). Then every completed candidate is
retrained on train+val with the search's own recipe stopped at its best epoch (two seeds, through
the pipeline's `fit_final_model`) and with the old retrain (30 epochs, cosine to zero, one seed),
and scored on that seed's test split: its "quality". A selection rule sees only val numbers; it
is judged by the quality of the candidate it picks.

Rules (all val-only): accuracy then fewest parameters (the old rule), accuracy then val loss,
val loss alone, and the top 3 of "accuracy then val loss" re-scored by 3-fold cross-validation
on train+val; and the oracle (the best on test), the ceiling no rule can pass.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
EPOCHS, PATIENCE, BATCH, RATE, CANDIDATES, FOLDS, TOP_K = 20, 5, 32, 1e-3, 12, 3, 3


def _init() -> None:
    import os

    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def splits(seed: int) -> Any:
    from flows.io.datasets import load_digits
    from nas_core.data import split_and_scale

    x, y = load_digits()
    return split_and_scale(x, y, 0.15, 0.15, seed, "digits")


def search_settings(schedule: str) -> Any:
    from nas_core.train_settings import TrainSettings

    return TrainSettings(EPOCHS, PATIENCE, BATCH, RATE, schedule=schedule)


def search_train(job: tuple[int, int, dict[str, Any], int, str]) -> dict[str, Any]:
    from nas_core.training import Arrays, train_candidate

    seed, index, arch, train_seed, schedule = job
    s = splits(seed)
    result = train_candidate(
        arch, Arrays(s.x_train, s.y_train, s.x_val, s.y_val), search_settings(schedule), train_seed
    )
    best = result.best_epoch if result.ok else None
    return {
        "seed": seed,
        "index": index,
        "ok": result.ok,
        "val_accuracy": result.val_accuracy,
        "val_loss": result.val_loss,
        "params": result.params,
        "best_epoch": best,
    }


def retrain(job: tuple[int, dict[str, Any], str, int, int, str]) -> float:
    """Train on train+val with a recipe, score test; returns the test accuracy.

    "cosine30" is the old retrain (30 epochs, cosine to zero); "best_epoch" is the search's own
    recipe stopped at the candidate's best epoch, through the pipeline's `fit_final_model`.
    """
    import keras

    from nas_core.retraining import fit_final_model
    from nas_core.train_settings import TrainSettings

    seed, arch, recipe, best_epoch, train_seed, schedule = job
    s = splits(seed)
    x, y = np.concatenate([s.x_train, s.x_val]), np.concatenate([s.y_train, s.y_val])
    if recipe == "cosine30":
        settings = TrainSettings(30, batch_size=BATCH, learning_rate=RATE, schedule="cosine")
    else:
        settings = TrainSettings(best_epoch, batch_size=BATCH, learning_rate=RATE, schedule=schedule)
        settings = replace(settings, schedule_epochs=EPOCHS)
    model, _ = fit_final_model(arch, x, y, s.num_classes, settings, train_seed)
    accuracy = float(model.evaluate(s.x_test, s.y_test, verbose=0)[1])
    keras.backend.clear_session()
    return accuracy


def cv_score(job: tuple[int, dict[str, Any], int, str]) -> tuple[float, float]:
    """Mean val accuracy and val loss over FOLDS stratified folds of train+val (search recipe)."""
    from nas_core.training import Arrays, train_candidate

    seed, arch, train_seed, schedule = job
    s = splits(seed)
    x, y = np.concatenate([s.x_train, s.x_val]), np.concatenate([s.y_train, s.y_val])
    fold = np.empty(len(y), dtype=int)
    rng = np.random.default_rng(seed)
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        fold[members] = np.arange(len(members)) % FOLDS
    accuracies, losses = [], []
    for k in range(FOLDS):
        held = fold == k
        r = train_candidate(arch, Arrays(x[~held], y[~held], x[held], y[held]), search_settings(schedule), train_seed)
        accuracies.append(r.val_accuracy or 0.0)
        losses.append(r.val_loss if r.val_loss is not None else 99.0)
    return float(np.mean(accuracies)), float(np.mean(losses))


def candidates(seed: int) -> list[dict[str, Any]]:
    from nas_core.architecture import cnn_search_space, prepare_architecture
    from nas_core.config import SpaceConfig
    from nas_core.strategies import make_strategy

    space = cnn_search_space(SpaceConfig())
    strategy = make_strategy("random", space, seed=seed)
    out = []
    for sample in strategy.ask(CANDIDATES):
        out.append(prepare_architecture(space, sample, (8, 8, 1)))
    return out


# The search's recipe twice (the quality a rule is judged by), the old recipe once (for the recipe comparison).
RETRAINS = (("best_epoch", 1), ("best_epoch", 2), ("cosine30", 1))

RULES = {
    "accuracy, fewest params (old)": lambda c: (-c["val_accuracy"], c["params"]),
    "accuracy, then val loss": lambda c: (-c["val_accuracy"], c["val_loss"]),
    "val loss": lambda c: (c["val_loss"],),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102, 103, 104])
    parser.add_argument("--schedule", choices=("constant", "cosine"), default="constant", help="the search's schedule")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/winner_selection.json")
    args = parser.parse_args()
    started = time.time()
    archs = {seed: candidates(seed) for seed in args.seeds}
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"), initializer=_init) as pool:
        jobs = [
            (seed, i, arch, seed * 1000 + i, args.schedule) for seed in args.seeds for i, arch in enumerate(archs[seed])
        ]
        found = [r for r in pool.map(search_train, jobs) if r["ok"]]
        print(f"searched: {len(found)} candidates completed ({time.time() - started:.0f} s)", flush=True)
        retrain_jobs = [
            (c["seed"], archs[c["seed"]][c["index"]], recipe, c["best_epoch"], train_seed, args.schedule)
            for c in found
            for recipe, train_seed in RETRAINS
        ]
        scores = iter(pool.map(retrain, retrain_jobs))
        for c in found:
            c["test"] = {"cosine30": [], "best_epoch": []}
            for recipe, _ in RETRAINS:
                c["test"][recipe].append(next(scores))
        print(f"retrained ({time.time() - started:.0f} s)", flush=True)
        cv_jobs = []
        for seed in args.seeds:
            mine = sorted((c for c in found if c["seed"] == seed), key=RULES["accuracy, then val loss"])[:TOP_K]
            cv_jobs += [(seed, archs[seed][c["index"]], seed * 1000 + c["index"], args.schedule) for c in mine]
            for c in mine:
                c["cv_top"] = True
        for job, (accuracy, loss) in zip(cv_jobs, pool.map(cv_score, cv_jobs), strict=True):
            c = next(c for c in found if c["seed"] == job[0] and archs[job[0]][c["index"]] == job[1])
            c["cv_accuracy"], c["cv_loss"] = accuracy, loss
    rules: dict[str, Any] = dict(RULES)
    table: dict[str, Any] = {}
    for recipe in ("cosine30", "best_epoch"):
        for name, rule in [*rules.items(), ("top-3 re-scored by 3-fold CV", None), ("oracle (best on test)", None)]:
            picks = []
            for seed in args.seeds:
                mine = [c for c in found if c["seed"] == seed]
                if name.startswith("top-3"):
                    chosen = min((c for c in mine if c.get("cv_top")), key=lambda c: (-c["cv_accuracy"], c["cv_loss"]))
                elif name.startswith("oracle"):
                    chosen = max(mine, key=lambda c: statistics.mean(c["test"][recipe]))
                elif rule is not None:
                    chosen = min(mine, key=rule)
                else:
                    raise ValueError(name)
                picks.append(statistics.mean(chosen["test"][recipe]))
            table[f"{recipe} | {name}"] = {
                "median": statistics.median(picks),
                "mean": statistics.mean(picks),
                "min": min(picks),
                "per_seed": picks,
            }
    all_scores = {
        recipe: statistics.mean(statistics.mean(c["test"][recipe]) for c in found)
        for recipe in ("cosine30", "best_epoch")
    }
    out = {"seeds": args.seeds, "search_schedule": args.schedule, "command": " ".join(sys.argv)}
    out |= {"candidates": found, "rules": table, "mean_over_all_candidates": all_scores}
    out["wall_seconds"] = round(time.time() - started, 1)
    args.out.write_text(json.dumps(out, indent=1))
    for k, v in table.items():
        print(f"{k:55s} median {v['median']:.4f} min {v['min']:.4f}  {[round(p, 4) for p in v['per_seed']]}")
    print(all_scores)


if __name__ == "__main__":
    main()
