"""The end of a search: how many candidates val cannot tell from the winner, and what the winner record keeps."""

from __future__ import annotations

from flows.engine.finish import winner_record, within_noise_of
from nas_core.results import COMPLETED, CandidateResult, failed


def scored(index: int, accuracy: float, examples: int = 270, loss: float = 0.1) -> CandidateResult:
    return CandidateResult(
        f"k{index}", {}, COMPLETED, val_accuracy=accuracy, val_loss=loss, val_examples=examples, index=index
    )


def test_candidates_whose_interval_overlaps_the_winners_are_within_the_noise() -> None:
    best = scored(0, 1.0)
    results = [best, scored(1, 0.9963), scored(2, 0.9926), scored(3, 0.90), failed("k4", {}, "boom", 4)]
    # 269 and 268 of 270 right: their 95% intervals overlap the winner's; 243 of 270 does not; a failure never counts.
    assert within_noise_of(best, results) == 2
    assert within_noise_of(scored(0, 1.0, examples=0), results) is None  # no number of examples: no interval


def test_the_winner_record_keeps_what_the_retrain_and_the_gap_need() -> None:
    best = CandidateResult(
        "k",
        {"conv_blocks": 1},
        COMPLETED,
        val_accuracy=0.99,
        val_loss=0.05,
        val_examples=200,
        epochs_run=9,
        history={"val_loss": [0.3, 0.1, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.11]},
        index=3,
        params=1000,
    )
    record = winner_record(best, {"input_shape": [8, 8, 1], "num_classes": 10}, "parent")
    assert record["best_epoch"] == 3 and record["val_examples"] == 200 and record["val_loss"] == 0.05
    low, high = record["val_accuracy_interval"]
    assert low < 0.99 < high
