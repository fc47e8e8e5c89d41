"""The winner's retrain recipe: the epoch the search kept, stratified folds, and a real cross-validation."""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest

from nas_core.cross_validation import stratified_folds
from nas_core.results import COMPLETED, CandidateResult
from nas_core.retraining import cross_validate, fit_final_model
from nas_core.train_settings import TrainSettings
from nas_core.training import learning_rate
from tests.conftest import TINY_CNN, digits_arrays


def test_the_best_epoch_is_the_lowest_val_loss_counted_from_the_first_epoch_ever_trained() -> None:
    full = CandidateResult("k", {}, COMPLETED, epochs_run=6, history={"val_loss": [0.9, 0.5, 0.4, 0.45, 0.6, 0.7]})
    assert full.best_epoch == 3
    # A multi-fidelity candidate resumed at epoch 3: its history holds epochs 4-6 only.
    resumed = CandidateResult("k", {}, COMPLETED, epochs_run=6, history={"val_loss": [0.5, 0.3, 0.35]})
    assert resumed.best_epoch == 5
    diverged = CandidateResult("k", {}, COMPLETED, epochs_run=2, history={"val_loss": [0.5, float("nan")]})
    assert diverged.best_epoch is None
    assert CandidateResult("k", {}, COMPLETED).best_epoch is None


def test_folds_are_stratified_balanced_and_seeded() -> None:
    y = np.repeat(np.arange(4), [10, 7, 5, 3])
    folds = stratified_folds(y, 3, seed=1)
    assert np.array_equal(folds, stratified_folds(y, 3, seed=1))
    assert not np.array_equal(folds, stratified_folds(y, 3, seed=2))
    for label in range(4):  # every class spread as evenly as its size allows
        counts = np.bincount(folds[y == label], minlength=3)
        assert counts.max() - counts.min() <= 1
    assert np.bincount(folds).max() - np.bincount(folds).min() <= 1  # and the folds as a whole
    with pytest.raises(ValueError, match="at least 2 folds"):
        stratified_folds(y, 1, seed=0)


def test_the_cosine_gives_the_same_rate_at_the_same_epoch_on_any_data_size() -> None:
    """So a retrain on the larger train+val is at epoch k where the search's training was at epoch k."""
    settings = TrainSettings(epochs=5, batch_size=32, learning_rate=1e-3, schedule_epochs=10)
    small, large = learning_rate(settings, 320), learning_rate(settings, 640)  # 10 and 20 steps per epoch
    assert isinstance(small, keras.optimizers.schedules.CosineDecay) and isinstance(large, type(small))
    assert float(small(0)) == pytest.approx(1e-3)
    assert float(small(30)) == pytest.approx(float(large(60)))  # the end of epoch 3 on both
    assert float(small(50)) == pytest.approx(5e-4, rel=1e-4)  # half-way through the 10 scheduled epochs
    assert float(small(100)) == pytest.approx(0.0, abs=1e-9)  # zero at the end of the schedule
    assert learning_rate(replace(settings, schedule="constant"), 320) == 1e-3


@pytest.mark.slow
def test_the_final_model_trains_exactly_the_given_epochs_along_the_search_schedule() -> None:
    data = digits_arrays(320, 0)
    settings = TrainSettings(epochs=3, batch_size=32, learning_rate=1e-3, schedule_epochs=6)
    model, history = fit_final_model(TINY_CNN, data.x_train, data.y_train, 10, settings, seed=0)
    assert len(history["loss"]) == 3 and history["loss"][-1] < history["loss"][0]
    # 3 of the schedule's 6 epochs done: the rate is half-way down the cosine, as in the search at epoch 3.
    rate = model.optimizer.learning_rate
    assert float(rate.numpy() if hasattr(rate, "numpy") else rate) == pytest.approx(5e-4, rel=1e-3)


@pytest.mark.slow
def test_cross_validation_scores_every_example_once_on_a_model_that_never_saw_it() -> None:
    data = digits_arrays(400, 0)
    settings = TrainSettings(epochs=4, batch_size=32, learning_rate=3e-3)
    cv = cross_validate(TINY_CNN, data.x_train, data.y_train, 10, settings, folds=3, seed=0)
    assert cv.examples == 400 and len(cv.fold_accuracies) == 3
    assert 0.3 < cv.accuracy < 1.0  # learned something on 4 epochs, and is scored on held-out images
    assert min(cv.fold_accuracies) <= cv.accuracy <= max(cv.fold_accuracies)
    assert cv.to_dict()["promotion_accuracy"] == cv.accuracy
    again = cross_validate(TINY_CNN, data.x_train, data.y_train, 10, settings, folds=3, seed=0)
    assert again.fold_accuracies == pytest.approx(cv.fold_accuracies, abs=0.02)  # seeded: the same folds and inits
