"""A score's uncertainty from its number of examples: Wilson intervals and the noise of a difference."""

from __future__ import annotations

import pytest

from nas_core.results import COMPLETED, CandidateResult
from nas_core.uncertainty import difference_noise, standard_error, wilson_interval


def test_a_perfect_score_on_few_examples_keeps_a_width() -> None:
    low, high = wilson_interval(1.0, 270)
    assert high == 1.0 and 0.98 < low < 0.99  # 270 val images all right: still not better than ~98.6%
    assert wilson_interval(1.0, 10_000)[0] > low  # more examples, a tighter interval
    assert standard_error(1.0, 270) > 0.0


def test_the_interval_holds_the_accuracy_and_narrows_with_more_examples() -> None:
    for accuracy in (0.0, 0.3, 0.5, 0.9665, 1.0):
        small, large = wilson_interval(accuracy, 50), wilson_interval(accuracy, 5_000)
        assert 0.0 <= small[0] <= accuracy <= small[1] <= 1.0
        assert large[1] - large[0] < small[1] - small[0]
    with pytest.raises(ValueError, match="at least one example"):
        wilson_interval(0.5, 0)


def test_the_noise_of_a_difference_adds_both_sides() -> None:
    one = standard_error(0.97, 270)
    assert difference_noise(one, one) == pytest.approx(1.959964 * one * 2**0.5, rel=1e-5)
    assert difference_noise(one, 0.0) < difference_noise(one, one)


def test_a_result_knows_its_interval_only_with_its_number_of_examples() -> None:
    result = CandidateResult("k", {}, COMPLETED, val_accuracy=0.9, val_examples=100)
    assert result.val_interval == wilson_interval(0.9, 100)
    assert CandidateResult("k", {}, COMPLETED, val_accuracy=0.9).val_interval is None
    assert CandidateResult("k", {}, COMPLETED, val_accuracy=float("nan"), val_examples=100).val_interval is None
