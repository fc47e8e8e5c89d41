"""The summary `make run` ends with says what the saved model is: one network, or the retrain seeds averaged."""

from __future__ import annotations

from typing import Any

from flows.summary import results_lines

TEST: dict[str, Any] = {
    "params": 3 * 1000,
    "ensemble_members": 3,
    "retrain_seeds": 3,
    "test_accuracy": 0.99,
    "test_accuracy_mean": 0.985,
    "test_accuracy_sd": 0.004,
    "test_examples": 269,
    "promotion_accuracy": 0.98,
    "promotion_fold_accuracies": [0.97, 0.98, 0.99],
    "champion": True,
    "registered_model": "nas-test",
    "model_version": "1",
}


def test_an_ensemble_is_named_with_its_seeds_and_each_seeds_score() -> None:
    lines = results_lines(TEST, {})
    assert lines[0] == "Winner model:   models/winner.keras (3 seeds × 1,000 parameters)"
    assert (
        lines[1] == "Test accuracy:  0.9900  (269 images, 3 seeds averaged into one model; each alone 0.9850 ± 0.0040)"
    )


def test_a_single_model_keeps_the_plain_wording() -> None:
    single = TEST | {"ensemble_members": 1, "params": 1000}
    lines = results_lines(single, {})
    assert lines[0] == "Winner model:   models/winner.keras (1,000 parameters)"
    assert lines[1] == "Test accuracy:  0.9900  (269 images, 3 seeds: 0.9850 ± 0.0040)"
