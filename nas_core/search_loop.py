"""The search loop: ask the strategy, evaluate in parallel, tell the results, until the budget is spent.

It knows nothing of Prefect or MLflow: the flow hands it an `Evaluator` (parallel training)
and callbacks (tracking, progress). Results are told to the strategy in submission order and
candidate i is asked right after result i - parallelism is told, so the same seed gives the
same sequence of candidates whatever order the workers finish in. Strategies that ignore
feedback (random, grid) skip that wait and keep every worker busy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from nas_core.objectives import Score
from nas_core.results import CandidateResult, failed
from nas_core.space import Sample


@dataclass(frozen=True)
class Candidate:
    """A strategy's proposal and what will really be trained for it."""

    index: int
    sample: Sample
    architecture: Sample
    key: str
    problem: str | None = None  # set when the architecture cannot be built: recorded FAILED untrained


class Evaluator(Protocol):
    """Trains candidates in parallel: `submit` starts one, `wait` returns any one finished."""

    def submit(self, candidate: Candidate) -> None: ...

    def wait(self) -> tuple[Candidate, CandidateResult]: ...


class AskTell(Protocol):
    def ask(self, n: int = 1) -> list[Sample]: ...

    def tell(self, sample: Sample, score: float | None) -> None: ...


def val_score(result: CandidateResult) -> float | None:
    """What a strategy is told by default: the result's score, its val accuracy (None if it failed)."""
    return result.score


def tell_replay(
    strategy: AskTell, replay: Sequence[tuple[Sample, CandidateResult]], score: Score | None = None
) -> list[CandidateResult]:
    """Tell results recovered from an earlier run to the strategy; they count towards the budget."""
    for sample, result in replay:
        strategy.tell(sample, (score or val_score)(result))
    return [result for _, result in replay]


def run_search(
    strategy: AskTell,
    evaluator: Evaluator,
    make_candidate: Callable[[int, Sample], Candidate],
    budget: int,
    parallelism: int,
    on_submit: Callable[[Candidate], None] | None = None,
    on_result: Callable[[Candidate, CandidateResult], None] | None = None,
    replay: Sequence[tuple[Sample, CandidateResult]] = (),
    ordered: bool = True,
    score: Score | None = None,
) -> list[CandidateResult]:
    """Run until `budget` candidates are recorded (or the strategy runs dry).

    `replay` holds results recovered from an earlier run: they are told to the strategy first
    and count towards the budget, so a resumed search trains no candidate twice. `score` is what
    the strategy is told for a result (default `result.score`, the val accuracy; see
    `nas_core.objectives` for trade-offs against size or latency).
    """
    score_of = score or val_score
    results = tell_replay(strategy, replay, score_of)
    next_index = len(results)
    done: dict[int, tuple[Candidate, CandidateResult]] = {}
    next_to_tell = next_index
    running = 0

    unreported: list[tuple[Candidate, CandidateResult]] = []

    def finish(candidate: Candidate, result: CandidateResult) -> None:
        nonlocal next_to_tell
        results.append(result)
        unreported.append((candidate, result))
        done[candidate.index] = (candidate, result)
        while next_to_tell in done:  # tell in submission order: same seed, same sequence
            told, told_result = done.pop(next_to_tell)
            strategy.tell(told.sample, score_of(told_result))
            next_to_tell += 1

    def report() -> None:
        """Tracking runs after the free slots are refilled, so it overlaps training instead of delaying it."""
        while unreported:
            candidate, result = unreported.pop(0)
            if on_result is not None:
                on_result(candidate, result)

    def slot_free() -> bool:
        return not ordered or next_index - next_to_tell < parallelism

    while True:
        # Untold candidates are the running ones plus finished ones waiting for an earlier result.
        while running < parallelism and next_index < budget and slot_free():
            proposals = strategy.ask(1)
            if not proposals:
                break  # nothing new now; more results may change the strategy's mind
            candidate = make_candidate(next_index, proposals[0])
            next_index += 1
            if on_submit is not None:
                on_submit(candidate)
            if candidate.problem is not None:
                finish(candidate, failed(candidate.key, candidate.architecture, candidate.problem, candidate.index))
                continue
            evaluator.submit(candidate)
            running += 1
        report()
        if running == 0:
            break  # budget spent, or the strategy is dry with nothing left to learn from
        candidate, result = evaluator.wait()
        running -= 1
        finish(candidate, result)
    return results


def describe_budget(results: Sequence[CandidateResult]) -> dict[str, Any]:
    """Counts for metrics/search.json and progress output."""
    completed = sum(r.ok for r in results)
    return {"candidates": len(results), "completed": completed, "failed": len(results) - completed}


def candidate_seed(search_seed: int, key: str) -> int:
    """The same architecture gets the same initial weights in every run with the same seed."""
    return (int(key[:8], 16) + 7919 * search_seed) % (2**31 - 1)
