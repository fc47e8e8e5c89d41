"""Run a successive-halving / Hyperband plan with any strategy as the sampler (ask/tell).

Each bracket asks its candidates from the strategy, trains them rung by rung, and promotes the
best 1/eta of each rung; a promoted candidate resumes from where its last rung ended (the
evaluator decides how: the flow's evaluator reloads a checkpoint). A candidate is told to the
strategy once, when its journey ends, with the score of the last rung it reached; so with
`evolution` as the sampler this is BOHB-like: later brackets breed from what earlier ones found.

It knows nothing of Prefect, Keras or MLflow, so it runs on toy objectives in tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from nas_core.estimation.hyperband import Bracket, Rung, promote
from nas_core.results import CandidateResult, failed
from nas_core.search_loop import AskTell, Candidate, Score, val_score
from nas_core.space import Sample


@dataclass(frozen=True)
class RungJob:
    """Train a candidate up to `epochs` epochs in all; `initial_epoch` of them are done already."""

    bracket: int
    rung: int
    epochs: int
    initial_epoch: int
    final: bool  # the bracket's last rung: no later rung will resume from this one

    @property
    def resume(self) -> bool:
        return self.rung > 0


class FidelityEvaluator(Protocol):
    """Trains candidates at a fidelity in parallel: `submit` starts one job, `wait` returns any finished one."""

    def submit(self, candidate: Candidate, job: RungJob) -> None: ...

    def wait(self) -> tuple[Candidate, CandidateResult]: ...


def merge(previous: CandidateResult | None, latest: CandidateResult, rung: int) -> CandidateResult:
    """One record across rungs: the curves joined end to end, seconds summed, the latest scores."""
    if previous is None:
        return replace(latest, rung=rung)
    names = list(previous.history) + [k for k in latest.history if k not in previous.history]
    history = {k: previous.history.get(k, []) + latest.history.get(k, []) for k in names}
    return replace(
        latest,
        history=history,
        train_seconds=previous.train_seconds + latest.train_seconds,
        params=latest.params if latest.params is not None else previous.params,
        summary=latest.summary or previous.summary,
        rung=rung,
    )


def _run_rung(
    evaluator: FidelityEvaluator, jobs: Sequence[tuple[Candidate, RungJob]], parallelism: int
) -> dict[int, CandidateResult]:
    """All jobs of one rung, at most `parallelism` at a time (rungs are synchronous: promotions need them all)."""
    outcomes: dict[int, CandidateResult] = {}
    queue = list(jobs)
    running = 0
    while queue or running:
        while queue and running < parallelism:
            candidate, job = queue.pop(0)
            evaluator.submit(candidate, job)
            running += 1
        candidate, result = evaluator.wait()
        running -= 1
        outcomes[candidate.index] = result
    return outcomes


def run_multifidelity(
    strategy: AskTell,
    evaluator: FidelityEvaluator,
    make_candidate: Callable[[int, Sample], Candidate],
    brackets: Sequence[Bracket],
    parallelism: int,
    on_submit: Callable[[Candidate], None] | None = None,
    on_result: Callable[[Candidate, CandidateResult], None] | None = None,
    on_rung: Callable[[Candidate, CandidateResult, Rung], None] | None = None,
    first_index: int = 0,
    score: Score | None = None,
) -> list[CandidateResult]:
    """Run the brackets in order; one result per candidate, in the order their journeys ended.

    A candidate that is not promoted is COMPLETED with `stopped_early` set and the rung it
    reached; its val accuracy is the one of that rung. Candidates are numbered from `first_index`.
    `score` is what promotion ranks by and the strategy is told (default `result.score`, the val
    accuracy), so a multi-objective search promotes by its objective, as `run_search` tells by it.
    """
    results: list[CandidateResult] = []
    next_index = first_index
    score_of = score or val_score

    def finish(candidate: Candidate, result: CandidateResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(candidate, result)
        strategy.tell(candidate.sample, score_of(result))

    for b, plan in enumerate(brackets):
        alive: dict[int, Candidate] = {}
        for _ in range(plan.candidates):
            proposals = strategy.ask(1)
            if not proposals:
                break  # the strategy ran dry (a small space): train what we have
            candidate = make_candidate(next_index, proposals[0])
            next_index += 1
            if on_submit is not None:
                on_submit(candidate)
            if candidate.problem is not None:
                finish(candidate, failed(candidate.key, candidate.architecture, candidate.problem, candidate.index))
            else:
                alive[candidate.index] = candidate
        latest: dict[int, CandidateResult] = {}
        for rung in plan.rungs:
            if not alive:
                break
            final = rung.index == len(plan.rungs) - 1
            jobs = [
                (alive[i], RungJob(b, rung.index, rung.epochs, latest[i].epochs_run if i in latest else 0, final))
                for i in sorted(alive)
            ]
            for i, result in sorted(_run_rung(evaluator, jobs, parallelism).items()):
                latest[i] = merge(latest.get(i), result, rung.index)
                if on_rung is not None:
                    on_rung(alive[i], latest[i], rung)
            keep = [] if final else promote(((i, score_of(latest[i])) for i in alive), plan.rungs[rung.index + 1].size)
            for i in sorted(alive):
                if i in keep:
                    continue
                result = latest[i]
                finish(alive.pop(i), result if final or not result.ok else replace(result, stopped_early=True))
    return results


def total_epochs(results: Sequence[CandidateResult]) -> int:
    """Epochs trained in all: each candidate's epoch count already includes the rungs it resumed."""
    return sum(r.epochs_run for r in results)
