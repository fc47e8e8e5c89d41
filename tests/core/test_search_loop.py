"""The search loop with a synchronous evaluator: budget, failures, determinism, replay."""

from __future__ import annotations

from collections import deque

from nas_core.results import COMPLETED, CandidateResult, failed
from nas_core.search_loop import Candidate, run_search
from nas_core.space import SearchSpace, sample_key
from nas_core.strategies import make_strategy

SPACE = SearchSpace.from_choices({"a": [0, 1, 2, 3], "b": [0, 1, 2, 3], "c": ["x", "y"]})


def score_of(sample: dict) -> float:
    return (sample["a"] + sample["b"]) / 6 + (0.05 if sample["c"] == "y" else 0.0)


class ToyEvaluator:
    """Finishes candidates in a scrambled order (last submitted first), like uneven parallel workers."""

    def __init__(self, fail_when: int | None = None) -> None:
        self.queue: deque[Candidate] = deque()
        self.fail_when = fail_when

    def submit(self, candidate: Candidate) -> None:
        self.queue.append(candidate)

    def wait(self) -> tuple[Candidate, CandidateResult]:
        candidate = self.queue.pop()
        if candidate.architecture["a"] == self.fail_when:
            return candidate, failed(candidate.key, candidate.architecture, "boom", candidate.index)
        result = CandidateResult(
            candidate.key,
            candidate.architecture,
            COMPLETED,
            val_accuracy=score_of(candidate.architecture),
            index=candidate.index,
        )
        return candidate, result


def make(index: int, sample: dict) -> Candidate:
    return Candidate(index, sample, dict(sample), sample_key(sample))


def test_budget_is_spent_exactly_without_duplicates() -> None:
    results = run_search(make_strategy("random", SPACE, seed=0), ToyEvaluator(), make, budget=10, parallelism=3)
    assert len(results) == 10
    assert len({r.key for r in results}) == 10
    assert sorted(r.index for r in results) == list(range(10))


def test_a_failing_candidate_does_not_stop_the_search() -> None:
    results = run_search(
        make_strategy("random", SPACE, seed=1), ToyEvaluator(fail_when=0), make, budget=12, parallelism=2
    )
    assert len(results) == 12
    failures = [r for r in results if r.status == "FAILED"]
    assert failures and all(r.error == "boom" for r in failures)
    assert any(r.ok for r in results)


def test_impossible_candidates_are_recorded_failed_without_training() -> None:
    evaluator = ToyEvaluator()

    def make_with_problem(index: int, sample: dict) -> Candidate:
        problem = "infeasible architecture: too deep" if sample["a"] == 3 else None
        return Candidate(index, sample, dict(sample), sample_key(sample), problem)

    trained: list[int] = []
    results = run_search(
        make_strategy("random", SPACE, seed=2),
        evaluator,
        make_with_problem,
        budget=16,
        parallelism=2,
        on_submit=lambda c: trained.append(c.index) if c.problem is None else None,
    )
    infeasible = [r for r in results if r.error and "infeasible" in r.error]
    assert infeasible and all(r.architecture["a"] == 3 for r in infeasible)
    assert len(trained) + len(infeasible) == 16


def test_space_exhaustion_ends_the_search_early() -> None:
    tiny = SearchSpace.from_choices({"a": [0, 1], "b": [0, 1], "c": ["x"]})
    results = run_search(make_strategy("random", tiny, seed=0), ToyEvaluator(), make, budget=50, parallelism=2)
    assert len(results) == 4


def test_same_seed_same_sequence_whatever_the_finishing_order() -> None:
    def sequence(seed: int) -> list[str]:
        submitted: list[str] = []
        run_search(
            make_strategy("random", SPACE, seed=seed),
            ToyEvaluator(),
            make,
            budget=12,
            parallelism=3,
            on_submit=lambda c: submitted.append(c.key),
        )
        return submitted

    assert sequence(5) == sequence(5)
    assert sequence(5) != sequence(6)


def test_results_are_told_in_submission_order() -> None:
    told: list[int] = []

    class Recorder:
        def __init__(self) -> None:
            self.inner = make_strategy("random", SPACE, seed=0)

        def ask(self, n: int = 1) -> list[dict]:
            return self.inner.ask(n)

        def tell(self, sample: dict, score: float | None) -> None:
            told.append(order[sample_key(sample)])
            self.inner.tell(sample, score)

    order: dict[str, int] = {}

    def make_recorded(index: int, sample: dict) -> Candidate:
        order[sample_key(sample)] = index
        return make(index, sample)

    run_search(Recorder(), ToyEvaluator(), make_recorded, budget=9, parallelism=3)
    assert told == list(range(9))


def test_replayed_results_count_towards_the_budget() -> None:
    strategy = make_strategy("random", SPACE, seed=0)
    first = strategy.ask(2)
    replay = [(s, CandidateResult(sample_key(s), s, COMPLETED, val_accuracy=0.5, index=i)) for i, s in enumerate(first)]
    trained: list[Candidate] = []
    results = run_search(
        strategy, ToyEvaluator(), make, budget=5, parallelism=1, replay=replay, on_submit=trained.append
    )
    assert len(results) == 5
    assert [c.index for c in trained] == [2, 3, 4]
    assert not {c.key for c in trained} & {sample_key(s) for s in first}
