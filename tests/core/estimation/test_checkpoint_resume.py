"""Multi-fidelity training resumes a promoted candidate from its checkpoint instead of starting over."""

from __future__ import annotations

from pathlib import Path

import keras
import pytest
from sklearn.datasets import load_digits

from nas_core.training import Arrays, TrainSettings, train_candidate
from tests.conftest import TINY_CNN, digits_arrays

pytestmark = pytest.mark.slow

ARCH = TINY_CNN


def test_rung_two_continues_from_the_checkpoint_of_rung_one(tmp_path: Path) -> None:
    arrays = digits_arrays(500, 200)
    checkpoint = str(tmp_path / "checkpoints" / "k.keras")
    settings = TrainSettings(epochs=3, patience=10, learning_rate=0.01)

    rung1 = train_candidate(ARCH, arrays, settings, seed=0, save_to=checkpoint)
    assert rung1.ok and rung1.epochs_run == 3 and Path(checkpoint).is_file()
    saved = keras.models.load_model(checkpoint)
    val_loss, _ = saved.evaluate(arrays.x_val, arrays.y_val, verbose=0)
    assert val_loss == pytest.approx(rung1.val_loss, rel=1e-4)  # the checkpoint is the model rung 1 scored

    rung2 = train_candidate(
        ARCH,
        arrays,
        TrainSettings(epochs=5, patience=10, learning_rate=0.01),
        seed=0,
        initial_epoch=rung1.epochs_run,
        resume_from=checkpoint,
    )
    assert rung2.ok and rung2.epochs_run == 5  # the epoch count goes on
    assert len(rung2.history["loss"]) == 2  # only the two new epochs were trained
    first, last = rung1.history["loss"][0], rung1.history["loss"][-1]
    assert abs(rung2.history["loss"][0] - last) < 0.5 * (first - last)  # starts where rung 1 ended, not afresh
    assert rung2.history["val_loss"][0] < rung1.history["val_loss"][0]


def test_a_missing_checkpoint_is_a_failed_candidate_not_a_crash(tmp_path: Path) -> None:
    data = load_digits()
    x = (data.images / 16.0).astype("float32")[..., None]
    arrays = Arrays(x[:100], data.target[:100], x[100:150], data.target[100:150])
    result = train_candidate(
        ARCH, arrays, TrainSettings(epochs=2), seed=0, initial_epoch=1, resume_from=str(tmp_path / "gone.keras")
    )
    assert not result.ok and "gone.keras" in (result.error or "")
