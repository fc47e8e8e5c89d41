"""Issue 5: a search killed with SIGKILL and started again with the same params continues where it stopped."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from flows.engine.setup import make_candidate
from flows.runtime.entry import run_stage
from flows.tracking.resume import open_search, resume_key
from flows.tracking.tracker import MlflowTracker
from nas_core.architecture import cnn_search_space
from nas_core.config import NasConfig
from nas_core.results import COMPLETED, FAILED, CandidateResult
from nas_core.strategies import make_strategy
from tests.reliability.crash_helpers import (
    client_for,
    kill_group,
    make_project,
    recorded,
    runs,
    start_stage,
    wait_until,
)

BUDGET = 4
SHAPE = (8, 8, 1)
# One candidate at a time, so the kill lands between candidates that are recorded and one that is training.
OVERRIDES = {"search": {"max_candidates": BUDGET, "parallelism": 1, "seed": 11}, "train": {"epochs": 2}}


@pytest.mark.slow
def test_search_killed_with_sigkill_resumes_without_training_anything_twice(prefect_api: str, tmp_path: Path) -> None:
    make_project(tmp_path, OVERRIDES)
    client = client_for(tmp_path)
    first = start_stage(tmp_path, "search", log_name="first.log")
    try:
        wait_until(lambda: len(recorded(client)) >= 2, first, 300, "2 recorded candidates", tmp_path / "first.log")
    finally:
        kill_group(first)
    (parent,) = runs(client, "search")
    assert parent.info.status == "RUNNING", "a killed search cannot have closed its run"
    before = {r.info.run_id: r.data.tags["nas.candidate_hash"] for r in recorded(client)}
    assert 2 <= len(before) < BUDGET

    second = start_stage(tmp_path, "search", log_name="second.log")
    assert second.wait(timeout=300) == 0, (tmp_path / "second.log").read_text()
    log = (tmp_path / "second.log").read_text()

    assert f"resumed search {parent.info.run_id}: {len(before)} of {BUDGET} candidates recovered" in log
    assert "began training while Prefect's server was starting" not in log  # a resume plans no head start
    (search,) = runs(client, "search")  # the same parent run, now finished: MLflow shows one search
    assert search.info.run_id == parent.info.run_id and search.info.status == "FINISHED"
    records = recorded(client, parent.info.run_id)
    assert len(records) == BUDGET
    hashes = [r.data.tags["nas.candidate_hash"] for r in records]
    assert len(set(hashes)) == BUDGET, "a candidate was trained twice"
    assert before.items() <= {r.info.run_id: r.data.tags["nas.candidate_hash"] for r in records}.items()
    assert sorted(int(r.data.tags["nas.candidate_index"]) for r in records) == list(range(BUDGET))
    kept = {r.info.run_id for r in records}
    killed = [r for r in runs(client, "candidate", parent.info.run_id) if r.info.run_id not in kept]
    assert all(r.info.status == "KILLED" and r.data.tags["nas.status"] == "KILLED" for r in killed)

    summary = json.loads((tmp_path / "metrics/search.json").read_text())
    assert summary["candidates"] == BUDGET and summary["completed"] + summary["failed"] == BUDGET
    results = json.loads((tmp_path / "artifacts/search_results.json").read_text())
    assert sorted(r["key"] for r in results) == sorted(hashes)
    recovered = [r for r in results if r["key"] in before.values()]
    assert all(r["status"] != "COMPLETED" or (r["val_accuracy"] is not None and r["history"]) for r in recovered)


def _tiny_config(**search: Any) -> NasConfig:
    return NasConfig.model_validate({"search": search})


def test_resume_key_names_the_search_not_how_it_runs() -> None:
    """Same data and settings: same search, whichever executor runs it; other data or settings: another one."""
    base = resume_key(_tiny_config(), "data-a")
    assert resume_key(_tiny_config(executor="dask", recycle_after=3, resume=False), "data-a") == base
    assert resume_key(_tiny_config(seed=1), "data-a") != base
    assert resume_key(_tiny_config(max_candidates=5), "data-a") != base
    assert resume_key(_tiny_config(), "data-b") != base


def test_fresh_flag_reaches_the_search_flow(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def flow(**kwargs: Any) -> None:
        seen.update(kwargs)

    params = make_params(tmp_path)
    assert run_stage(flow, "search", argv=["--params", str(params), "--fresh"], flags={"fresh": "help"}) == 0
    assert seen == {"params_path": str(params), "fresh": True}
    assert run_stage(flow, "search", argv=["--params", str(params)], flags={"fresh": "help"}) == 0
    assert seen["fresh"] is False
    seen.clear()
    assert run_stage(flow, "prepare", argv=["--params", str(params)]) == 0
    assert seen == {"params_path": str(params)}, "stages without flags are called as before"


def make_params(root: Path) -> Path:
    from tests.conftest import write_params

    return write_params(root / "params.yaml")


def test_tracker_logs_the_proposal_so_a_resume_can_replay_it(tmp_path: Path) -> None:
    from nas_core.search_loop import Candidate

    tracker = MlflowTracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "nas-test")
    tracker.start_search({"search": {"seed": 0}}, "hash", "random", extra_tags={"nas.resume_key": "k"})
    sample = {"conv_blocks": 1, "filters_0": 8, "filters_1": 16, "skip_0": True}
    run_id = tracker.start_candidate(Candidate(0, sample, {"conv_blocks": 1, "filters_0": 8}, "abc"))
    run = tracker.client.get_run(run_id)
    assert json.loads(run.data.tags["nas.sample"]) == sample
    assert tracker.client.get_run(tracker.parent_run_id or "").data.tags["nas.resume_key"] == "k"


# Recovery on a real MLflow store, with candidates recorded by the real tracker (no training needed).


def _record_search(tmp_path: Path, cfg: NasConfig, outcomes: list[str]) -> tuple[MlflowTracker, str, list[Any]]:
    """A search as a killed process leaves it: finished candidates, and RUNNING ones for `outcomes` "RUNNING"."""
    tracker = MlflowTracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "nas-test")
    build = partial(make_candidate, cnn_search_space(cfg.space), SHAPE)
    opened = open_search(tracker, cfg, "hash", build, logging.getLogger("test"))
    strategy = make_strategy("random", cnn_search_space(cfg.space), seed=cfg.search.seed)
    results: list[Any] = []
    for index, outcome in enumerate(outcomes):
        candidate = build(index, strategy.ask(1)[0])
        run_id = tracker.start_candidate(candidate)
        if outcome == "RUNNING":
            continue
        curve = [0.1 * (i + 1) for i in range(3)]
        result = CandidateResult(
            candidate.key,
            candidate.architecture,
            outcome,
            val_accuracy=0.3 + index / 10 if outcome == COMPLETED else None,
            val_loss=1.5 if outcome == COMPLETED else None,
            params=1234 if outcome == COMPLETED else None,
            train_seconds=2.5,
            epochs_run=3 if outcome == COMPLETED else 0,
            history={"loss": curve, "val_accuracy": curve} if outcome == COMPLETED else {},
            error=None if outcome == COMPLETED else "boom",
            index=index,
        )
        tracker.finish_candidate(run_id, result)
        results.append(result)
    return tracker, opened.parent_run_id, results


def test_recovery_reads_back_what_was_logged_and_kills_what_was_running(tmp_path: Path) -> None:
    cfg = _tiny_config(max_candidates=6, seed=4)
    first, parent, logged = _record_search(tmp_path, cfg, [COMPLETED, "RUNNING", FAILED, COMPLETED])
    # Its process is gone: the owner's pid now belongs to another process (started at another time).
    reused_pid = {"host": socket.gethostname(), "pid": os.getpid(), "started": 0}
    first.client.set_tag(parent, "nas.owner", json.dumps(reused_pid))
    tracker = MlflowTracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "nas-test")  # a new process, as after a kill
    build = partial(make_candidate, cnn_search_space(cfg.space), SHAPE)

    opened = open_search(tracker, cfg, "hash", build, logging.getLogger("test"))

    assert opened.resumed and opened.parent_run_id == parent
    replayed = [result for _, result in opened.replay]
    # Indices close the gap left by the killed candidate, so new candidates never share one.
    assert [r.index for r in replayed] == [0, 1, 2]
    for got, want in zip(replayed, logged, strict=True):
        assert got == dataclasses.replace(want, index=got.index, summary=None)
    children = tracker.client.search_runs([tracker.experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'")
    by_status = sorted((c.info.status, c.data.tags["nas.status"], c.info.run_name) for c in children)
    assert by_status == [
        ("FAILED", "FAILED", "candidate-001"),
        ("FINISHED", "COMPLETED", "candidate-000"),
        ("FINISHED", "COMPLETED", "candidate-002"),
        ("KILLED", "KILLED", "candidate-001-killed"),
    ]
    assert tracker.client.get_run(parent).info.status == "RUNNING"


def test_only_killed_or_interrupted_searches_are_resumed(tmp_path: Path) -> None:
    cfg = _tiny_config(max_candidates=3)
    build = partial(make_candidate, cnn_search_space(cfg.space), SHAPE)
    logger = logging.getLogger("test")
    tracker, parent, _ = _record_search(tmp_path, cfg, [COMPLETED])
    # Owned by a live process (this one): another search with the same params must not take it over.
    assert open_search(tracker, cfg, "hash", build, logger).parent_run_id != parent
    for run in tracker.client.search_runs([tracker.experiment_id], "tags.`nas.kind` = 'search'"):
        tracker.parent_run_id = run.info.run_id
        tracker.finish_search({"candidates": 1}, failed=True)  # e.g. every candidate failed: over, not resumable
    assert not open_search(tracker, cfg, "hash", build, logger).resumed
    tracker.finish_search({"interrupted": 1}, failed=True)  # an exception stopped it: resumable
    interrupted = tracker.parent_run_id
    assert open_search(tracker, cfg, "hash", build, logger, fresh=True).parent_run_id != interrupted
    resumed = open_search(tracker, cfg, "hash", build, logger)
    assert resumed.parent_run_id == interrupted and resumed.resumed
    assert tracker.client.get_run(interrupted).info.status == "RUNNING"
