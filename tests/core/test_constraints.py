"""`search.max_params`: big models are skipped before training, told as failures, and never loop for ever."""

from __future__ import annotations

import pytest

from nas_core.constraints import ParamBudget
from nas_core.errors import NasError
from nas_core.results import COMPLETED, CandidateResult
from nas_core.search_loop import Candidate, run_search
from nas_core.space import SearchSpace, sample_key
from nas_core.strategies import make_strategy

SPACE = SearchSpace.from_choices({"width": [1, 2, 4, 8, 16, 32], "depth": [1, 2, 3], "act": ["a", "b"]})


def params_of(sample: dict) -> int:
    return 1000 * sample["width"] * sample["depth"]


class CountingEvaluator:
    def __init__(self) -> None:
        self.trained: list[dict] = []
        self.queue: list[Candidate] = []

    def submit(self, candidate: Candidate) -> None:
        self.trained.append(candidate.architecture)
        self.queue.append(candidate)

    def wait(self) -> tuple[Candidate, CandidateResult]:
        c = self.queue.pop(0)
        size = params_of(c.architecture)
        return c, CandidateResult(
            c.key, c.architecture, COMPLETED, val_accuracy=1 - 1 / (1 + size), params=size, index=c.index
        )


def make(index: int, sample: dict) -> Candidate:
    return Candidate(index, sample, dict(sample), sample_key(sample))


@pytest.mark.parametrize("strategy", ["random", "evolution"])
def test_no_candidate_above_the_limit_is_trained_and_skips_do_not_use_the_budget(strategy: str) -> None:
    skipped: list[int] = []
    budget = ParamBudget(
        make_strategy(strategy, SPACE, seed=0), params_of, max_params=8000, on_skip=lambda s, p: skipped.append(p)
    )
    evaluator = CountingEvaluator()
    results = run_search(budget, evaluator, make, budget=10, parallelism=2)
    assert len(results) == 10  # the budget counts trained candidates only
    assert all(params_of(arch) <= 8000 for arch in evaluator.trained)
    assert budget.skipped == len(skipped) > 0 and all(p > 8000 for p in skipped)


def test_a_skip_is_told_to_the_strategy_as_a_failure() -> None:
    told: list[tuple[dict, float | None]] = []

    class Recording:
        uses_feedback = True

        def __init__(self) -> None:
            self.queue = [{"width": 32, "depth": 3, "act": "a"}, {"width": 1, "depth": 1, "act": "a"}]

        def ask(self, n: int = 1) -> list[dict]:
            batch, self.queue = self.queue[:n], self.queue[n:]
            return batch

        def tell(self, sample: dict, score: float | None) -> None:
            told.append((sample, score))

    budget = ParamBudget(Recording(), params_of, max_params=5000)  # type: ignore[arg-type]
    assert budget.ask(2) == [{"width": 1, "depth": 1, "act": "a"}]
    assert told == [({"width": 32, "depth": 3, "act": "a"}, None)]


def test_a_limit_nothing_fits_stops_with_an_error_naming_the_key() -> None:
    budget = ParamBudget(make_strategy("random", SPACE, seed=0), params_of, max_params=10)
    with pytest.raises(NasError, match=r"search\.max_params: all 36 architectures"):
        run_search(budget, CountingEvaluator(), make, budget=5, parallelism=2)


def test_endless_skipping_gives_up_after_the_configured_streak() -> None:
    class Endless:
        """Proposes the same huge model for ever (a strategy that never runs dry)."""

        uses_feedback = True

        def ask(self, n: int = 1) -> list[dict]:
            return [{"width": 32, "depth": 3, "act": "a"}] * n

        def tell(self, sample: dict, score: float | None) -> None:
            pass

    budget = ParamBudget(Endless(), params_of, max_params=10, max_consecutive_skips=50)  # type: ignore[arg-type]
    with pytest.raises(NasError, match=r"search\.max_params: 50 proposals in a row"):
        run_search(budget, CountingEvaluator(), make, budget=5, parallelism=1)


def test_unknown_counts_pass_through() -> None:
    budget = ParamBudget(make_strategy("random", SPACE, seed=0), lambda s: None, max_params=1)
    assert len(budget.ask(3)) == 3 and budget.skipped == 0
