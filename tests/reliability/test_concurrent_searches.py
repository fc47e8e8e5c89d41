"""Issue 7: two searches at once against one MLflow store neither corrupt it nor mix their runs."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import write_params
from tests.reliability.crash_helpers import (
    client_for,
    kill_group,
    make_project,
    recorded,
    runs,
    start_stage,
    tail,
)

BUDGET = 3


@pytest.mark.slow
def test_two_identical_searches_at_once_keep_their_own_runs(prefect_api: str, tmp_path: Path) -> None:
    """The same params on purpose: neither may take the other, which is alive, for a killed search to resume.

    (That a live owner is recognised is also checked alone, in test_resume.py.)
    """
    store = tmp_path / "store"
    store.mkdir()
    overrides = {
        "search": {"max_candidates": BUDGET, "parallelism": 1, "seed": 2},
        "train": {"epochs": 1},
        "tracking": {"uri": f"sqlite:///{store / 'mlflow.db'}", "experiment": "nas-test"},
    }
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    make_project(first_dir, overrides)
    shutil.copytree(first_dir / "data", second_dir / "data")
    write_params(second_dir / "params.yaml", overrides)
    client = client_for(store)

    first, second = start_stage(first_dir, "search"), start_stage(second_dir, "search")  # at once: most overlap
    try:
        assert first.wait(timeout=300) == 0, tail(first_dir / "search.log")
        assert second.wait(timeout=300) == 0, tail(second_dir / "search.log")
    finally:
        kill_group(first)
        kill_group(second)

    with sqlite3.connect(store / "mlflow.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    parents = runs(client, "search")
    assert len(parents) == 2 and {p.info.status for p in parents} == {"FINISHED"}
    early, late = sorted(parents, key=lambda p: p.info.start_time)
    assert late.info.start_time < early.info.end_time, "the two searches did not overlap"
    logs = (first_dir / "search.log").read_text() + (second_dir / "search.log").read_text()
    assert "resumed search" not in logs and "database is locked" not in logs
    for parent in parents:
        children = runs(client, "candidate", parent.info.run_id)
        assert len(children) == BUDGET and len(recorded(client, parent.info.run_id)) == BUDGET
        for child in children:
            artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
            assert "architecture.json" in artifacts
    assert len(runs(client, "candidate")) == 2 * BUDGET, "no candidate run without its own parent"
