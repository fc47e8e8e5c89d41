"""Helpers for the process-fault tests: real stage processes in a scratch folder, killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from flows.io.datasets import load_dataset
from flows.io.params import load_params
from nas_core.data import split_and_scale
from nas_core.prepared import manifest, write_splits
from tests.conftest import write_params

EXPERIMENT = "nas-test"


def make_project(root: Path, overrides: dict[str, Any] | None = None) -> Path:
    """A folder with tiny params and prepared digits, as `flows.prepare` leaves it; returns the params path."""
    root.mkdir(parents=True, exist_ok=True)
    # An absolute store: MLflow caches one store per URI in a process, so a relative
    # "sqlite:///mlflow.db" used in-process would keep pointing at the first folder it was used in.
    store = {"tracking": {"uri": f"sqlite:///{root / 'mlflow.db'}", "experiment": EXPERIMENT}}
    params = write_params(root / "params.yaml", store | (overrides or {}))
    cfg = load_params(params).data
    x, y = load_dataset(cfg, root)
    splits = split_and_scale(x, y, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    write_splits(splits, manifest(splits, cfg.source), root / "data" / "prepared")
    return params


def start_stage(root: Path, stage: str, *args: str, log_name: str | None = None) -> subprocess.Popen[bytes]:
    """`python -m flows.<stage>` in `root`, in its own process group so a kill takes its workers too."""
    log = open(root / (log_name or f"{stage}.log"), "ab")
    return subprocess.Popen(
        [sys.executable, "-m", f"flows.{stage}", "--params", "params.yaml", *args],
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=os.environ.copy(),
    )


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """kill -9 of the stage and every process it started (spawned training workers included)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def wait_until(
    check: Callable[[], bool], process: subprocess.Popen[bytes] | None, timeout: float, what: str, log: Path | None
) -> None:
    """Poll `check` until true; fail early (with the process's log) if the process ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process ended (code {process.returncode}) before {what}:\n{tail(log)}")
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}:\n{tail(log)}")


def tail(log: Path | None, lines: int = 40) -> str:
    if log is None or not log.is_file():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def client_for(root: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")


def runs(client: MlflowClient, kind: str, parent: str | None = None) -> list[Any]:
    """Runs of one `nas.kind` (search, candidate, retrain), optionally of one parent run."""
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return []
    query = f"tags.`nas.kind` = '{kind}'"
    if parent is not None:
        query += f" and tags.`mlflow.parentRunId` = '{parent}'"
    return list(client.search_runs([experiment.experiment_id], query, max_results=1000))


def recorded(client: MlflowClient, parent: str | None = None) -> list[Any]:
    """Candidate runs that finished (the records a search counts): terminated, status COMPLETED or FAILED."""
    return [
        run
        for run in runs(client, "candidate", parent)
        if run.info.status in ("FINISHED", "FAILED") and run.data.tags.get("nas.status") in ("COMPLETED", "FAILED")
    ]
