"""A night that fails tells the webhook and leaves a FAILED run in MLflow; a manual run that fails does neither.

Real components throughout: the pipeline flow on a real Prefect server, a real HTTP server on
127.0.0.1 that records what is posted, and the MLflow SQLite store the flow writes. The data
file is missing, so each run fails in the prepare stage, before any training.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from mlflow import MlflowClient
from prefect.client.orchestration import get_client
from prefect.states import Crashed

from flows.pipeline import pipeline_flow, tell_of_a_failed_night
from nas_core.errors import NasError
from tests.conftest import RecordingServer, write_params

pytestmark = pytest.mark.slow  # real flow runs on a real Prefect server, a few seconds each

MISSING_DATA = {"source": "npz", "path": "missing.npz"}
MISSING_TEXT = "missing.npz does not exist"


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: a port the OS gave out, then closed again."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/secret-token"


def failing_params(root: Path, webhook_url: str) -> str:
    overrides = {"data": MISSING_DATA, "schedule": {"notify": {"webhook": webhook_url}}}
    return str(write_params(root / "params.yaml", overrides))


def night_runs(root: Path) -> list[Any]:
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("nas-test")
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id], filter_string="tags.`nas.kind` = 'night'")


def test_a_failed_night_posts_to_the_webhook_and_is_recorded_in_mlflow(
    prefect_api: str, workdir: Path, webhook: RecordingServer
) -> None:
    params = failing_params(workdir, webhook.url)
    with pytest.raises(NasError, match=MISSING_TEXT):
        pipeline_flow(params_path=params, scheduled=True)

    (body,) = webhook.bodies
    assert body["state"] == "Failed"
    assert MISSING_TEXT in body["error"] and body["error"].startswith("NasError: data.path:")
    assert body["params_path"] == params and body["event"] == "nas.night_failed"
    assert MISSING_TEXT in body["text"] and body["time"].endswith("+00:00")
    with get_client(sync_client=True) as client:  # the id and name are those of the real, failed flow run
        flow_run = client.read_flow_run(UUID(body["flow_run_id"]))
    assert flow_run.name == body["flow_run_name"] and flow_run.state is not None and flow_run.state.is_failed()

    (run,) = night_runs(workdir)
    assert run.info.status == "FAILED"
    assert run.info.run_name == f"night-failed-{body['time'][:10]}"  # schedule.timezone is UTC here
    assert run.data.tags["nas.trigger"] == "scheduled"
    assert run.data.tags["nas.flow_run_id"] == body["flow_run_id"]
    assert run.data.tags["nas.prefect_state"] == "Failed"
    assert MISSING_TEXT in run.data.tags["nas.error"]
    assert run.data.params["params_path"] == params


def test_a_failed_manual_run_posts_nothing_and_records_no_night(
    prefect_api: str, workdir: Path, webhook: RecordingServer
) -> None:
    params = failing_params(workdir, webhook.url)
    with pytest.raises(NasError, match=MISSING_TEXT):
        pipeline_flow(params_path=params, scheduled=False)
    assert webhook.bodies == []
    assert night_runs(workdir) == []


def test_a_webhook_that_does_not_answer_hides_neither_the_error_nor_the_record(
    prefect_api: str, workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    params = failing_params(workdir, closed_port_url())
    with pytest.raises(NasError, match=MISSING_TEXT):  # the night's own error, not the webhook's
        pipeline_flow(params_path=params, scheduled=True)
    (run,) = night_runs(workdir)
    assert run.info.status == "FAILED" and MISSING_TEXT in run.data.tags["nas.error"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("did not take the failure notice" in w for w in warnings), warnings
    assert not any("secret-token" in r.getMessage() for r in caplog.records)  # a webhook's path is its secret


def test_a_crashed_night_is_told_as_crashed(prefect_api: str, workdir: Path, webhook: RecordingServer) -> None:
    """A crash cannot be staged cheaply in-process, so the registered crash hook gets a real Crashed state."""
    assert tell_of_a_failed_night in pipeline_flow.on_crashed_hooks
    params = failing_params(workdir, webhook.url)
    with get_client(sync_client=True) as client:
        flow_run = client.create_flow_run(pipeline_flow, parameters={"params_path": params, "scheduled": True})
    tell_of_a_failed_night(pipeline_flow, flow_run, Crashed(message="Execution was aborted by an interrupt signal."))
    (body,) = webhook.bodies
    assert body["state"] == "Crashed" and body["flow_run_id"] == str(flow_run.id)
    assert body["error"] == "CrashedRun: Execution was aborted by an interrupt signal."
    (run,) = night_runs(workdir)
    assert run.data.tags["nas.prefect_state"] == "Crashed" and run.info.status == "FAILED"


def test_a_broken_params_file_is_logged_and_the_hook_goes_on(
    prefect_api: str, workdir: Path, webhook: RecordingServer, caplog: pytest.LogCaptureFixture
) -> None:
    broken = workdir / "params.yaml"
    broken.write_text("search: [unclosed\n")
    with pytest.raises(NasError, match="not valid YAML"):
        pipeline_flow(params_path=str(broken), scheduled=True)
    assert webhook.bodies == [] and night_runs(workdir) == []
    assert any("the params file cannot be read" in r.getMessage() for r in caplog.records)
