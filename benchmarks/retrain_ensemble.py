"""Evidence for issue 26 on tuning seeds only: is the mean of the retrain seeds' predictions better than one seed?

    .venv/bin/python -m benchmarks.retrain_ensemble --seeds 100 101 102 103 104 \
        --out benchmarks/results/retrain_ensemble.json

The pipeline already retrains its winner with several seeds (`retrain.seeds`, 3 by default) and
saves the first. This measures what averaging their softmax outputs would give instead, at no extra
training. For each tuning seed s (digits split with data.seed = s, never the reported split), the
three candidates that `benchmarks.winner_selection` re-scored by cross-validation
(benchmarks/results/winner_selection_cosine.json, the top 3 by "accuracy, then val loss") are
retrained on train+val with the search's recipe up to their best epoch, once per retrain seed, and
scored on that seed's test split: each retrain alone, their mean, and the ensemble (the mean of
their predicted probabilities). The candidate the current rule names (best cross-validation) is
marked, so the table shows both the winners and all 15 candidates.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.overhead import git_commit
from benchmarks.winner_selection import BATCH, EPOCHS, RATE, REPO, _init, candidates, splits

SOURCE = REPO / "benchmarks/results/winner_selection_cosine.json"


def retrain_probabilities(job: tuple[int, dict[str, Any], int, int]) -> list[list[float]]:
    """One retrain on train+val with the search's cosine recipe stopped at `best_epoch`; its test softmax."""
    import keras

    from nas_core.retraining import fit_final_model
    from nas_core.train_settings import TrainSettings

    seed, arch, best_epoch, train_seed = job
    s = splits(seed)
    x, y = np.concatenate([s.x_train, s.x_val]), np.concatenate([s.y_train, s.y_val])
    settings = replace(
        TrainSettings(best_epoch, batch_size=BATCH, learning_rate=RATE, schedule="cosine"), schedule_epochs=EPOCHS
    )
    model, _ = fit_final_model(arch, x, y, s.num_classes, settings, train_seed)
    probabilities = model.predict(s.x_test, batch_size=256, verbose=0)
    keras.backend.clear_session()
    return [[float(p) for p in row] for row in probabilities]


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(probabilities, axis=1) == labels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102, 103, 104])
    parser.add_argument("--retrain-seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/retrain_ensemble.json")
    args = parser.parse_args()
    started = time.time()
    source = json.loads(SOURCE.read_text())
    chosen = [c for c in source["candidates"] if c.get("cv_top") and c["seed"] in args.seeds]
    for seed in args.seeds:
        mine = [c for c in chosen if c["seed"] == seed]
        if mine:
            max(mine, key=lambda c: (c["cv_accuracy"], -c["cv_loss"]))["winner"] = True
    archs = {seed: candidates(seed) for seed in args.seeds}
    jobs = [
        (c["seed"], archs[c["seed"]][c["index"]], c["best_epoch"], train_seed)
        for c in chosen
        for train_seed in args.retrain_seeds
    ]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"), initializer=_init) as pool:
        outputs = iter(pool.map(retrain_probabilities, jobs))
        rows = []
        for c in chosen:
            labels = splits(c["seed"]).y_test
            probabilities = [np.asarray(next(outputs)) for _ in args.retrain_seeds]
            singles = [accuracy(p, labels) for p in probabilities]
            rows.append(
                {
                    "seed": c["seed"],
                    "index": c["index"],
                    "winner": bool(c.get("winner")),
                    "params": c["params"],
                    "best_epoch": c["best_epoch"],
                    "test_examples": len(labels),
                    "single": singles,
                    "ensemble": accuracy(np.mean(probabilities, axis=0), labels),
                }
            )
            print(f"seed {c['seed']} candidate {c['index']}: single {singles}, ensemble {rows[-1]['ensemble']:.4f}")
    result = {
        "what": "test accuracy of one retrain against the mean of the retrains' predicted probabilities",
        "command": "python -m benchmarks.retrain_ensemble --seeds "
        + " ".join(map(str, args.seeds))
        + " --retrain-seeds "
        + " ".join(map(str, args.retrain_seeds)),
        "source": str(SOURCE.relative_to(REPO)),
        "seeds": args.seeds,
        "retrain_seeds": args.retrain_seeds,
        "commit": git_commit(),
        "wall_seconds": round(time.time() - started, 1),
        "candidates": rows,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"ensemble": statistics.mean(r["ensemble"] for r in rows)}, indent=2))


if __name__ == "__main__":
    main()
