"""A new search's first candidates, trained while Prefect's server is still starting (`head_start`)."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from flows.engine.evaluator import PrefectEvaluator, evaluator_for
from flows.engine.setup import set_up_search
from flows.io.paths import PREPARED_DIR
from flows.runtime.early_start import waiting_trainer
from flows.tracking.resume import find_unfinished, resume_key
from flows.tracking.tracker import MlflowTracker
from nas_core.config import NasConfig
from nas_core.estimation_config import MULTI_FIDELITY, WEIGHT_SHARING
from nas_core.isolation import TrainRequest
from nas_core.results import CandidateResult, failed
from nas_core.search_loop import Candidate, run_search


class _FirstWait(Exception):
    """Raised by `_FirstSubmissions.wait`: the loop has submitted all it can before a result."""


class _FirstSubmissions:
    """An `Evaluator` that records the loop's first `limit` requests, as far as no result decides them.

    Its `wait` stops the loop, or, below `limit`, hands back a placeholder result: only for
    strategies whose proposals ignore results, with requests that carry no peers' curves.
    """

    def __init__(self, evaluator: PrefectEvaluator, limit: int) -> None:
        self.evaluator = evaluator
        self.limit = limit
        self.requests: list[TrainRequest] = []
        self.pending: list[Candidate] = []

    def submit(self, candidate: Candidate) -> None:
        self.requests.append(self.evaluator.request_for(candidate))
        self.pending.append(candidate)

    def wait(self) -> tuple[Candidate, CandidateResult]:
        if len(self.requests) >= self.limit or not self.pending:
            raise _FirstWait
        candidate = self.pending.pop(0)
        return candidate, failed(candidate.key, candidate.architecture, "placeholder", candidate.index)


def first_requests(cfg: NasConfig, data_dir: Path, fresh: bool) -> list[TrainRequest]:
    """A new search's first requests, known before any result: the same setup and loop as the flow's.

    Those submitted before the first result; for strategies that ignore results (random, grid,
    fixed) and no median stopping, twice as many, so the workers stay busy until the flow is up.

    Empty when the search will not start that way: one that resumes a killed run, or one whose
    estimation submits something else (multi-fidelity rungs, weight sharing).
    """
    if cfg.search.estimation in MULTI_FIDELITY or cfg.search.estimation in WEIGHT_SHARING:
        return []
    setup = set_up_search(cfg, data_dir)
    if not fresh and cfg.search.resume:
        tracker = MlflowTracker(cfg.tracking.uri, cfg.tracking.experiment)
        search_key = resume_key(cfg, setup.manifest["content_hash"])
        if find_unfinished(tracker, search_key, logging.getLogger(__name__)) is not None:
            return []
    strategy = setup.objective.constrain(setup.strategy)
    ordered = getattr(strategy, "uses_feedback", True)
    independent = not ordered and not cfg.search.median_stop.enabled  # later requests depend on no result
    limit = cfg.search.parallelism * (2 if independent else 1)
    recorder = _FirstSubmissions(evaluator_for(cfg, None, data_dir, setup.settings), limit)
    with contextlib.suppress(_FirstWait):
        run_search(
            strategy,
            recorder,
            setup.to_candidate,
            budget=cfg.search.max_candidates,
            parallelism=cfg.search.parallelism,
            ordered=ordered,
            score=setup.objective.objective,
        )
    return recorder.requests


def head_start(cfg: NasConfig, fresh: bool) -> None:
    """Start the first candidates on the waiting workers while Prefect's server is still starting.

    On a short search the server's start-up (several seconds of CPU) is the longest step before
    the first candidate, and one core is idle while a worker trains at parallelism 1. The first
    candidates of a new search depend on no result, so the workers train them meanwhile; the
    flow's equal requests take their results over (`IsolatedTrainer.prefetch`). This is only a
    speed-up: if planning fails, nothing starts and the flow reports any real problem itself.
    """
    trainer = waiting_trainer(cfg.search)
    if trainer is None:
        return
    try:
        requests = first_requests(cfg, PREPARED_DIR, fresh)
    except Exception:
        return
    trainer.prefetch(requests)
