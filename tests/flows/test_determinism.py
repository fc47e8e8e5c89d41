"""The retrain stage trains its seeds side by side in single-threaded workers, and the same seed gives the same model.

With several TensorFlow threads in one process, the retrain of one winner with one seed scored
0.9851 or 0.9888 on test from one `python -m flows.retrain` to the next. One thread per worker
process adds in one order; the cores are used by training the seeds at once instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from flows.retrain import promotion_score, retrain_trainer, retrain_winner
from nas_core.config import NasConfig
from nas_core.train_settings import retrain_settings
from tests.conftest import TINY_CNN, write_digits_splits

pytestmark = pytest.mark.slow

CFG = NasConfig.model_validate({"retrain": {"epochs": 3, "seeds": 2, "folds": 2}})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_digits_splits(tmp_path_factory.mktemp("prepared"), {"train": 300, "val": 100, "test": 100})


def test_seeds_train_side_by_side_on_one_thread_each_and_give_the_same_models_twice(data_dir: Path) -> None:
    winner = {"architecture": TINY_CNN, "key": "0123abcd", "num_classes": 10}
    settings = retrain_settings(CFG, None)
    with retrain_trainer(CFG) as trainer:
        assert trainer.threads == 1 and trainer.parallelism == min(os.cpu_count() or 1, 2)
        first_model, _, first = retrain_winner.fn(CFG, winner, settings, data_dir, trainer)
        second_model, history, second = retrain_winner.fn(CFG, winner, settings, data_dir, trainer)
    assert len(first["test_accuracies"]) == 2 and first["test_accuracies"] == second["test_accuracies"]
    assert first["test_accuracies"][0] == first["test_accuracy_first_seed"] and len(history["loss"]) == 3
    assert first["ensemble_members"] == 2 and first["test_accuracy"] == second["test_accuracy"]  # the saved ensemble
    for a, b in zip(first_model.get_weights(), second_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_promotion_score_scores_every_train_and_val_example_once_and_the_same_every_time(data_dir: Path) -> None:
    settings = retrain_settings(CFG, None)
    with retrain_trainer(CFG) as trainer:
        first = promotion_score.fn(CFG, TINY_CNN, settings, 10, data_dir, trainer)
        again = promotion_score.fn(CFG, TINY_CNN, settings, 10, data_dir, trainer)
    assert first.examples == 400 and len(first.fold_accuracies) == 2  # train (300) + val (100), in 2 folds
    assert first == again and 0.1 < first.accuracy <= 1.0
