"""MLflow's backend store and the Prefect server's database on PostgreSQL (scripts/postgres.sh starts one).

Skipped, with the reason shown, when no PostgreSQL answers at the URIs below.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from mlflow import MlflowClient
from sqlalchemy import create_engine, text

from flows.prepare import prepare_flow
from flows.runtime.prefect_server import start_prefect_server
from flows.search import run_search_stage
from tests.conftest import write_params

MLFLOW_URI = os.environ.get(
    "NAS_TEST_PG_MLFLOW_URI", "postgresql+psycopg2://nas_mlflow:nas_mlflow@127.0.0.1:5432/nas_mlflow"
)
PREFECT_DB = os.environ.get(
    "NAS_TEST_PG_PREFECT_URL", "postgresql+asyncpg://nas_prefect:nas_prefect@127.0.0.1:5432/nas_prefect"
)


def sync_url(url: str) -> str:
    """The same database through psycopg2, for reading it directly."""
    return url.replace("+asyncpg", "+psycopg2")


def postgres_missing() -> str | None:
    for url in (MLFLOW_URI, PREFECT_DB):
        try:
            with create_engine(sync_url(url), connect_args={"connect_timeout": 3}).connect():
                pass
        except Exception as error:
            first_line = str(error).strip().splitlines()[0]
            return f"no PostgreSQL at {url.split('@')[-1]} ({first_line}); run `make test-deps` (scripts/postgres.sh)"
    return None


pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_search_records_into_postgres_mlflow_under_a_postgres_prefect_server(workdir: Path) -> None:
    missing = postgres_missing()
    if missing is not None:
        pytest.fail(missing)
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    experiment = f"nas-pg-{uuid.uuid4().hex[:8]}"  # the database outlives the test: keep each run apart
    params = write_params(
        workdir / "params.yaml",
        {"tracking": {"uri": MLFLOW_URI, "experiment": experiment}, "search": {"max_candidates": 2}},
    )
    started = datetime.now(UTC)  # pytest reuses tmp paths, so earlier runs may share our params_path
    server_env = {"PREFECT_SERVER_DATABASE_CONNECTION_URL": PREFECT_DB, "PREFECT_HOME": str(workdir / ".prefect")}
    with start_prefect_server(free_port(), env=server_env) as api_url:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            prepare_flow(params_path=str(params))
            summary = run_search_stage(params_path=str(params))
            with get_client(sync_client=True) as prefect:
                latest = prefect.read_flow_runs(sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=20)
            APILogWorker.drain_all(timeout=10)  # send the runs' last logs while the server is still up
    runs: list[Any] = [
        run
        for run in latest
        if run.parameters.get("params_path") == str(params) and run.created is not None and run.created >= started
    ]
    assert summary["candidates"] == 2 and summary["failed"] == 0

    # Prefect: both flow runs completed, and they are rows of the PostgreSQL database.
    assert len(runs) == 2 and all(run.state is not None and run.state.is_completed() for run in runs)
    with create_engine(sync_url(PREFECT_DB)).connect() as db:
        ids = [str(run.id) for run in runs]
        stored = db.execute(text("SELECT count(*) FROM flow_run WHERE id::text = ANY(:ids)"), {"ids": ids})
        assert stored.scalar() == 2

    # MLflow: the parent run and one child per candidate, read back from PostgreSQL.
    client = MlflowClient(tracking_uri=MLFLOW_URI)
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    runs_by_kind: dict[str, list[Any]] = {}
    for run in client.search_runs([found.experiment_id]):
        runs_by_kind.setdefault(run.data.tags["nas.kind"], []).append(run)
    (parent,) = runs_by_kind["search"]
    assert parent.info.status == "FINISHED" and parent.data.metrics["candidates"] == 2
    password = urlparse(MLFLOW_URI).password
    assert parent.data.params["tracking.uri"] == MLFLOW_URI.replace(f":{password}@", ":***@")  # redacted
    assert len(runs_by_kind["candidate"]) == 2
    assert {c.data.tags["mlflow.parentRunId"] for c in runs_by_kind["candidate"]} == {parent.info.run_id}
    with create_engine(sync_url(MLFLOW_URI)).connect() as db:
        stored = db.execute(text("SELECT count(*) FROM runs WHERE experiment_id = :e"), {"e": int(found.experiment_id)})
        assert stored.scalar() == 3
