"""The nightly deployment: built from params.yaml, served for real, two nights triggered through the
server (the second trains nothing the first trained), a worse retrain, and a night that fails."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from mlflow import MlflowClient
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment

from flows.retrain import retrain_flow
from flows.schedule import build_deployment, main
from nas_core.config import validate_config
from nas_core.errors import NasError
from tests.conftest import RecordingServer, write_params

NIGHTLY = {
    "schedule": {"cron": "30 3 * * 1-5", "timezone": "Europe/Paris"},
    "search": {"max_candidates": 2},
    "retrain": {"epochs": 6},
}
DEPLOYMENT = "nas-pipeline/nightly"


def test_a_bad_cron_or_time_zone_names_its_key(tmp_path: Path) -> None:
    with pytest.raises(NasError, match=r"schedule\.cron: '61 2 \* \* \*'"):
        build_deployment(validate_config({"schedule": {"cron": "61 2 * * *"}}), "params.yaml")
    with pytest.raises(NasError, match=r"schedule\.timezone: unknown time zone 'Mars/Olympus'"):
        build_deployment(validate_config({"schedule": {"timezone": "Mars/Olympus"}}), "params.yaml")
    bad = write_params(tmp_path / "params.yaml", {"schedule": {"cron": "every night"}})
    assert main(["--params", str(bad)]) == 2  # refused before anything is served


def wait_for_deployment(process: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            try:
                return client.read_deployment_by_name(DEPLOYMENT)
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"`python -m flows.schedule` did not serve the deployment:\n{log.read_text()[-3000:]}")
                time.sleep(1)


@pytest.fixture(scope="module")
def nightly(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`python -m flows.schedule` served in a scratch directory, and one run of its deployment."""
    root = tmp_path_factory.mktemp("nightly")
    params = write_params(root / "params.yaml", NIGHTLY)
    env = os.environ | {"PREFECT_API_URL": prefect_api, "PREFECT_RUNNER_POLL_FREQUENCY": "2"}
    log = root / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.schedule", "--params", str(params)],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deployment = wait_for_deployment(process, log)
        flow_run = run_deployment(DEPLOYMENT, timeout=300, poll_interval=2, as_subflow=False)
        first_test = json.loads((root / "metrics/test.json").read_text()) if flow_run.state.is_completed() else {}
        second_run = run_deployment(DEPLOYMENT, timeout=300, poll_interval=2, as_subflow=False)
        yield {
            "root": root,
            "deployment": deployment,
            "flow_run": flow_run,
            "first_test": first_test,
            "second_run": second_run,
            "log": log,
            "process": process,
        }
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_the_deployment_carries_the_cron_time_zone_and_parameters(nightly: dict[str, Any]) -> None:
    deployment = nightly["deployment"]
    (schedule,) = deployment.schedules
    assert schedule.schedule.cron == "30 3 * * 1-5"
    assert schedule.schedule.timezone == "Europe/Paris"
    assert schedule.active
    assert deployment.parameters == {"params_path": str(nightly["root"] / "params.yaml"), "scheduled": True}
    assert deployment.global_concurrency_limit is not None and deployment.global_concurrency_limit.limit == 1
    assert set(deployment.tags) == {"nas", "nightly"}


@pytest.mark.slow
def test_a_run_of_the_deployment_completes_tagged_scheduled(nightly: dict[str, Any]) -> None:
    flow_run, root = nightly["flow_run"], nightly["root"]
    assert flow_run.state is not None and flow_run.state.is_completed(), (
        f"{flow_run.state}\n{nightly['log'].read_text()[-3000:]}"
    )
    test = nightly["first_test"]  # metrics/test.json, written where the schedule is served
    assert test["champion"] is True and test["previous_champion_version"] is None
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    first, _ = nightly_searches(client)
    assert first.data.tags["nas.trigger"] == "scheduled"
    assert first.data.metrics["candidates"] == 2


def nightly_searches(client: MlflowClient) -> list[Any]:
    experiment = client.get_experiment_by_name("nas-test")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], filter_string="tags.`nas.kind` = 'search'")
    return sorted(runs, key=lambda r: r.info.start_time)


def trained(client: MlflowClient, search: Any) -> set[str]:
    query = f"tags.`mlflow.parentRunId` = '{search.info.run_id}' and tags.`nas.kind` = 'candidate'"
    return {r.data.tags["nas.candidate_hash"] for r in client.search_runs([search.info.experiment_id], query)}


@pytest.mark.slow
def test_the_second_night_trains_no_architecture_the_first_trained(nightly: dict[str, Any]) -> None:
    second_run, root = nightly["second_run"], nightly["root"]
    assert second_run.state is not None and second_run.state.is_completed(), (
        f"{second_run.state}\n{nightly['log'].read_text()[-3000:]}"
    )
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    first, second = nightly_searches(client)
    assert len(trained(client, first)) == 2 and len(trained(client, second)) == 2
    assert not trained(client, first) & trained(client, second)
    assert second.data.tags["nas.warm_start"] == "history" and second.data.metrics["reused_candidates"] == 2
    assert first.data.tags["nas.search_seed"] == "0" != second.data.tags["nas.search_seed"]
    assert second.data.tags["nas.data_dvc_md5"] == first.data.tags["nas.data_dvc_md5"]
    search = json.loads((root / "metrics/search.json").read_text())
    assert search["candidates"] == 2 and search["reused_candidates"] == 2


