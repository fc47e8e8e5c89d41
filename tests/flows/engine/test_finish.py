"""The end of a search: how many candidates val cannot tell from the winner, the re-scored ones, the winner record."""

from __future__ import annotations

from dataclasses import replace

from flows.engine.finish import winner_record, with_cv_scores, within_noise_of
from flows.engine.reevaluate import as_cv_scored
from nas_core.objectives import Objective, ranked_by
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


def test_the_cross_validated_scores_rank_by_the_same_rule_and_replace_only_their_own_candidates() -> None:
    first_by_val, second_by_val = scored(0, 1.0, loss=0.01), scored(1, 0.9963, loss=0.02)
    rescored = [
        replace(first_by_val, cv_accuracy=0.981, cv_loss=0.07),
        replace(second_by_val, cv_accuracy=0.990, cv_loss=0.05),
    ]
    # The winner rule on the cross-validated scores puts val's second first.
    ranked = ranked_by([as_cv_scored(r) for r in rescored], Objective())
    assert [r.index for r in ranked] == [1, 0] and ranked[0].val_accuracy == 0.990
    # This search's results get the re-scored copies; one of an earlier search (same index, other key) does not.
    other_search = replace(scored(1, 0.5), key="another")
    results = with_cv_scores([first_by_val, other_search, scored(2, 0.9)], rescored)
    assert [r.cv_accuracy for r in results] == [0.981, None, None]
    assert results[0].val_accuracy == 1.0  # val's own score stays
