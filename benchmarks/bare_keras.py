"""The baseline of benchmarks/overhead.py: fit each architecture in a plain Keras loop, no tracking.

Same builder, seeds, optimizer, batch size and early stopping as a search candidate; nothing else.
Prints, as JSON, each model's build-compile-fit seconds: the span a search candidate's
`train_seconds` covers, so the benchmark can split wall time into training and the rest.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import keras
import numpy as np

from nas_core.builder import build_model
from nas_core.space import sample_key


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--archs", type=Path, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data", type=Path, default=Path("data/prepared"))
    args = parser.parse_args()
    train, val = np.load(args.data / "train.npz"), np.load(args.data / "val.npz")
    x, y, xv, yv = train["x"], train["y"], val["x"], val["y"]
    train_seconds = []
    for arch in json.loads(args.archs.read_text()):
        started = time.perf_counter()
        key = sample_key(arch)
        keras.utils.set_random_seed(int(key[:8], 16) % (2**31 - 1))  # flows.search.candidate_seed with seed 0
        model = build_model(arch, x.shape[1:], int(y.max()) + 1)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=args.epochs, restore_best_weights=True)
        model.fit(
            x, y, validation_data=(xv, yv), epochs=args.epochs, batch_size=args.batch_size, callbacks=[stop], verbose=0
        )
        train_seconds.append(time.perf_counter() - started)
        model.evaluate(xv, yv, batch_size=256, verbose=0)
        keras.backend.clear_session()
    print(json.dumps({"train_seconds": train_seconds}))


if __name__ == "__main__":
    main()
