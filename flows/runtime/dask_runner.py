"""Candidates on a Dask cluster (`search.executor: dask`), through prefect-dask's DaskTaskRunner.

Each candidate's Prefect task runs inside a Dask worker process and trains right there
(`nas_core.worker.train_request`). Three things follow:
- TensorFlow's thread pools: a worker sizes them from NAS_TF_THREADS before its first op. The local
  cluster sets it to cores // workers; on your own cluster, set it where you start `dask worker`.
- The Prefect API: workers report their task runs to it. Prefect's ephemeral API lives inside the
  flow's process, and a worker that finds none would start its own, so with no PREFECT_API_URL the
  flow's ephemeral server is started first and named to the workers. Workers on other machines
  need a real server that they can reach.
- The data: workers need not see the flow's disk. `data_for_workers` installs train and val on
  every worker (flows/runtime/dask_workers.py) and restarts each after `search.recycle_after` trainings.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from prefect.task_runners import TaskRunner

from flows.runtime.dask_workers import install_on_workers
from flows.runtime.prefect_server import configured_api_url
from nas_core.config import SearchConfig
from nas_core.errors import NasError, SearchAborted
from nas_core.worker import TF_THREADS_ENV, threads_per_worker

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def local_cluster_kwargs(parallelism: int) -> dict[str, Any]:
    """`parallelism` single-threaded worker processes, each with TensorFlow sized to its share of the cores.

    NAS_TF_THREADS, when this process has it, sets every worker's TensorFlow threads instead.
    """
    threads = os.environ.get(TF_THREADS_ENV) or str(threads_per_worker(parallelism))
    return {
        "n_workers": parallelism,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": ":0",  # any free port: two searches at once must not fight over 8787
        "env": {TF_THREADS_ENV: threads},
    }


def dask_task_runner(cfg: SearchConfig) -> TaskRunner[Any]:
    """The cluster at `search.dask_address`, or a local one of `search.parallelism` workers."""
    from prefect_dask import DaskTaskRunner

    if cfg.dask_address:
        return DaskTaskRunner(address=cfg.dask_address)
    return DaskTaskRunner(cluster_kwargs=local_cluster_kwargs(cfg.parallelism))


def _host(url: str) -> str:
    return urlparse(url if "://" in url else f"tcp://{url}").hostname or ""


def check_workers_reach_api(cfg: SearchConfig, api_url: str | None) -> None:
    """Workers elsewhere cannot report to a Prefect API on this machine's loopback address."""
    if not cfg.dask_address or _host(cfg.dask_address) in LOOPBACK:
        return
    if api_url is None or _host(api_url) in LOOPBACK:
        raise NasError(
            f"search.dask_address: the Dask workers at {cfg.dask_address} cannot reach the Prefect API "
            f"{'(none is configured)' if api_url is None else f'at {api_url}'}; start a server they can reach "
            "(prefect server start --host 0.0.0.0) and set PREFECT_API_URL=http://<this host>:4200/api"
        )


@contextmanager
def prefect_api_for_workers(cfg: SearchConfig) -> Iterator[None]:
    """Around the search flow: make sure Dask workers report to the flow's own Prefect API."""
    if cfg.executor != "dask":
        yield
        return
    api_url = configured_api_url()
    check_workers_reach_api(cfg, api_url)
    if api_url is not None:
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings

    server = SubprocessASGIServer()  # the same instance Prefect's own ephemeral client would use
    # A search is about to take minutes to hours: a busy machine may take longer than Prefect's
    # 20 s default to start the API (its first start also creates the database).
    server.start(timeout=max(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value(), 120))
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield


@contextmanager
def data_for_workers(cfg: SearchConfig, data_dir: Path, content_hash: str) -> Iterator[str]:
    """Inside a search flow: what candidate requests name as their data.

    On threads, the prepared folder itself. On Dask, a copy installed on every worker, so a worker
    on another host reads nothing from this one's disk; the workers are recycled meanwhile.
    """
    if cfg.executor != "dask":
        yield str(data_dir.resolve())
        return
    from prefect.context import FlowRunContext
    from prefect_dask import DaskTaskRunner

    context = FlowRunContext.get()
    runner = context.task_runner if context is not None else None
    if not isinstance(runner, DaskTaskRunner):
        raise RuntimeError("search.executor: dask, but this flow does not run on Prefect's DaskTaskRunner")
    with install_on_workers(runner.client, data_dir, content_hash, cfg.recycle_after) as name:
        yield name


def raise_if_cluster_lost(error: BaseException) -> None:
    """A task that failed because the flow lost its Dask scheduler stops the search, rather than failing a candidate.

    Without a scheduler no other task can finish either, and a candidate recorded FAILED for it
    would not be trained again by `--resume`. Its MLflow run stays RUNNING, so a resume trains it.
    """
    from distributed.client import FutureCancelledError

    if isinstance(error, FutureCancelledError) and error.reason == "scheduler-connection-lost":
        raise SearchAborted(
            "search.dask_address: the search lost its Dask scheduler; everything recorded so far is kept."
            " Start the scheduler (and its workers) again, then run the search again: it resumes where it stopped"
        ) from error
