"""The tabular benchmark's comparison with regularized evolution: paired by seed, and issue 23's verdict."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from benchmarks.render import vs_evolution_text
from benchmarks.tabular.run_strategies import first_hit, paired, target


def test_paired_counts_seeds_and_tests_only_when_something_differs() -> None:
    ours, reference = np.array([0.01, 0.02, 0.03, 0.01]), np.array([0.02, 0.02, 0.01, 0.03])
    result = paired(ours, reference)
    assert (result["better"], result["tied"], result["worse"]) == (2, 1, 1)
    assert result["median_ratio"] == np.median(ours) / np.median(reference)
    assert 0 < result["wilcoxon_p"] <= 1
    assert paired(reference, reference)["wilcoxon_p"] == 1.0  # every seed tied: no evidence either way


def test_first_hit_is_the_query_that_found_the_best_by_validation_model() -> None:
    curves = np.array([[0.90, 0.95, 0.97, 0.97], [0.90, 0.91, 0.92, 0.93]])
    assert first_hit(curves, 0.97).tolist() == [3, 5]  # 5: not found within 4 queries


def summary_of(medians: dict[str, float]) -> dict[str, Any]:
    def entry(median: float) -> dict[str, Any]:
        vs = {"median_ratio": median / medians["evolution"], "better": 1, "tied": 0, "worse": 0, "wilcoxon_p": 0.01}
        return {"regret_median": median, "regret_mean": median, "regret_std": 0.0, "vs_evolution": vs}

    return {name: {"100": entry(median)} for name, median in medians.items()}


def render(medians: dict[str, float], floor: float) -> str:
    summary = summary_of(medians)
    goal = target(SimpleNamespace(best_test=1.0, test_of_best_val=1.0 - floor), summary)  # type: ignore[arg-type]
    assert goal is not None
    return vs_evolution_text({"metadata": {"seeds": 100, "budgets": [100]}, "summary": summary, "target": goal})


def test_the_verdict_is_computed_from_the_results() -> None:
    met = render({"evolution": 0.02, "tpe": 0.012, "surrogate": 0.009}, floor=0.001)
    assert "**met**" in met and "surrogate's, 0.0090" in met and "threshold is 0.0100" in met

    missed = render({"evolution": 0.02, "tpe": 0.015}, floor=0.001)
    assert "**not met**" in missed and "below the floor" not in missed


def test_a_threshold_below_the_floor_is_said_to_be_out_of_reach() -> None:
    text = render({"evolution": 0.0069, "tpe": 0.0069}, floor=0.0069)
    assert "**not met**" in text and "below the floor, 0.0069" in text