@pytest.mark.slow
def test_a_worse_retrain_is_registered_but_the_champion_stays(
    nightly: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = nightly["root"]
    monkeypatch.chdir(root)
    first = json.loads((root / "metrics/test.json").read_text())
    # The same winner, barely trained: one epoch at a learning rate too small to move the weights.
    worse_params = write_params(
        root / "worse.yaml", NIGHTLY | {"train": {"learning_rate": 1e-7}, "retrain": {"epochs": 1}}
    )
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    champion = client.get_model_version_by_alias("nas-test", "champion")
    second = retrain_flow(params_path=str(worse_params))
    assert second["promotion_accuracy"] < first["promotion_accuracy"]  # what the rule compares; test is not read
    assert second["champion"] is False and second["previous_champion_rescored"] is False  # the same data
    assert second["model_version"] == "3" and second["champion_version"] == str(champion.version)
    assert json.loads((root / "metrics/test.json").read_text())["champion"] is False
    assert client.get_model_version_by_alias("nas-test", "champion").version == champion.version
    assert len(client.search_model_versions("name = 'nas-test'")) == 3  # the loser is registered all the same
    retrain_run = client.get_run(second["mlflow_run_id"])
    assert retrain_run.data.tags["nas.trigger"] == "manual" and retrain_run.data.tags["nas.champion"] == "false"


def night_process(schedule: subprocess.Popen[bytes], flow_run_id: str, timeout: float = 120.0) -> psutil.Process:
    """The process the served deployment runs one flow run in: a child of the schedule command."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in psutil.Process(schedule.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if child.environ().get("PREFECT__FLOW_RUN_ID") == flow_run_id:
                    return child
        time.sleep(0.5)
    pytest.fail(f"no process of flow run {flow_run_id} appeared under the schedule command")


def final_state(flow_run_id: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            state = client.read_flow_run(flow_run_id).state
            if state is not None and state.is_final():
                return state
            time.sleep(1)
    pytest.fail(f"flow run {flow_run_id} did not end within {timeout:.0f} s")


@pytest.mark.slow
def test_a_night_whose_process_dies_tells_the_webhook_and_mlflow(
    nightly: dict[str, Any], webhook: RecordingServer
) -> None:
    """A crash, not an exception: the night's process is killed with SIGKILL while it trains."""
    root = nightly["root"]
    schedule = NIGHTLY["schedule"] | {"notify": {"webhook": webhook.url}}
    write_params(root / "params.yaml", NIGHTLY | {"schedule": schedule})
    flow_run = run_deployment(DEPLOYMENT, timeout=0, as_subflow=False)  # returns once it is scheduled
    night_process(nightly["process"], str(flow_run.id)).kill()
    state = final_state(flow_run.id)
    assert state.is_crashed(), state
    # The schedule command runs the crash hook after it reports the state: wait for its last step.
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("nas-test")
    assert experiment is not None
    query = f"tags.`nas.kind` = 'night' and tags.`nas.flow_run_id` = '{flow_run.id}' and attributes.status = 'FAILED'"
    deadline = time.monotonic() + 60  # the run is created, then closed FAILED: wait for the second step
    while not (nights := client.search_runs([experiment.experiment_id], query)) and time.monotonic() < deadline:
        time.sleep(1)
    assert len(nights) == 1, nightly["log"].read_text()[-3000:]
    assert "status code: -9" in nights[0].data.tags["nas.error"], nights[0].data.tags
    (body,) = webhook.bodies
    assert body["state"] == "Crashed" and body["flow_run_id"] == str(flow_run.id) and "SIGKILL" in body["error"]


@pytest.mark.slow
def test_a_night_that_fails_tells_the_webhook(nightly: dict[str, Any], webhook: RecordingServer) -> None:
    """Run last: the served params file loses its dataset, and the next night run through the server fails."""
    root = nightly["root"]
    schedule = NIGHTLY["schedule"] | {"notify": {"webhook": webhook.url}}
    missing = {"data": {"source": "npz", "path": "missing.npz"}, "schedule": schedule}
    write_params(root / "params.yaml", NIGHTLY | missing)
    flow_run = run_deployment(DEPLOYMENT, timeout=300, poll_interval=2, as_subflow=False)
    assert flow_run.state is not None and flow_run.state.is_failed()
    (body,) = webhook.bodies
    assert body["state"] == "Failed" and body["flow_run_id"] == str(flow_run.id)
    assert "missing.npz does not exist" in body["error"]
