"""A Dask cluster whose workers cannot see the project, as on other hosts: the search still trains every candidate.

The test starts `dask scheduler` and two `dask worker` processes as separate OS processes. Each
worker runs in its own mount namespace (`unshare --mount`) with an empty tmpfs mounted over the
project folder, so the prepared data, params.yaml and mlflow.db do not exist for it. Everything
else (the installed packages, the Prefect API on loopback) stays reachable, as on a real cluster.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from distributed import Client
from mlflow import MlflowClient

from flows.prepare import prepare_flow
from flows.runtime.model_server import stop
from flows.runtime.prefect_server import free_port
from tests.conftest import in_directory, write_params

DASK = str(Path(sys.executable).with_name("dask"))
HIDE_PROJECT = 'mount -t tmpfs nas-hidden-project "$0" && exec "$@"'


@dataclass
class Cluster:
    address: str
    project: Path
    client: Client
    scheduler: subprocess.Popen[bytes]


def wait_for(check: Any, what: str, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def running_cluster(project: Path, scratch: Path, port: int) -> Iterator[Cluster]:
    """`dask scheduler` on 127.0.0.1:`port` and two `dask worker`s that cannot see `project`."""
    scheduler_file = scratch / f"scheduler-{port}.json"
    scheduler_file.unlink(missing_ok=True)
    log = (scratch / "cluster.log").open("ab")
    address = ["--host", "127.0.0.1", "--port", str(port), "--scheduler-file", str(scheduler_file)]
    # No cwd in the project: a worker's start-up would otherwise need the folder it cannot see.
    scheduler = subprocess.Popen([DASK, "scheduler", *address, "--no-dashboard"], cwd=scratch, stderr=log)
    hide = ["unshare", "--mount", "--propagation", "private", "sh", "-c", HIDE_PROJECT, str(project)]
    worker = [DASK, "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1", "--no-dashboard"]
    workers = [
        subprocess.Popen(
            [*hide, *worker, "--local-directory", str(scratch / f"worker-{i}")],
            cwd=scratch,
            stderr=log,
            env=os.environ | {"NAS_TF_THREADS": "1"},
        )
        for i in range(2)
    ]
    try:
        wait_for(scheduler_file.exists, "the scheduler file")
        with Client(scheduler_file=str(scheduler_file), timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            yield Cluster(client.scheduler.address, project, client, scheduler)
    finally:
        for process in (*workers, scheduler):  # the workers first: without a scheduler they wait to reconnect
            stop(process)
        log.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    project = tmp_path_factory.mktemp("project")  # what the workers must not see
    with running_cluster(project, tmp_path_factory.mktemp("cluster"), free_port()) as running:
        yield running


def search(cluster: Cluster, overrides: dict[str, Any], fresh: bool = True) -> subprocess.Popen[str]:
    """Prepare the data in the project folder, then start `python -m flows.search` on the cluster."""
    search_cfg = {"executor": "dask", "dask_address": cluster.address, "parallelism": 2}
    params = write_params(cluster.project / "params.yaml", overrides | {"search": search_cfg | overrides["search"]})
    with in_directory(cluster.project):
        prepare_flow(params_path=str(params))
    return subprocess.Popen(
        [sys.executable, "-m", "flows.search", "--params", str(params), *(["--fresh"] if fresh else [])],
        cwd=cluster.project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def candidate_runs(project: Path) -> list[Any]:
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("nas-test")
    assert experiment is not None
    latest = client.search_runs([experiment.experiment_id], "tags.`nas.kind` = 'search'", max_results=1)[0]
    parent = latest.info.run_id
    return client.search_runs([experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'")


def sees_project(project: str) -> bool:
    return os.path.exists(os.path.join(project, "params.yaml"))


@pytest.mark.slow
def test_workers_that_cannot_read_the_project_train_every_candidate_and_are_recycled(
    prefect_api: str, cluster: Cluster
) -> None:
    first_workers = set(cluster.client.scheduler_info()["workers"])
    # 4 candidates, then 2 of them re-scored on 2 folds: 8 trainings, a recycle every 2 per worker.
    overrides = {"search": {"max_candidates": 4, "reevaluate_top_k": 2, "recycle_after": 2}}
    with search(cluster, overrides) as process:  # killed at the end if the test fails first
        output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output[-4000:]

    assert (cluster.project / "params.yaml").exists()
    assert not any(cluster.client.run(sees_project, str(cluster.project)).values())  # the workers saw none of it

    children = candidate_runs(cluster.project)
    assert len(children) == 4
    assert all(c.data.tags["nas.status"] == "COMPLETED" for c in children), [c.data.tags for c in children]
    assert "re-scoring the top 2 candidates" in output
    assert "could not be re-scored" not in output
    # Every worker process of the start was recycled (a restart registers under a new address).
    assert first_workers.isdisjoint(cluster.client.scheduler_info()["workers"])


@pytest.mark.slow
def test_hyperband_rungs_resume_from_checkpoints_that_travel_to_and_from_the_workers(
    prefect_api: str, cluster: Cluster
) -> None:
    overrides = {
        "search": {"estimation": "hyperband", "max_candidates": 4, "hyperband": {"min_epochs": 1, "eta": 2}},
        "train": {"epochs": 4, "patience": 4},  # one bracket: 4 candidates x 1 epoch, 2 x 2, 1 x 4
    }
    with search(cluster, overrides) as process:
        output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output[-4000:]
    results = json.loads((cluster.project / "artifacts/search_results.json").read_text())
    assert [r["status"] for r in results] == ["COMPLETED"] * 4
    # Promoted candidates went on from their checkpoint: 4x1 + 2x1 + 1x2 epochs, not a restart at each rung.
    assert sorted(r["epochs_run"] for r in results) == [1, 1, 2, 4]
    assert sum(r["epochs_run"] for r in results) == 8
    assert not list((cluster.project / "artifacts/checkpoints").glob("*.keras"))


def busy_worker_pid(client: Client) -> int | None:
    """The process id of a worker that is training a task, if any (the same PID namespace as this test)."""
    busy = [address for address, tasks in client.processing().items() if tasks]
    if not busy:
        return None
    return int(client.run(os.getpid, workers=busy[:1])[busy[0]])


@pytest.mark.slow
def test_a_worker_killed_mid_candidate_loses_no_candidate(prefect_api: str, cluster: Cluster) -> None:
    overrides = {"search": {"max_candidates": 4, "reevaluate_top_k": 0}, "train": {"epochs": 6, "patience": 6}}
    with search(cluster, overrides) as process:
        pid = wait_for(lambda: busy_worker_pid(cluster.client), "a worker to start a candidate", timeout=300)
        time.sleep(3)  # into its training
        os.kill(pid, signal.SIGKILL)
        output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output[-4000:]

    children = candidate_runs(cluster.project)
    assert len(children) == 4
    statuses = [c.data.tags["nas.status"] for c in children]
    assert set(statuses) <= {"COMPLETED", "FAILED"}
    failed = [c for c in children if c.data.tags["nas.status"] == "FAILED"]
    assert all(c.data.tags.get("nas.error") for c in failed)  # a failure says why
    cluster.client.wait_for_workers(2, timeout=120)  # the nanny brought the killed worker back


@pytest.mark.slow
def test_a_lost_scheduler_stops_the_search_with_a_clear_error_and_resume_finishes_it(
    prefect_api: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    project, scratch, port = tmp_path_factory.mktemp("project"), tmp_path_factory.mktemp("cluster"), free_port()
    overrides = {"search": {"max_candidates": 4, "reevaluate_top_k": 0}, "train": {"epochs": 6, "patience": 6}}
    with running_cluster(project, scratch, port) as cluster, search(cluster, overrides) as process:
        wait_for(lambda: busy_worker_pid(cluster.client), "a worker to start a candidate", timeout=300)
        time.sleep(3)
        cluster.scheduler.kill()
        output, _ = process.communicate(timeout=300)
    assert process.returncode == 2, output[-4000:]
    assert "error: search.dask_address: the search lost its Dask scheduler" in output
    assert "Traceback" not in output

    with running_cluster(project, scratch, port) as cluster, search(cluster, overrides, fresh=False) as process:
        output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output[-4000:]
    assert "resumed search" in output  # the same parent run, not a new search
    children = candidate_runs(project)
    finished = sorted(int(c.data.tags["nas.candidate_index"]) for c in children if c.info.status == "FINISHED")
    assert finished == [0, 1, 2, 3]  # exactly max_candidates records
    assert all(c.data.tags["nas.status"] == "COMPLETED" for c in children if c.info.status == "FINISHED")
    # The candidates cut short by the lost scheduler were not recorded FAILED: they were trained again.
    assert {c.info.status for c in children} <= {"FINISHED", "KILLED"}
