"""Issue 7: kill -9 in the middle of MLflow writes and of a retrain; after a restart nothing is lost or doubled.

(kill -9 in the middle of a search: tests/reliability/test_resume.py.)
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from flows.engine.finish import winner_record
from flows.engine.setup import make_candidate
from flows.io.artifacts import read_manifest
from flows.io.params import load_params
from flows.retrain import retrain_flow
from flows.search import run_search_stage
from flows.tracking.tracker import MlflowTracker
from nas_core.architecture import cnn_search_space
from nas_core.results import COMPLETED, CandidateResult
from tests.reliability.crash_helpers import (
    client_for,
    kill_group,
    make_project,
    recorded,
    runs,
    start_stage,
    wait_until,
)

pytestmark = pytest.mark.slow

BUDGET = 4

# Records fake (untrained) candidates of the search that params.yaml defines, as fast as MLflow takes
# them, then keeps writing metrics until it is killed: the kill lands inside some MLflow write.
WRITER = r"""
import logging
import time
from functools import partial

from mlflow.entities import Metric

from flows.io.params import load_params
from flows.tracking.resume import open_search
from flows.io.params import load_params
from flows.engine.setup import make_candidate
from flows.io.artifacts import read_manifest
from flows.tracking.tracker import MlflowTracker
from nas_core.architecture import architecture_key, cnn_search_space
from nas_core.results import CandidateResult
from nas_core.strategies import make_strategy

cfg = load_params("params.yaml")
manifest = read_manifest()
shape = tuple(manifest["input_shape"])
space = cnn_search_space(cfg.space)
build = partial(make_candidate, space, shape)
tracker = MlflowTracker(cfg.tracking.uri, cfg.tracking.experiment)
parent = open_search(tracker, cfg, manifest["content_hash"], build, logging.getLogger("writer")).parent_run_id
key = partial(architecture_key, space, input_shape=shape)
strategy = make_strategy(cfg.search.strategy, space, seed=cfg.search.seed, key=key, **cfg.search.strategy_options)
curve = [0.5 + 0.0001 * i for i in range(500)]
for index in range(cfg.search.max_candidates - 1):
    sample = strategy.ask(1)[0]
    candidate = build(index, sample)
    run_id = tracker.start_candidate(candidate)
    history = {"loss": curve, "accuracy": curve, "val_loss": curve, "val_accuracy": curve}
    result = CandidateResult(
        candidate.key, candidate.architecture, "COMPLETED", val_accuracy=0.5 + index / 100, val_loss=1.0,
        params=1000, train_seconds=1.0, epochs_run=len(curve), history=history, summary="fake", index=index,
    )
    tracker.finish_candidate(run_id, result)
    strategy.tell(sample, result.score)
step = 0
while True:
    stamp = int(time.time() * 1000)
    tracker.client.log_batch(parent, metrics=[Metric("noise", float(i), stamp, step + i) for i in range(1000)])
    tracker.client.set_tag(parent, "noise", str(step))
    step += 1000
"""


def store_is_sound(root: Path) -> None:
    """SQLite's own check, then MLflow reads every run back."""
    with sqlite3.connect(root / "mlflow.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    client = client_for(root)
    for run in runs(client, "search") + runs(client, "candidate") + runs(client, "retrain"):
        assert client.get_run(run.info.run_id).info.run_id == run.info.run_id


def test_kill_during_mlflow_writes_leaves_a_store_that_opens_and_a_search_that_resumes(
    prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    make_project(tmp_path, {"search": {"max_candidates": BUDGET, "parallelism": 1, "seed": 5}})
    client = client_for(tmp_path)
    log = tmp_path / "writer.log"
    with log.open("wb") as out:
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER], cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until(lambda: len(recorded(client)) >= 2, writer, 180, "2 recorded candidates", log)
        time.sleep(random.uniform(0.0, 0.5))  # land somewhere in the stream of writes
    finally:
        kill_group(writer)
    store_is_sound(tmp_path)
    before = {r.data.tags["nas.candidate_hash"] for r in recorded(client)}

    monkeypatch.chdir(tmp_path)  # the restart runs in this process: the CLI restart is test_resume.py's
    with caplog.at_level(logging.INFO):
        summary = run_search_stage("params.yaml")
    assert "resumed search" in caplog.text
    assert summary["candidates"] == BUDGET
    store_is_sound(tmp_path)
    (parent,) = runs(client, "search")
    assert parent.info.status == "FINISHED"
    hashes = [r.data.tags["nas.candidate_hash"] for r in recorded(client, parent.info.run_id)]
    assert len(hashes) == BUDGET and len(set(hashes)) == BUDGET and before <= set(hashes)
    assert json.loads((tmp_path / "metrics/search.json").read_text())["candidates"] == BUDGET


def _winner(root: Path) -> None:
    """What the search stage leaves for retrain: a parent run and artifacts/best_architecture.json."""
    cfg = load_params(root / "params.yaml")
    manifest = read_manifest(root / "data/prepared")
    space = cnn_search_space(cfg.space)
    candidate = make_candidate(space, tuple(manifest["input_shape"]), 0, space.sample(np.random.default_rng(0)))
    tracker = MlflowTracker(f"sqlite:///{root / 'mlflow.db'}", cfg.tracking.experiment)
    parent = tracker.start_search({}, manifest["content_hash"], "random")
    best = CandidateResult(candidate.key, candidate.architecture, COMPLETED, 0.5, 1.0, 1000, 1.0, 2, index=0)
    path = root / "artifacts/best_architecture.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(winner_record(best, manifest, parent)))
    tracker.finish_search({"candidates": 1})


def test_kill_during_retrain_then_a_rerun_just_works(
    prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(tmp_path, {"retrain": {"epochs": 3, "model_name": "nas-fault"}})
    _winner(tmp_path)
    client = client_for(tmp_path)
    first = start_stage(tmp_path, "retrain", log_name="first.log")
    try:  # the retrain run appears after the model file is saved, while the model is logged and registered
        wait_until(lambda: bool(runs(client, "retrain")), first, 300, "the retrain run", tmp_path / "first.log")
    finally:
        kill_group(first)
    assert first.returncode == -9, "the retrain finished before it could be killed"
    store_is_sound(tmp_path)
    assert not (tmp_path / "metrics/test.json").exists(), "written last, so absent after a kill"
    keras.saving.load_model(tmp_path / "models/winner.keras", safe_mode=True)  # whole, never half written

    monkeypatch.chdir(tmp_path)
    test = retrain_flow(params_path="params.yaml")
    store_is_sound(tmp_path)
    assert json.loads((tmp_path / "metrics/test.json").read_text()) == test
    keras.saving.load_model(tmp_path / "models/winner.keras", safe_mode=True)
    assert not (tmp_path / "models/.winner.partial.keras").exists()
    finished = [r for r in runs(client, "retrain") if r.info.status == "FINISHED"]
    assert [r.info.run_id for r in finished] == [test["mlflow_run_id"]]
    champion = client.get_model_version_by_alias("nas-fault", "champion")
    assert champion.run_id == test["mlflow_run_id"]
