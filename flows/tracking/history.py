"""Warm start: what earlier searches already trained, read back from MLflow.

Two sources, both read-only:
- **History**, the same data and space: every finished candidate of earlier search runs with this
  search's history key. The key is the dataset's content hash plus every setting that decides what
  a score means (space, training, objective, estimation), but not the strategy, its seed or the
  budget, so a random search's candidates warm-start an evolution. The search tells them to its
  strategy with `remember`, never trains them again, and names the best of them and its own
  candidates as the winner.
- **Transfer**, other data (`search.warm_start.from`): the `top_k` best architectures of one earlier
  search, which this search trains fresh as its first candidates (`Strategy.prime`).

Only candidates that had finished before this search started count, so a resumed or replayed
search reads the same history as when it first ran.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlflow.entities import Run

from flows.tracking.resume import (
    EXECUTION_ONLY,
    all_runs,
    finished_candidates,
    read_result,
    read_sample,
    search_identity,
)
from flows.tracking.schema import (
    CANDIDATE_INDEX_TAG,
    DATASET_HASH_TAG,
    HISTORY_TAG,
    KIND_SEARCH,
    KIND_TAG,
    PARENT_TAG,
)
from flows.tracking.tracker import MlflowTracker
from nas_core.config import NasConfig
from nas_core.errors import NasError
from nas_core.objectives import Score, ranked_by
from nas_core.results import CandidateResult
from nas_core.search_loop import Candidate
from nas_core.space import Sample

# Search keys that choose which candidates get trained, not what their scores mean.
NOT_IN_HISTORY_KEY: tuple[str, ...] = (*EXECUTION_ONLY, "strategy", "seed", "max_candidates", "parallelism")
NOT_IN_HISTORY_KEY += ("warm_start", "strategy_options")

MakeCandidate = Callable[[int, Sample], Candidate]
Logger = logging.Logger | logging.LoggerAdapter[Any]


@dataclass(frozen=True)
class Known:
    """A candidate an earlier search trained: what its strategy proposed, its result, where it is logged."""

    sample: Sample
    result: CandidateResult
    run_id: str
    search_run_id: str


@dataclass(frozen=True)
class History:
    """The finished candidates of earlier searches, oldest search first, each architecture once."""

    known: list[Known] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)  # their search run ids, in start order

    @property
    def results(self) -> list[CandidateResult]:
        return [k.result for k in self.known]

    def origin(self, result: CandidateResult) -> Known | None:
        """Where a result of this history was trained (None: it was trained by this search).

        By architecture: a warm-started search never trains a known one again, and a re-scored copy
        of a remembered result (flows/engine/reevaluate.py) still names the run that trained it.
        """
        return next((k for k in self.known if k.result.key == result.key), None)

    def record(self) -> dict[str, Any]:
        """The `warm_start.json` artifact: enough to see, and redo, what this search started from."""
        return {
            "searches": self.searches,
            "candidates": [
                {"run_id": k.run_id, "search_run_id": k.search_run_id, "key": k.result.key, "score": k.result.score}
                for k in self.known
            ],
        }


def history_key(cfg: NasConfig, dataset_hash: str) -> str:
    """Which searches share a history: the same data and the settings that give a score its meaning."""
    graph = cfg.search.strategy == "graph"  # graph samples are another kind of sample
    return search_identity(cfg, dataset_hash, NOT_IN_HISTORY_KEY, graph=graph)


def night_seed(base_seed: int, search_run_id: str) -> int:
    """A fresh seed for each warm-started search, derived from its run id (kept on the run as a tag)."""
    digest = hashlib.sha256(f"{base_seed}:{search_run_id}".encode()).hexdigest()
    return int(digest[:8], 16) % (2**31 - 1)


def as_known(tracker: MlflowTracker, run: Run, make_candidate: MakeCandidate) -> Known | None:
    """A candidate run back as what this search would train for it, or None if it cannot be rebuilt."""
    sample = read_sample(tracker, run)
    if sample is None:
        return None
    candidate = make_candidate(int(run.data.tags.get(CANDIDATE_INDEX_TAG, "0")), sample)
    result = read_result(tracker, run, candidate)
    return Known(sample, result, run.info.run_id, run.data.tags.get(PARENT_TAG, ""))


def read_history(
    tracker: MlflowTracker, key: str, search_run_id: str, make_candidate: MakeCandidate, logger: Logger
) -> History:
    """Every candidate finished by earlier searches with history key `key`, before this search began."""
    started = time.perf_counter()
    this = tracker.client.get_run(search_run_id)
    begun = this.info.start_time
    query = f"tags.`{HISTORY_TAG}` = '{key}' and tags.`{KIND_TAG}` = '{KIND_SEARCH}'"
    searches = [
        run
        for run in all_runs(tracker, query, ["attributes.start_time ASC"])
        if run.info.run_id != search_run_id and run.info.start_time < begun
    ]
    known: list[Known] = []
    seen: set[str] = set()
    for search in searches:
        for run in finished_candidates(tracker, search, before_ms=begun):
            item = as_known(tracker, run, make_candidate)
            if item is None or item.result.key in seen:
                continue  # unreadable, or trained twice before warm start existed: count it once
            seen.add(item.result.key)
            known.append(item)
    history = History(known, [s.info.run_id for s in searches])
    if searches:
        logger.info(
            "warm start: %d architectures already trained by %d earlier searches on this data and space "
            "(read in %.1f s); they are not trained again",
            len(known),
            len(searches),
            time.perf_counter() - started,
        )
    else:
        logger.info("warm start: no earlier search on this data and space yet")
    return history


def find_source_search(tracker: MlflowTracker, source: str) -> Run:
    """`search.warm_start.from`: a search run id, or an experiment name whose latest finished search is taken."""
    client = tracker.client
    experiment = client.get_experiment_by_name(source)
    if experiment is not None:
        query = f"tags.`{KIND_TAG}` = '{KIND_SEARCH}' and attributes.status = 'FINISHED'"
        newest_first = ["attributes.start_time DESC"]
        runs = client.search_runs([experiment.experiment_id], query, max_results=1, order_by=newest_first)
        if not runs:
            raise NasError(f"search.warm_start.from: experiment {source!r} has no finished search to transfer from")
        return runs[0]
    try:
        run = client.get_run(source)
    except Exception:
        raise NasError(
            f"search.warm_start.from: {source!r} is neither an experiment name nor a run id in {tracker.uri}"
        ) from None
    if run.data.tags.get(KIND_TAG) != KIND_SEARCH:
        raise NasError(f"search.warm_start.from: run {source!r} is not a search run (nas.kind is not 'search')")
    return run


def read_transfer(
    tracker: MlflowTracker, source: str, top_k: int, make_candidate: MakeCandidate, score: Score, logger: Logger
) -> list[Sample]:
    """The `top_k` best architectures of the search named by `source`, best first, to train on this data."""
    search = find_source_search(tracker, source)
    runs = finished_candidates(tracker, search)
    known = [k for run in runs if (k := as_known(tracker, run, make_candidate)) is not None]
    best = ranked_by([k.result for k in known], score)[:top_k]
    samples = [next(k.sample for k in known if k.result is r) for r in best]
    logger.info(
        "warm start from search %s (data %s): its %d best architectures go first",
        search.info.run_id,
        search.data.tags.get(DATASET_HASH_TAG, "unknown")[:12],
        len(samples),
    )
    return samples
