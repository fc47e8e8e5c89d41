"""Resume a search that was killed: find its parent run in MLflow and read back its finished candidates.

"The same search" is the same data, space, search, and train settings. Their hash is the
parent run's `nas.resume_key` tag. On start, the latest parent run with that key that did not
finish, and whose process is gone, is taken up again:
- its finished child runs become `replay` for `run_search`, so they count towards the budget
  and no candidate is trained twice;
- its child runs that were still running are marked KILLED, and are trained again;
- logging goes on into the same parent run, so MLflow shows one search.

MLflow is the only checkpoint. A child run counts as finished once `set_terminated` has run,
which is the last thing `finish_candidate` does. Resuming is never silent: a log line says what
was recovered. `--fresh`, or `search.resume: false`, starts a new search instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mlflow.entities import Run

from flows.tracking.liveness import owner_alive, owner_tag, start_heartbeat
from flows.tracking.schema import (
    CANDIDATE_HASH_TAG,
    CANDIDATE_INDEX_TAG,
    ERROR_TAG,
    KIND_CANDIDATE,
    KIND_SEARCH,
    KIND_TAG,
    OWNER_TAG,
    PARENT_TAG,
    RESUME_TAG,
    RUNG_TAG,
    SAMPLE_ARTIFACT,
    SAMPLE_TAG,
    STATUS_TAG,
    STOPPED_EARLY_TAG,
)
from flows.tracking.tracker import MlflowTracker
from nas_core.config import NasConfig
from nas_core.results import COMPLETED, FAILED, CandidateResult
from nas_core.search_loop import Candidate
from nas_core.space import Sample

KILLED = "KILLED"
# Search keys that change how candidates run, or how the winner is picked once they ran, not which ones
# are trained: changing them still resumes (and shares a warm start's history).
EXECUTION_ONLY = ("resume", "executor", "dask_address", "recycle_after", "reevaluate_top_k")
# Result fields logged as step-0 metrics by the tracker (val_accuracy, params, latency_ms, ...), by type.
NUMBER_TYPES = ("float", "float | None", "int", "int | None")
NUMBER_FIELDS = {f.name: str(f.type) for f in fields(CandidateResult) if f.type in NUMBER_TYPES and f.name != "index"}
RESULT_FIELDS = {f.name for f in fields(CandidateResult)}

MakeCandidate = Callable[[int, Sample], Candidate]
Logger = logging.Logger | logging.LoggerAdapter[Any]


@dataclass(frozen=True)
class OpenedSearch:
    """The parent run to log into, and what an earlier, killed run of this search already recorded."""

    parent_run_id: str
    replay: list[tuple[Sample, CandidateResult]] = field(default_factory=list)
    resumed: bool = False


def search_identity(cfg: NasConfig, dataset_hash: str, leave_out: tuple[str, ...], **extra: Any) -> str:
    """A short hash of the data, the space, training and every `search` key not in `leave_out`."""
    search = {k: v for k, v in cfg.search.model_dump(mode="json").items() if k not in leave_out}
    identity = {
        "version": 1,
        "dataset_hash": dataset_hash,
        "space": cfg.space.model_dump(mode="json"),
        "search": search,
        "train": cfg.train.model_dump(mode="json"),
        **extra,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]


def resume_key(cfg: NasConfig, dataset_hash: str) -> str:
    """The identity of a search: its data and the settings that decide which candidates get trained."""
    return search_identity(cfg, dataset_hash, EXECUTION_ONLY)


def resumable(run: Run) -> bool:
    """Killed (still RUNNING, owner gone) or stopped by an exception (FAILED with `interrupted` = 1).

    A search that failed because every candidate failed is finished, not interrupted.
    """
    status = run.info.status
    if status == "RUNNING":
        return not owner_alive(run)
    if status == KILLED:
        return True
    return status == "FAILED" and run.data.metrics.get("interrupted") == 1.0


def all_runs(
    tracker: MlflowTracker, filter_string: str, order_by: list[str] | None = None, experiment_id: str | None = None
) -> list[Run]:
    """Every run of the tracker's experiment (or of `experiment_id`) that matches, page by page."""
    runs: list[Run] = []
    token: str | None = None
    experiments = [experiment_id or tracker.experiment_id]
    while True:
        page = tracker.client.search_runs(
            experiments, filter_string, max_results=1000, order_by=order_by, page_token=token
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def find_unfinished(tracker: MlflowTracker, key: str, logger: Logger) -> Run | None:
    """The latest unfinished parent run of this search whose process is gone."""
    query = f"tags.`{RESUME_TAG}` = '{key}' and tags.`{KIND_TAG}` = '{KIND_SEARCH}' and attributes.status != 'FINISHED'"
    for run in all_runs(tracker, query, ["attributes.start_time DESC"]):
        if resumable(run):
            return run
        if run.info.status == "RUNNING":
            logger.info(
                "search %s with the same params is still running (%s); this one starts apart from it",
                run.info.run_id,
                run.data.tags.get(OWNER_TAG, "owner unknown"),
            )
    return None


def read_sample(tracker: MlflowTracker, run: Run) -> Sample | None:
    """The strategy's proposal as logged by `start_candidate` (a tag, or an artifact when long)."""
    text = run.data.tags.get(SAMPLE_TAG)
    try:
        if text is None:
            with tempfile.TemporaryDirectory() as folder:
                text = Path(tracker.client.download_artifacts(run.info.run_id, SAMPLE_ARTIFACT, folder)).read_text()
        return dict(json.loads(text))
    except Exception:
        return None


def read_result(tracker: MlflowTracker, run: Run, candidate: Candidate) -> CandidateResult:
    """A finished child run back as the `CandidateResult` that was logged (finals at step 0, epochs from 1)."""
    finals: dict[str, Any] = {}
    history: dict[str, list[float]] = {}
    for name in run.data.metrics:
        points = sorted(tracker.client.get_metric_history(run.info.run_id, name), key=lambda m: m.step)
        for point in points:
            if point.step == 0 and name in NUMBER_FIELDS:
                finals[name] = int(point.value) if NUMBER_FIELDS[name].startswith("int") else point.value
            elif point.step > 0:
                history.setdefault(name, []).append(point.value)
    extras: dict[str, Any] = {}  # fields of cheaper-estimation searches, when this version has them
    if "stopped_early" in RESULT_FIELDS:
        extras["stopped_early"] = run.data.tags.get(STOPPED_EARLY_TAG) == "true"
    if "rung" in RESULT_FIELDS and RUNG_TAG in run.data.tags:
        extras["rung"] = int(run.data.tags[RUNG_TAG])
    return CandidateResult(
        key=candidate.key,
        architecture=dict(candidate.architecture),
        status=run.data.tags[STATUS_TAG],
        history=history,
        error=run.data.tags.get(ERROR_TAG),
        index=candidate.index,
        **(finals | extras),
    )


def recover(
    tracker: MlflowTracker, parent_id: str, make_candidate: MakeCandidate, budget: int, logger: Logger
) -> tuple[list[tuple[Sample, CandidateResult]], int]:
    """Finished candidates of `parent_id` as replay (renumbered 0..n-1), and how many were marked KILLED."""
    runs = candidate_runs(tracker, parent_id)
    killed = 0
    for run in runs:
        if run.info.status == "RUNNING":  # its process died with the search: train it again
            mark_killed(tracker, run)
            killed += 1
    replay: list[tuple[Sample, CandidateResult]] = []
    seen: set[str] = set()
    for run in in_index_order([run for run in runs if finished(run)])[:budget]:
        sample = read_sample(tracker, run)
        candidate = None if sample is None else make_candidate(len(replay), sample)
        if sample is None or candidate is None or candidate.key != run.data.tags.get(CANDIDATE_HASH_TAG):
            logger.warning("candidate run %s cannot be replayed (no sample, or another architecture)", run.info.run_id)
            continue
        if candidate.key in seen:
            continue  # recorded twice (cannot happen with this code): count it once
        seen.add(candidate.key)
        renumber(tracker, run, candidate.index)
        replay.append((sample, read_result(tracker, run, candidate)))
    return replay, killed


def candidate_runs(tracker: MlflowTracker, search_run_id: str, experiment_id: str | None = None) -> list[Run]:
    """Every candidate run of one search, in any state."""
    query = f"tags.`{PARENT_TAG}` = '{search_run_id}' and tags.`{KIND_TAG}` = '{KIND_CANDIDATE}'"
    return all_runs(tracker, query, experiment_id=experiment_id)


def finished(run: Run) -> bool:
    """Trained or failed for good: a candidate whose record a later search can trust."""
    return run.info.status in ("FINISHED", "FAILED") and run.data.tags.get(STATUS_TAG) in (COMPLETED, FAILED)


def in_index_order(runs: list[Run]) -> list[Run]:
    return sorted(runs, key=lambda r: (int(r.data.tags.get(CANDIDATE_INDEX_TAG, "0")), r.info.start_time))


def finished_candidates(tracker: MlflowTracker, search: Run, before_ms: int | None = None) -> list[Run]:
    """A search's candidate runs that finished (trained or failed), before `before_ms` if given, in index order."""
    runs = candidate_runs(tracker, search.info.run_id, experiment_id=search.info.experiment_id)
    ended = (run for run in runs if finished(run) and (before_ms is None or (run.info.end_time or 0) <= before_ms))
    return in_index_order(list(ended))


def mark_killed(tracker: MlflowTracker, run: Run) -> None:
    """A candidate that was training when its search died: closed as KILLED, and not counted."""
    index = run.data.tags.get(CANDIDATE_INDEX_TAG, "")
    tracker.client.set_tag(run.info.run_id, STATUS_TAG, KILLED)
    tracker.client.update_run(run.info.run_id, name=f"candidate-{index.zfill(3)}-killed")
    tracker.client.set_terminated(run.info.run_id, status=KILLED)


def renumber(tracker: MlflowTracker, run: Run, index: int) -> None:
    """Indices stay 0..n-1 without gaps, so new candidates never share an index with a recovered one."""
    if run.data.tags.get(CANDIDATE_INDEX_TAG) != str(index):
        tracker.client.set_tag(run.info.run_id, CANDIDATE_INDEX_TAG, str(index))
        tracker.client.update_run(run.info.run_id, name=f"candidate-{index:03d}")


def open_search(
    tracker: MlflowTracker,
    cfg: NasConfig,
    dataset_hash: str,
    make_candidate: MakeCandidate,
    logger: Logger,
    trigger: str = "manual",
    fresh: bool = False,
    extra_tags: Mapping[str, str] | None = None,
) -> OpenedSearch:
    """Resume the unfinished run of this search if there is one (unless `fresh`), else start a new one.

    `extra_tags` go on the parent run from its creation (or again on resuming it).
    """
    key = resume_key(cfg, dataset_hash)
    previous = find_unfinished(tracker, key, logger)
    if previous is not None and (fresh or not cfg.search.resume):
        why = "--fresh" if fresh else "search.resume is false"
        logger.info("starting a new search (%s); unfinished search %s is left as it is", why, previous.info.run_id)
        previous = None
    tags = {RESUME_TAG: key, OWNER_TAG: owner_tag()} | dict(extra_tags or {})
    if previous is None:
        parent_id = tracker.start_search(
            cfg.model_dump(mode="json"), dataset_hash, cfg.search.strategy, trigger, extra_tags=tags
        )
        start_heartbeat(tracker, parent_id)
        return OpenedSearch(parent_id)
    parent_id = previous.info.run_id
    tracker.resume_search(parent_id, tags)
    start_heartbeat(tracker, parent_id)
    budget = cfg.search.max_candidates
    replay, killed = recover(tracker, parent_id, make_candidate, budget, logger)
    logger.info(
        "resumed search %s: %d of %d candidates recovered, %d interrupted one%s will be retrained; "
        "run with --fresh (or search.resume: false) to start over",
        parent_id,
        len(replay),
        budget,
        killed,
        "" if killed == 1 else "s",
    )
    return OpenedSearch(parent_id, replay, resumed=True)
