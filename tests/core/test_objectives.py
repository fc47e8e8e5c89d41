"""The objectives the strategy sees, the winner rule, and the search loop's score hook."""

from __future__ import annotations

from dataclasses import replace

import pytest

from nas_core.errors import NasError
from nas_core.objectives import Objective, best_by, ranked_by
from nas_core.pareto import ParetoPoint, pareto_front
from nas_core.results import COMPLETED, CandidateResult, failed
from nas_core.search_loop import Candidate, run_search
from nas_core.space import SearchSpace, sample_key
from nas_core.strategies import make_strategy


def result(index: int, accuracy: float, params: int, latency: float | None = None) -> CandidateResult:
    return CandidateResult(
        f"k{index}", {}, COMPLETED, val_accuracy=accuracy, params=params, index=index, latency_ms=latency
    )


def test_accuracy_objective_is_the_val_accuracy_and_failures_score_none() -> None:
    objective = Objective()
    assert objective(result(0, 0.9, 1000)) == 0.9
    assert objective(failed("k", {}, "boom")) is None


def test_params_trade_off_follows_the_documented_formula() -> None:
    objective = Objective("accuracy_params", weight=0.07, target=10_000)
    assert objective(result(0, 0.9, 10_000)) == pytest.approx(0.9)  # at the target: the accuracy itself
    assert objective(result(0, 0.9, 20_000)) == pytest.approx(0.9 * 2**-0.07)  # twice the size: ~5% less
    assert objective(result(0, 0.9, 5_000)) == pytest.approx(0.9 * 2**0.07)
    assert Objective("accuracy_params", weight=0.0)(result(0, 0.9, 10**9)) == pytest.approx(0.9)


def test_latency_objective_needs_a_measured_latency() -> None:
    objective = Objective("accuracy_latency", weight=0.1, target=2.0)
    assert objective(result(0, 0.8, 100, latency=4.0)) == pytest.approx(0.8 * 2**-0.1)
    assert objective(result(0, 0.8, 100, latency=None)) is None
    assert objective(result(0, 0.8, 100, latency=0.0)) is not None  # a 0 ms measurement does not divide by zero


def test_bad_objective_settings_name_the_key() -> None:
    with pytest.raises(NasError, match=r"search\.objective:"):
        Objective("speed")
    with pytest.raises(NasError, match=r"search\.objective_weight"):
        Objective("accuracy_params", weight=-1.0)
    with pytest.raises(NasError, match=r"search\.objective_target"):
        Objective("accuracy_params", target=0.0)


def test_winner_rule_prefers_the_score_then_fewer_params() -> None:
    results = [result(0, 0.95, 90_000), result(1, 0.93, 9_000), result(2, 0.93, 8_000), failed("k", {}, "x", 3)]
    assert best_by(results, Objective()).index == 0  # accuracy: the most accurate
    assert best_by(results, Objective("accuracy_params", target=10_000)).index == 2  # tie on accuracy: fewer params
    assert best_by([failed("k", {}, "x")], Objective()) is None


def test_a_tie_on_val_accuracy_goes_to_the_lower_val_loss_then_to_fewer_params() -> None:
    """Val saturates on small splits: among candidates all at 1.0 the most confident one wins, not the smallest."""
    saturated = [
        replace(result(0, 1.0, 8_000), val_loss=0.030),
        replace(result(1, 1.0, 90_000), val_loss=0.012),
        replace(result(2, 1.0, 7_000), val_loss=0.012),
        replace(result(3, 1.0, 1_000), val_loss=None),  # no loss recorded: ranks after every known loss
        replace(result(4, 0.99, 500), val_loss=0.001),  # a lower loss never beats a higher accuracy
    ]
    assert [r.index for r in ranked_by(saturated, Objective())] == [2, 1, 0, 3, 4]
    assert best_by(saturated, Objective()).index == 2


def test_the_trade_off_winner_is_on_the_pareto_front() -> None:
    results = [
        result(i, acc, params)
        for i, (acc, params) in enumerate(
            [(0.90, 5_000), (0.95, 50_000), (0.91, 60_000), (0.97, 400_000), (0.80, 4_000)]
        )
    ]
    front = {p.index for p in pareto_front(ParetoPoint(r.index, r.val_accuracy or 0, r.params or 0) for r in results)}
    for weight in (0.0, 0.03, 0.07, 0.2, 1.0):
        winner = best_by(results, Objective("accuracy_params", weight=weight, target=20_000))
        assert winner is not None and winner.index in front


SPACE = SearchSpace.from_choices({"width": [1, 2, 4, 8, 16, 32], "depth": [1, 2, 3]})


class SizeEvaluator:
    """Accuracy grows with size, saturating: bigger is always a bit better, but with diminishing returns."""

    def __init__(self) -> None:
        self.queue: list[Candidate] = []

    def submit(self, candidate: Candidate) -> None:
        self.queue.append(candidate)

    def wait(self) -> tuple[Candidate, CandidateResult]:
        candidate = self.queue.pop(0)
        size = candidate.architecture["width"] * candidate.architecture["depth"]
        accuracy = 1.0 - 0.5 / (1 + size)
        return candidate, result(candidate.index, accuracy, 1000 * size)


def make(index: int, sample: dict) -> Candidate:
    return Candidate(index, sample, dict(sample), sample_key(sample))


def test_run_search_tells_the_strategy_the_injected_score() -> None:
    told: list[float | None] = []

    class Recording:
        def __init__(self) -> None:
            self.inner = make_strategy("random", SPACE, seed=0)

        def ask(self, n: int = 1) -> list[dict]:
            return self.inner.ask(n)

        def tell(self, sample: dict, score: float | None) -> None:
            told.append(score)
            self.inner.tell(sample, score)

    objective = Objective("accuracy_params", weight=0.5, target=1000)
    results = run_search(Recording(), SizeEvaluator(), make, budget=6, parallelism=2, score=objective)
    assert told == [objective(r) for r in sorted(results, key=lambda r: r.index)]
    assert told != [r.score for r in sorted(results, key=lambda r: r.index)]  # not the plain accuracy


def test_the_objective_changes_the_winner_of_a_search() -> None:
    """The whole 18-model space searched: by accuracy the biggest model wins, with a size penalty a small one."""

    def winner(objective: Objective) -> CandidateResult:
        strategy = make_strategy("random", SPACE, seed=1)
        results = run_search(strategy, SizeEvaluator(), make, budget=18, parallelism=2, score=objective)
        assert len(results) == 18
        best = best_by(results, objective)
        assert best is not None
        return best

    assert winner(Objective()).params == 32 * 3 * 1000
    assert (winner(Objective("accuracy_params", weight=0.5, target=1000)).params or 0) <= 2000
