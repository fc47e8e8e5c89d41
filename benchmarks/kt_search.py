"""The Keras Tuner side of benchmarks/keras_tuner.py: one search, run in its own process and timed from outside.

    python -m benchmarks.kt_search --tuner random --space space.json --trials 10 --epochs 5 --seed 0 --out kt.json

The HyperModel is our search space, dimension by dimension: every choice is an `hp.Choice`
with the same values, and a per-block choice lives in a `conditional_scope` of the depth that
activates it, as `Condition` does in `nas_core/space.py`. The model it builds is our builder's
model (`nas_core.builder.build_model`), compiled and trained like a search candidate, so the two
sides differ only in the search machinery. Needs the benchmark-only extra:
`pip install -e ".[bench]"` (keras-tuner 1.4.8, and tensorboard, without which its trials fail).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from nas_core.architecture import prepare_architecture
from nas_core.builder import build_model
from nas_core.space import SearchSpace
from nas_core.training import compile_model


class SpaceHyperModel(kt.HyperModel):
    """Our `SearchSpace` as a Keras Tuner HyperModel: the same choices, the same conditions."""

    def __init__(self, space: SearchSpace, input_shape: tuple[int, ...], num_classes: int, learning_rate: float):
        super().__init__()
        self.space = space
        self.input_shape = input_shape
        self.num_classes = num_classes
        self.learning_rate = learning_rate

    def sample(self, hp: kt.HyperParameters) -> dict[str, Any]:
        sample: dict[str, Any] = {}
        for dim in self.space.dimensions:
            parents = [c for c in self.space.conditions if c.dimension == dim.name]
            if not parents:
                sample[dim.name] = hp.Choice(dim.name, list(dim.choices))
                continue
            (cond,) = parents
            active = [v for v in self.space.dimension(cond.parent).choices if v >= cond.min_value]
            with hp.conditional_scope(cond.parent, active):
                value = hp.Choice(dim.name, list(dim.choices))
            if sample[cond.parent] >= cond.min_value:
                sample[dim.name] = value
        return sample

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        arch = prepare_architecture(self.space, self.sample(hp), self.input_shape)
        model = build_model(arch, self.input_shape, self.num_classes)
        compile_model(model, self.learning_rate)
        return model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tuner", choices=["random", "hyperband"], required=True)
    parser.add_argument("--space", type=Path, required=True, help="SearchSpace.to_dict() as JSON")
    parser.add_argument("--trials", type=int, default=10, help="RandomSearch max_trials")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per trial; Hyperband's max_epochs")
    parser.add_argument("--factor", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=Path("data/prepared"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    train, val = np.load(args.data / "train.npz"), np.load(args.data / "val.npz")
    x, y, xv, yv = train["x"], train["y"], val["x"], val["y"]
    space = SearchSpace.from_dict(json.loads(args.space.read_text()))
    hypermodel = SpaceHyperModel(space, tuple(x.shape[1:]), int(y.max()) + 1, args.learning_rate)
    common: dict[str, Any] = {
        "objective": "val_accuracy",
        "seed": args.seed,
        "directory": tempfile.mkdtemp(prefix="kt-"),
        "project_name": "bench",
        "overwrite": True,
    }
    if args.tuner == "random":
        tuner: kt.Tuner = kt.RandomSearch(hypermodel, max_trials=args.trials, **common)
    else:
        tuner = kt.Hyperband(hypermodel, max_epochs=args.epochs, factor=args.factor, hyperband_iterations=1, **common)
    tuner.search(x, y, validation_data=(xv, yv), epochs=args.epochs, batch_size=args.batch_size, verbose=0)

    trials = [t for t in tuner.oracle.trials.values() if t.score is not None]
    best = tuner.oracle.get_best_trials(1)[0]

    def architecture(trial: Any) -> dict[str, Any]:
        values = trial.hyperparameters.values
        return prepare_architecture(space, {k: v for k, v in values.items() if not k.startswith("tuner/")}, x.shape[1:])

    arch = architecture(best)
    epochs = [
        int(t.hyperparameters.values.get("tuner/epochs", args.epochs))
        - int(t.hyperparameters.values.get("tuner/initial_epoch", 0))
        for t in trials
    ]
    new = [t for t in trials if int(t.hyperparameters.values.get("tuner/round", 0)) == 0]
    drawn = [architecture(t) for t in new]  # no model built: the caller counts parameters after the clock stops
    record = {
        "tuner": args.tuner,
        "seed": args.seed,
        "trials": len(trials),
        "candidates": len(new),  # Hyperband: trials that start a new architecture (round 0)
        "training_epochs": int(sum(epochs)),
        "best_val_accuracy": float(best.score),
        "best_architecture": arch,
        "drawn_architectures": drawn,
    }
    args.out.write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
