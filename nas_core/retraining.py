"""The winner's retrain: the search's own recipe on train+val, a cross-validated score, several seeds.

The search trained each candidate with Adam from `train.learning_rate` along its schedule (by
default a cosine to zero over `train.epochs`) and kept the weights of its best val-loss epoch;
that epoch count is what the search found to work for this architecture. The retrain repeats
exactly that recipe on train+val for that many epochs, the rate at each epoch the same as in the
search (the larger set makes each epoch proportionally more steps), so the model scored on test
is the one the search ranked.

Before that, k-fold cross-validation on train+val scores the same recipe on data the retrained
model never fits: the promotion score the champion rule compares, since test must never choose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from nas_core.builder import build_model
from nas_core.train_settings import TrainSettings
from nas_core.training import NanGuard, compile_model, learning_rate


def stratified_folds(y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """A fold number per example, every class spread evenly over the folds (seeded)."""
    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {folds}")
    assignment = np.empty(len(y), dtype=np.int64)
    rng = np.random.default_rng(seed)
    offset = 0
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        assignment[members] = (np.arange(len(members)) + offset) % folds
        offset += len(members)  # so that small classes do not all start in fold 0
    return assignment


def fit_final_model(
    arch: Mapping[str, Any],
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    settings: TrainSettings,
    seed: int,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Train `arch` on all of `x` with the search's recipe (Adam, its schedule) for `settings.epochs`."""
    keras.utils.set_random_seed(seed)
    model = build_model(arch, tuple(int(d) for d in x.shape[1:]), num_classes)
    compile_model(model, learning_rate(settings, len(x)))
    guard = NanGuard()
    fit = model.fit(x, y, epochs=settings.epochs, batch_size=settings.batch_size, callbacks=[guard], verbose=0)
    if guard.bad_epoch is not None:
        raise RuntimeError(f"retraining the winner diverged: loss became NaN/inf at epoch {guard.bad_epoch}")
    return model, {k: [float(v) for v in values] for k, values in fit.history.items()}


@dataclass(frozen=True)
class CrossValidation:
    """Held-out scores of one recipe over k folds: their mean, weighted by fold size, is the promotion score."""

    accuracy: float
    loss: float
    fold_accuracies: tuple[float, ...]
    examples: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "promotion_accuracy": self.accuracy,
            "promotion_loss": self.loss,
            "promotion_fold_accuracies": list(self.fold_accuracies),
            "promotion_examples": self.examples,
        }


def cross_validate(
    arch: Mapping[str, Any],
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    settings: TrainSettings,
    folds: int,
    seed: int,
) -> CrossValidation:
    """Train the recipe on k-1 folds and score the held-out fold, k times; the folds depend on `seed` only."""
    assignment = stratified_folds(y, folds, seed)
    accuracies, losses, weights = [], [], []
    for fold in range(folds):
        held = assignment == fold
        model, _ = fit_final_model(arch, x[~held], y[~held], num_classes, settings, seed + fold)
        loss, accuracy = model.evaluate(x[held], y[held], batch_size=256, verbose=0)
        accuracies.append(float(accuracy))
        losses.append(float(loss))
        weights.append(int(held.sum()))
        keras.backend.clear_session()
    return CrossValidation(
        accuracy=float(np.average(accuracies, weights=weights)),
        loss=float(np.average(losses, weights=weights)),
        fold_accuracies=tuple(accuracies),
        examples=int(sum(weights)),
    )
