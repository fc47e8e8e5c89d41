"""The winner's retrain: the search's own recipe on train+val, a cross-validated score, several seeds.

The search trained each candidate with Adam from `train.learning_rate` along its schedule (by
default a cosine to zero over `train.epochs`) and kept the weights of its best val-loss epoch;
that epoch count is what the search found to work for this architecture. The retrain repeats
exactly that recipe on train+val for that many epochs, the rate at each epoch the same as in the
search (the larger set makes each epoch proportionally more steps), so the model scored on test
is the one the search ranked.

k-fold cross-validation on train+val scores the same recipe on data each fold's model never fits.
It re-scores the search's top candidates (search.reevaluate_top_k) when val alone cannot tell
them apart, and the winner's score is the promotion score the champion rule compares, since test
must never choose. Each fold can train on its own (`score_fold`), in a worker process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from nas_core.builder import build_model
from nas_core.cross_validation import CrossValidation, FoldScore, combine_folds, stratified_folds
from nas_core.train_settings import TrainSettings
from nas_core.training import NanGuard, compile_model, learning_rate


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
        raise RuntimeError(f"the retrain recipe diverged: loss became NaN/inf at epoch {guard.bad_epoch}")
    return model, {k: [float(v) for v in values] for k, values in fit.history.items()}


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
    return combine_folds([score_fold(arch, x, y, num_classes, settings, folds, fold, seed) for fold in range(folds)])


def score_fold(
    arch: Mapping[str, Any],
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    settings: TrainSettings,
    folds: int,
    fold: int,
    seed: int,
) -> FoldScore:
    """Fold `fold` of `cross_validate`, alone: so that a worker process can train each fold of each candidate."""
    held = stratified_folds(y, folds, seed) == fold
    model, _ = fit_final_model(arch, x[~held], y[~held], num_classes, settings, seed + fold)
    loss, accuracy = model.evaluate(x[held], y[held], batch_size=256, verbose=0)
    keras.backend.clear_session()
    return FoldScore(float(accuracy), float(loss), int(held.sum()))
