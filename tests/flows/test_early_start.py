"""The search's early start: Prefect's temporary server and the workers start before the heavy imports.

With no Prefect server configured, `python -m flows.search` runs its flow on a temporary server it
started itself, records the flow run there through to its final state, and leaves nothing running.
A configured server always wins over the early one.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from flows.runtime import early_start
from nas_core.config import SearchConfig
from tests.conftest import write_params


def leftover_processes(prefect_home: Path) -> list[str]:
    """Processes still running with this PREFECT_HOME: a server or a worker the search failed to stop."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if process.pid != os.getpid() and process.environ().get("PREFECT_HOME") == str(prefect_home):
                found.append(" ".join(process.info["cmdline"] or []))
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def test_search_runs_on_its_own_early_server_and_stops_it(workdir: Path) -> None:
    write_params(workdir / "params.yaml", {"search": {"max_candidates": 2}})
    home = workdir / ".prefect"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(home)}
    for stage in ("flows.prepare", "flows.search"):
        done = subprocess.run(
            [sys.executable, "-m", stage], cwd=workdir, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr[-3000:]
    # Random search at parallelism 2: both candidates were planned and started before the flow began.
    assert "2 candidate(s) began training while Prefect's server was starting" in done.stdout + done.stderr

    assert (home / "temporary-server.log").is_file()  # flows/runtime/early_start.py's server, not Prefect's own
    with sqlite3.connect(home / "prefect.db") as db:
        runs = db.execute(
            "SELECT flow_run.state_type FROM flow_run JOIN flow ON flow.id = flow_run.flow_id WHERE flow.name = ?",
            ("nas-search",),
        ).fetchall()
    assert runs == [("COMPLETED",)]  # the final state reached the server before it was stopped
    assert (workdir / "metrics" / "search.json").is_file()
    assert leftover_processes(home) == []


def test_a_configured_prefect_server_wins_over_the_early_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(early_start, "_early_servers", [])
    early_start.start_prefect_server_early()
    (server,) = early_start._early_servers
    assert psutil.Process(server.process.pid).nice() == early_start.SERVER_NICENESS  # start-up goes to the stage first
    configured = "http://127.0.0.1:1/api"  # a profile's server, say; never contacted here
    with temporary_settings(updates={PREFECT_API_URL: configured}), early_start.use_early_prefect_server():
        assert server.process.poll() is not None  # the early server was stopped unused
        assert str(PREFECT_API_URL.value()) == configured
    assert early_start._early_servers == []


def test_the_early_server_is_not_started_when_the_environment_names_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")
    monkeypatch.setattr(early_start, "_early_servers", [])
    early_start.start_prefect_server_early()
    assert early_start._early_servers == []
    assert not (tmp_path / "temporary-server.log").exists()


def test_the_workers_know_a_full_training_budget_but_not_a_multi_fidelity_one() -> None:
    full = SearchConfig(max_candidates=20, parallelism=1, recycle_after=10)
    hyperband = SearchConfig(max_candidates=20, parallelism=1, recycle_after=10, estimation="hyperband")
    assert early_start._trainer_args(full) == (1, 10, 20)
    assert early_start._trainer_args(hyperband) == (1, 10, None)  # candidates train again on later rungs
