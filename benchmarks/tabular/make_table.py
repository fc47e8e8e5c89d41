"""Build a small tabular NAS benchmark: train every architecture of a space on scikit-learn's digits.

A table lets us compare strategies over hundreds of seeds for the price of one exhaustive
training run (the NAS-Bench-101/201 idea, Ying et al. 2019, Dong & Yang 2020), instead of
comparing them on a handful of expensive searches whose differences are noise.

    .venv/bin/python -m benchmarks.tabular.make_table            # ~20 min on 2 cores
    .venv/bin/python -m benchmarks.tabular.make_table --limit 4  # a timing probe
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from nas_core.space import Condition, Dimension, Sample, SearchSpace, sample_key

RESULTS = Path(__file__).resolve().parents[1] / "results"
EPOCHS = 10
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
SEEDS = (0, 1)
SPLIT_SEED = 0

_DATA: dict[str, np.ndarray] = {}


def digits_space() -> SearchSpace:
    """225 architectures: MLPs and 1-2 block CNNs; conditions hide what a shallower net lacks."""
    dims = (
        Dimension("conv_blocks", (0, 1, 2)),
        Dimension("filters_1", (8, 16, 32)),
        Dimension("filters_2", (8, 16, 32)),
        Dimension("kernel_size", (3, 5)),
        Dimension("dense_units", (0, 32, 128)),
        Dimension("activation", ("relu", "tanh", "sigmoid")),
    )
    conditions = (
        Condition("filters_1", "conv_blocks", 1),
        Condition("kernel_size", "conv_blocks", 1),
        Condition("filters_2", "conv_blocks", 2),
    )
    return SearchSpace(dims, conditions)


def all_architectures(space: SearchSpace) -> list[Sample]:
    """Every canonical sample of the space, in a fixed order, without repeats."""
    seen: dict[str, Sample] = {}
    for combo in itertools.product(*(d.choices for d in space.dimensions)):
        canonical = space.canonical(dict(zip(space.names, combo, strict=True)))
        seen.setdefault(sample_key(canonical), canonical)
    return list(seen.values())


def split_digits() -> dict[str, np.ndarray]:
    """A fixed stratified 60/20/20 split of the 1,797 digits, pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32").reshape(-1, 8, 8, 1)
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.4, stratify=y, random_state=SPLIT_SEED)
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=SPLIT_SEED
    )
    return {"x_train": x_train, "y_train": y_train, "x_val": x_val, "y_val": y_val, "x_test": x_test, "y_test": y_test}


def _init_worker() -> None:
    """One thread per worker, set before TensorFlow runs any op, so two workers share two cores."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    _DATA.update(split_digits())


def build_model(arch: Sample) -> Any:
    """The network a table row describes: conv blocks (conv + 2x2 max-pool), optional dense layer, softmax."""
    import keras

    inputs = keras.Input((8, 8, 1))
    x = inputs
    for block in range(1, arch["conv_blocks"] + 1):
        x = keras.layers.Conv2D(arch[f"filters_{block}"], arch["kernel_size"], padding="same")(x)
        x = keras.layers.Activation(arch["activation"])(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    if arch["dense_units"]:
        x = keras.layers.Dense(arch["dense_units"], activation=arch["activation"])(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def train_architecture(arch: Sample) -> dict[str, Any]:
    """Train one architecture once per seed; the row keeps the means and the per-seed numbers."""
    import keras

    started = time.perf_counter()
    val, test = [], []
    params = 0
    for seed in SEEDS:
        keras.utils.set_random_seed(seed)
        model = build_model(arch)
        model.compile(
            optimizer=keras.optimizers.Adam(LEARNING_RATE),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        model.fit(_DATA["x_train"], _DATA["y_train"], epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0)
        val.append(float(model.evaluate(_DATA["x_val"], _DATA["y_val"], verbose=0)[1]))
        test.append(float(model.evaluate(_DATA["x_test"], _DATA["y_test"], verbose=0)[1]))
        params = int(model.count_params())
        keras.backend.clear_session()
    return {
        "key": sample_key(arch),
        "arch": arch,
        "val_accuracy": float(np.mean(val)),
        "test_accuracy": float(np.mean(test)),
        "val_per_seed": val,
        "test_per_seed": test,
        "params": params,
        "seconds": round(time.perf_counter() - started, 3),
    }


def make_table(archs: list[Sample], workers: int, log_every: int = 10) -> list[dict[str, Any]]:
    """Train `archs` in spawned worker processes, recycled every 20 tasks so memory stays flat."""
    rows: list[dict[str, Any]] = []
    context = multiprocessing.get_context("spawn")
    started = time.perf_counter()
    # multiprocessing.Pool, not ProcessPoolExecutor: the latter's max_tasks_per_child deadlocks
    # on Python 3.11 once the first workers retire (CPython gh-115634).
    with context.Pool(workers, initializer=_init_worker, maxtasksperchild=20) as pool:
        for row in pool.imap_unordered(train_architecture, archs, chunksize=1):
            rows.append(row)
            if len(rows) % log_every == 0 or len(rows) == len(archs):
                elapsed = time.perf_counter() - started
                print(f"{len(rows)}/{len(archs)} trained, {elapsed:.0f} s elapsed", flush=True)
    return sorted(rows, key=lambda row: row["key"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--limit", type=int, default=None, help="train only N architectures spread over the space (timing)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "tabular_digits.json")
    args = parser.parse_args()

    space = digits_space()
    archs = all_architectures(space)
    assert len(archs) == space.size(), (len(archs), space.size())
    if args.limit:
        archs = archs[:: max(1, len(archs) // args.limit)][: args.limit]  # spread over the space
    started = time.perf_counter()
    rows = make_table(archs, args.workers)
    wall = time.perf_counter() - started
    data = split_digits()
    table = {
        "metadata": {
            "benchmark": "digits-tabular-v1",
            "space": space.to_dict(),
            "architectures": len(rows),
            "dataset": "sklearn.datasets.load_digits (8x8, 10 classes), pixels / 16",
            "split": {
                "train": len(data["y_train"]),
                "val": len(data["y_val"]),
                "test": len(data["y_test"]),
                "stratified": True,
                "random_state": SPLIT_SEED,
            },
            "training": {
                "epochs": EPOCHS,
                "batch_size": BATCH_SIZE,
                "optimizer": f"Adam(lr={LEARNING_RATE})",
                "seeds": list(SEEDS),
                "metric": "accuracy after the last epoch, mean over seeds",
            },
            "model": "conv_blocks x (Conv2D same + activation + MaxPool 2x2), Flatten, optional Dense, Dense(10)",
            "workers": args.workers,
            "wall_seconds": round(wall, 1),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": "python -m benchmarks.tabular.make_table " + " ".join(sys.argv[1:]),
            "versions": {"python": platform.python_version(), **_versions()},
        },
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(table, indent=1) + "\n")
    print(f"wrote {args.out}: {len(rows)} architectures in {wall:.0f} s")


def _versions() -> dict[str, str]:
    import keras
    import sklearn
    import tensorflow as tf

    return {"keras": keras.__version__, "tensorflow": tf.__version__, "sklearn": sklearn.__version__}


if __name__ == "__main__":
    main()
