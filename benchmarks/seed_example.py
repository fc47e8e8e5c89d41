"""The seed's tutorial search on real MNIST: the plain script against the full pipeline, in one run.

    .venv/bin/python -m benchmarks.seed_example [--seeds 0 1 2] [--limit N]

- plain: what the tutorial did. Five random trials from its space (1-3 conv layers with 2x2
  max-pooling, 'valid' padding, 1-2 dense layers), each built with bare Keras, trained 3 epochs
  with Adam at batch 128. The best by val accuracy is scored on the test split. A trial whose
  shapes are impossible crashes in Keras and is skipped, as the tutorial's try/except did.
- ours: `python -m flows.pipeline --params params/seed-example.yaml`. Prefect flows, MLflow,
  infeasible candidates recorded FAILED, the winner retrained on train+val and scored on test.
Both read the same prepared split (the pipeline's prepare stage writes it first).
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

REPO = Path(__file__).resolve().parents[1]


def plain_tutorial(data: Path, trials: int, seed: int) -> dict[str, Any]:
    import keras

    def load(name: str) -> tuple[np.ndarray, np.ndarray]:
        arrays = np.load(data / f"{name}.npz")
        return arrays["x"], arrays["y"]

    (x, y), (xv, yv), (xt, yt) = load("train"), load("val"), load("test")
    rng = np.random.default_rng(seed)
    best: tuple[float, Any] | None = None
    skipped = 0
    for _ in range(trials):
        layers: list[Any] = [keras.Input(x.shape[1:])]
        for _ in range(int(rng.integers(1, 4))):
            layers += [
                keras.layers.Conv2D(int(rng.choice([32, 64, 128])), int(rng.choice([3, 5])), activation="relu"),
                keras.layers.MaxPooling2D(2),
            ]
        layers.append(keras.layers.Flatten())
        for _ in range(int(rng.integers(1, 3))):
            layers.append(keras.layers.Dense(int(rng.choice([64, 128, 256])), activation="relu"))
        layers.append(keras.layers.Dense(10, activation="softmax"))
        try:
            model = keras.Sequential(layers)
        except ValueError:  # negative dimension: the tutorial's impossible candidates
            skipped += 1
            continue
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, validation_data=(xv, yv), epochs=3, batch_size=128, verbose=0)
        val = float(model.evaluate(xv, yv, verbose=0)[1])
        if best is None or val > best[0]:
            best = (val, model)
    if best is None:
        return {"trials": trials, "skipped": skipped, "test_accuracy": None}
    return {
        "trials": trials,
        "skipped": skipped,
        "best_val_accuracy": best[0],
        "test_accuracy": float(best[1].evaluate(xt, yt, verbose=0)[1]),
    }


def one_seed(seed: int, limit: int | None) -> dict[str, Any]:
    """Our pipeline, then the plain loop, on the same prepared split, both drawing with `seed`."""
    work = Path(tempfile.mkdtemp(prefix="nas-seed-"))
    external = REPO / "data" / "external"
    if external.is_dir():
        shutil.copytree(external, work / "data" / "external")  # the MNIST file, if already fetched
    params = yaml.safe_load((REPO / "params/seed-example.yaml").read_text())
    params["data"]["limit"] = limit
    params["search"]["seed"] = seed
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = os.environ | {"PREFECT_HOME": str(work / ".prefect")}

    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flows.pipeline"], cwd=work, env=env, capture_output=True, text=True)
    ours_seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"pipeline failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    search = json.loads((work / "metrics/search.json").read_text())
    test = json.loads((work / "metrics/test.json").read_text())
    results = json.loads((work / "artifacts/search_results.json").read_text())

    started = time.perf_counter()
    plain = plain_tutorial(work / "data/prepared", trials=params["search"]["max_candidates"], seed=seed)
    plain["wall_seconds"] = round(time.perf_counter() - started, 1)
    shutil.rmtree(work, ignore_errors=True)
    return {
        "seed": seed,
        "ours": {
            "test_accuracy": test["test_accuracy"],
            "best_val_accuracy": search["best_val_accuracy"],
            "retrain_epochs": test["epochs"],
            "candidates": search["candidates"],
            "failed": search["failed"],
            "failures": [r["error"] for r in results if r["status"] == "FAILED"],
            "wall_seconds": round(ours_seconds, 1),
        },
        "plain": plain,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="subsample MNIST (default: all 70,000)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="search seeds, both sides")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/seed_example.json")
    args = parser.parse_args()
    runs = []
    for seed in args.seeds:
        runs.append(one_seed(seed, args.limit))
        print(json.dumps(runs[-1], indent=2), flush=True)
    ours = [r["ours"]["test_accuracy"] for r in runs]
    plain = [r["plain"]["test_accuracy"] for r in runs if r["plain"]["test_accuracy"] is not None]
    report = {
        "dataset": f"mnist (limit {args.limit})" if args.limit else "mnist (all 70,000)",
        "command": "python -m benchmarks.seed_example --seeds " + " ".join(map(str, args.seeds)),
        "seeds": args.seeds,
        "runs": runs,
        "ours_median_test_accuracy": statistics.median(ours),
        "ours_min_test_accuracy": min(ours),
        "plain_median_test_accuracy": statistics.median(plain) if plain else None,
        "ours_at_least_plain_on_seeds": sum(
            r["ours"]["test_accuracy"] >= (r["plain"]["test_accuracy"] or 0.0) for r in runs
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
