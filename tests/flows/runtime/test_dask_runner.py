"""`search.executor: dask` on a real two-worker Dask cluster, as a user runs it: `python -m flows.search`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster
from mlflow import MlflowClient

from flows.prepare import prepare_flow
from flows.runtime.dask_runner import check_workers_reach_api, local_cluster_kwargs
from nas_core.config import SearchConfig
from nas_core.errors import NasError
from tests.conftest import write_params

CANDIDATES = 4


def worker_threads() -> tuple[bool, int]:
    """Run on each worker: did a training configure TF there, and with how many intra-op threads?"""
    import tensorflow as tf

    from nas_core import worker

    return worker._threads_configured, tf.config.threading.get_intra_op_parallelism_threads()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Client]:
    """The cluster the flow would start itself: 2 single-threaded worker processes, TF threads from the env."""
    kwargs = local_cluster_kwargs(2) | {"dashboard_address": None}
    assert kwargs["n_workers"] == 2 and kwargs["threads_per_worker"] == 1 and kwargs["processes"]
    with LocalCluster(**kwargs) as local, Client(local) as client:
        yield client


@pytest.mark.slow
def test_a_search_on_a_dask_cluster_trains_every_candidate_on_its_workers(
    prefect_api: str, workdir: Path, cluster: Client
) -> None:
    address = cluster.scheduler.address
    params = write_params(
        workdir / "params.yaml",
        {"search": {"executor": "dask", "dask_address": address, "max_candidates": CANDIDATES, "parallelism": 2}},
    )
    prepare_flow(params_path=str(params))
    # No PREFECT_API_URL: the flow's ephemeral API must be handed to the workers, or every task fails.
    # Its own PREFECT_HOME keeps that ephemeral API's SQLite file away from other processes'.
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(workdir / ".prefect")}
    done = subprocess.run(
        [sys.executable, "-m", "flows.search", "--params", str(params)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]

    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("nas-test")
    assert experiment is not None
    children = client.search_runs([experiment.experiment_id], filter_string="tags.`nas.kind` = 'candidate'")
    assert len(children) == CANDIDATES
    assert all(c.data.tags["nas.status"] == "COMPLETED" and c.info.status == "FINISHED" for c in children)
    assert all(0.0 <= c.data.metrics["val_accuracy"] <= 1.0 for c in children)

    # Both workers trained, and each set TensorFlow to one intra-op thread (2 cores, 2 workers).
    per_worker: dict[str, Any] = cluster.run(worker_threads)
    assert len(per_worker) == 2
    assert all(configured and threads == 1 for configured, threads in per_worker.values()), per_worker


def test_workers_on_other_machines_need_a_reachable_prefect_api() -> None:
    remote = SearchConfig(executor="dask", dask_address="tcp://10.1.2.3:8786")
    with pytest.raises(NasError, match=r"search\.dask_address: the Dask workers at tcp://10\.1\.2\.3:8786"):
        check_workers_reach_api(remote, None)
    with pytest.raises(NasError, match=r"cannot reach the Prefect API at http://127\.0\.0\.1:4200/api"):
        check_workers_reach_api(remote, "http://127.0.0.1:4200/api")
    check_workers_reach_api(remote, "http://10.1.2.1:4200/api")  # a server the workers can reach
    check_workers_reach_api(SearchConfig(executor="dask", dask_address="tcp://127.0.0.1:8786"), None)
