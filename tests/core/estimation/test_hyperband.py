"""The successive-halving / Hyperband schedule and its driver, on a toy objective (no TensorFlow)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from nas_core import SearchSpace, make_strategy
from nas_core.errors import NasError
from nas_core.estimation.hyperband import bracket, hyperband_brackets, max_bracket, plan, promote
from nas_core.estimation.multifidelity import RungJob, run_multifidelity, total_epochs
from nas_core.results import COMPLETED, CandidateResult
from nas_core.search_loop import Candidate
from nas_core.space import Sample, sample_key


def test_rung_sizes_shrink_by_eta_and_epochs_grow_by_eta() -> None:
    b = bracket(3, 27, min_epochs=1, max_epochs=27, eta=3)
    assert [r.size for r in b.rungs] == [27, 9, 3, 1]
    assert [r.epochs for r in b.rungs] == [1, 3, 9, 27]
    assert b.total_epochs() == 27 * 1 + 9 * 2 + 3 * 6 + 1 * 18  # promoted candidates resume, never restart


def test_hyperband_hedges_from_aggressive_to_full_training() -> None:
    brackets = hyperband_brackets(min_epochs=1, max_epochs=27, eta=3)
    assert max_bracket(1, 27, 3) == 3
    assert [b.s for b in brackets] == [3, 2, 1, 0]
    assert [b.candidates for b in brackets] == [27, 12, 6, 4]  # ceil((s_max+1)/(s+1) * eta^s), Li et al. 2018
    assert all(b.rungs[-1].epochs == 27 for b in brackets)
    assert brackets[-1].rungs[0].epochs == 27  # s = 0 is plain full training
    for b in brackets:
        sizes = [r.size for r in b.rungs]
        assert all(later == max(1, sizes[0] // 3**i) for i, later in enumerate(sizes))


def test_a_plan_starts_exactly_the_candidate_budget() -> None:
    for method in ("hyperband", "successive_halving"):
        for budget in (1, 5, 12, 40):
            assert sum(b.candidates for b in plan(budget, 1, 9, 3, method)) == budget
    assert {b.s for b in plan(40, 1, 9, 3, "successive_halving")} == {2}


def test_bad_schedules_name_the_key() -> None:
    with pytest.raises(NasError, match=r"search\.hyperband"):
        plan(4, 5, 5, 3)
    with pytest.raises(NasError, match=r"search\.hyperband\.eta"):
        plan(4, 1, 9, 1)


def test_promote_keeps_the_best_and_never_a_failure() -> None:
    assert promote([(0, 0.5), (1, None), (2, 0.9), (3, 0.7)], 2) == [2, 3]
    assert promote([(4, 0.5), (1, 0.5)], 1) == [1]  # a tie goes to the earlier candidate
    assert promote([(0, None)], 1) == []


class ToyEvaluator:
    """Score = quality * (1 - exp(-epochs / 3)); records every job, checks that rungs resume."""

    def __init__(self) -> None:
        self.jobs: list[tuple[int, RungJob]] = []
        self.trained: dict[int, int] = {}
        self.queue: list[tuple[Candidate, CandidateResult]] = []

    def submit(self, candidate: Candidate, job: RungJob) -> None:
        self.jobs.append((candidate.index, job))
        assert job.initial_epoch == self.trained.get(candidate.index, 0)  # resumes where the last rung ended
        assert job.resume == (job.initial_epoch > 0)
        self.trained[candidate.index] = job.epochs
        quality = candidate.sample["x"] / 10
        accuracy = quality * (1 - math.exp(-job.epochs / 3))
        curve = [quality * (1 - math.exp(-e / 3)) for e in range(job.initial_epoch + 1, job.epochs + 1)]
        result = CandidateResult(
            key=candidate.key,
            architecture=candidate.architecture,
            status=COMPLETED,
            val_accuracy=accuracy,
            epochs_run=job.epochs,
            history={"val_accuracy": curve},
            train_seconds=1.0,
            index=candidate.index,
        )
        self.queue.append((candidate, result))

    def wait(self) -> tuple[Candidate, CandidateResult]:
        return self.queue.pop()  # out of order on purpose


def make_candidate(index: int, sample: Sample) -> Candidate:
    return Candidate(index, dict(sample), dict(sample), sample_key(sample))


def test_successive_halving_promotes_the_best_and_resumes_it() -> None:
    space = SearchSpace.from_choices({"x": list(range(10))})
    strategy = make_strategy("random", space, seed=0)
    told: list[Any] = []
    tell = strategy.tell
    strategy.tell = lambda sample, score: (told.append(sample["x"]), tell(sample, score))  # type: ignore[method-assign]
    evaluator = ToyEvaluator()
    brackets = plan(9, 1, 9, 3, "successive_halving")
    results = run_multifidelity(strategy, evaluator, make_candidate, brackets, parallelism=2)

    assert len(results) == 9 and sorted(told) == sorted(r.architecture["x"] for r in results)
    per_rung = [sum(1 for _, job in evaluator.jobs if job.rung == i) for i in range(3)]
    assert per_rung == [9, 3, 1]
    best = max(results, key=lambda r: r.architecture["x"])
    assert best.rung == 2 and best.epochs_run == 9 and not best.stopped_early
    assert len(best.history["val_accuracy"]) == 9  # the curve joined across rungs, epoch by epoch
    assert best.train_seconds == 3.0
    assert sum(r.stopped_early for r in results) == 8
    assert total_epochs(results) == brackets[0].total_epochs() == 9 + 3 * 2 + 6


def test_evolution_samples_for_hyperband_bohb_style() -> None:
    space = SearchSpace.from_choices({"x": list(range(10)), "y": ["a", "b"]})
    strategy = make_strategy("evolution", space, seed=1, population_size=4, sample_size=2)
    results = run_multifidelity(strategy, ToyEvaluator(), make_candidate, plan(15, 1, 9, 3), parallelism=1)
    assert len(results) == 15
    assert len({r.key for r in results}) == 15  # never the same architecture twice


def test_promotion_ranks_by_the_search_objective_not_raw_accuracy() -> None:
    space = SearchSpace.from_choices({"x": list(range(10))})
    strategy = make_strategy("random", space, seed=0)
    told: dict[int, float | None] = {}
    tell = strategy.tell
    strategy.tell = lambda sample, score: (told.__setitem__(sample["x"], score), tell(sample, score))  # type: ignore[method-assign]

    def smallest_wins(result: CandidateResult) -> float | None:  # an objective that prefers small x
        return None if result.val_accuracy is None else 1.0 - result.architecture["x"] / 10

    brackets = plan(9, 1, 9, 3, "successive_halving")
    results = run_multifidelity(strategy, ToyEvaluator(), make_candidate, brackets, 2, score=smallest_wins)
    survivor = next(r for r in results if not r.stopped_early)
    assert survivor.architecture["x"] == min(r.architecture["x"] for r in results)
    assert told[survivor.architecture["x"]] == pytest.approx(smallest_wins(survivor))
