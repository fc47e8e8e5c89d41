"""Training one candidate on real digits: a result record, early stopping, NaN and crashes become FAILED."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nas_core.results import COMPLETED, FAILED
from nas_core.training import Arrays, TrainSettings, restored_scores, train_candidate
from tests.conftest import TINY_CNN, digits_arrays

ARCH = TINY_CNN


@pytest.fixture(scope="module")
def digits() -> Arrays:
    return digits_arrays(500, 200)


def test_a_candidate_trains_and_reports_everything(digits: Arrays) -> None:
    result = train_candidate(
        ARCH, digits, TrainSettings(epochs=3, patience=3, learning_rate=0.01), seed=1, key="k", index=4
    )
    assert result.status == COMPLETED
    assert result.val_accuracy is not None and result.val_accuracy > 0.5  # 10 classes: chance is 0.1
    assert result.params is not None and result.params > 0
    assert result.epochs_run == 3
    assert len(result.history["loss"]) == 3 and len(result.history["val_accuracy"]) == 3
    assert result.train_seconds > 0
    assert result.index == 4 and result.key == "k"
    assert "Conv2D" in (result.summary or "")


def test_same_seed_same_result(digits: Arrays) -> None:
    settings = TrainSettings(epochs=2)
    first = train_candidate(ARCH, digits, settings, seed=3)
    second = train_candidate(ARCH, digits, settings, seed=3)
    assert first.history["loss"] == pytest.approx(second.history["loss"], rel=1e-5)


def test_early_stopping_stops_before_max_epochs(digits: Arrays) -> None:
    noisy = Arrays(digits.x_train, np.random.default_rng(0).permutation(digits.y_train), digits.x_val, digits.y_val)
    result = train_candidate(ARCH, noisy, TrainSettings(epochs=40, patience=1), seed=0)
    assert result.status == COMPLETED
    assert result.epochs_run < 40


def test_the_reported_val_scores_are_those_of_the_restored_weights(digits: Arrays, tmp_path: Path) -> None:
    """Early stopping restores the best epoch's weights; the result reports their val scores, not evaluated again."""
    import keras

    noisy = Arrays(digits.x_train, np.random.default_rng(0).permutation(digits.y_train), digits.x_val, digits.y_val)
    saved = tmp_path / "model.keras"
    result = train_candidate(ARCH, noisy, TrainSettings(epochs=8, patience=2), seed=0, save_to=str(saved))
    best = int(np.argmin(result.history["val_loss"]))
    assert best < len(result.history["val_loss"]) - 1  # the last epoch was not the best: weights were restored
    loss, accuracy = keras.models.load_model(saved).evaluate(digits.x_val, digits.y_val, batch_size=256, verbose=0)
    assert result.val_accuracy == pytest.approx(accuracy, abs=1e-6)
    assert result.val_loss == pytest.approx(loss, rel=1e-4)
    assert result.val_accuracy == result.history["val_accuracy"][best]


def test_restored_scores_need_a_scored_epoch() -> None:
    history = {"val_loss": [0.9, 0.5, 0.7], "val_accuracy": [0.6, 0.8, 0.7]}
    assert restored_scores(history, 1) == (0.5, 0.8)
    assert restored_scores(history, 3) is None
    assert restored_scores(history, -1) is None  # resumed past the epoch early stopping remembers
    assert restored_scores({}, 0) is None


def test_nan_loss_is_a_failed_candidate(digits: Arrays) -> None:
    result = train_candidate(ARCH, digits, TrainSettings(epochs=5, learning_rate=1e38), seed=0)
    assert result.status == FAILED
    assert "NaN" in (result.error or "")
    assert result.score is None


def test_an_exception_in_building_is_a_failed_candidate(digits: Arrays) -> None:
    result = train_candidate(ARCH | {"activation": "no-such-activation"}, digits, TrainSettings(epochs=1), seed=0)
    assert result.status == FAILED
    assert "no-such-activation" in (result.error or "")


def test_a_candidate_too_big_for_memory_fails_cleanly(digits: Arrays) -> None:
    huge = ARCH | {"dense_layers": 2, "units_0": 4_000_000, "units_1": 4_000_000}  # 16e12 weights
    result = train_candidate(huge, digits, TrainSettings(epochs=1), seed=0)
    assert result.status == FAILED
    assert result.error
