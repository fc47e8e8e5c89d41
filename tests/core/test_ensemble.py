"""The retrain seeds as one model: the mean of their probabilities, saved and loaded like any Keras model."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from nas_core.builder import build_model
from nas_core.config import validate_config
from nas_core.ensemble import average_models, scores
from tests.conftest import TINY_CNN


def members(count: int) -> list[keras.Model]:
    built = []
    for seed in range(count):
        keras.utils.set_random_seed(seed)  # different weights, so the mean differs from each member
        built.append(build_model(TINY_CNN | {"skip_0": True, "batch_norm": True}, (8, 8, 1), 10))
    return built


def test_the_ensemble_predicts_the_mean_and_survives_a_save_and_load(tmp_path: Path) -> None:
    models = members(3)
    x = np.random.default_rng(0).random((16, 8, 8, 1), dtype="float32")
    y = np.arange(16) % 10
    mean = np.mean([m.predict(x, verbose=0) for m in models], axis=0)
    assert not np.allclose(mean, models[0].predict(x, verbose=0))
    ensemble = average_models(models)
    assert np.allclose(ensemble.predict(x, verbose=0), mean, atol=1e-6)
    assert ensemble.count_params() == sum(m.count_params() for m in models)
    ensemble.save(tmp_path / "ensemble.keras")
    loaded = keras.saving.load_model(tmp_path / "ensemble.keras", safe_mode=True)
    assert np.allclose(loaded.predict(x, verbose=0), mean, atol=1e-6)
    loss, accuracy = scores(loaded, x, y)
    picked = mean[np.arange(16), y]
    assert loss == pytest.approx(-np.mean(np.log(picked)), rel=1e-5)
    assert accuracy == pytest.approx(np.mean(mean.argmax(axis=1) == y))


def test_one_member_is_the_model_itself_and_none_is_refused() -> None:
    (model,) = members(1)
    assert average_models([model]) is model
    with pytest.raises(ValueError, match="at least one model"):
        average_models([])


@pytest.mark.parametrize(
    ("raw", "ensembles"),
    [
        ({}, True),  # the default: accuracy alone, no size limit
        ({"search": {"max_params": 50000}}, False),  # k seeds would be k times the limit
        ({"search": {"objective": "accuracy_latency"}}, False),
        ({"search": {"objective": "accuracy_params"}}, False),
        ({"search": {"max_params": 50000}, "retrain": {"ensemble": True}}, True),  # said explicitly
        ({"retrain": {"ensemble": False}}, False),
    ],
)
def test_the_default_ensembles_unless_the_search_bounds_size_or_latency(raw: dict, ensembles: bool) -> None:
    assert validate_config(raw).retrain_ensemble is ensembles
