"""A sweep with `dvc exp` for real: two tiny experiments queued, then run by DVC's queue worker.

A queued experiment runs in a temporary copy of the repo (`.dvc/tmp/exps/tmp*`), which DVC deletes
afterwards. Its searches must still log to the project's own MLflow store (`tracking.uri:
sqlite:///mlflow.db` at the repo root, with its artifacts in `mlruns/`), and `dvc exp show` must list
each experiment's test accuracy and swept params (docs/operations/dvc.md#sweeps-with-dvc-exp).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from tests.flows.dvc_project import copy_project, run

pytestmark = pytest.mark.slow

STRATEGIES = ("random", "evolution")


def wait_for_idle_queue(root: Path, timeout: float = 120) -> str:
    """`dvc queue status` once nothing is queued or running and the worker has stopped."""
    deadline = time.monotonic() + timeout
    while True:
        status = run(["dvc", "queue", "status"], root).stdout
        busy = any(word in status for word in (" Queued", " Running")) or "0 active, 0 idle" not in status
        if not busy or time.monotonic() > deadline:
            return status
        time.sleep(2)


@pytest.fixture(scope="module")
def sweep(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A committed copy of the project, two experiments queued and run; the logs of `--run-all`."""
    root = copy_project(tmp_path_factory.mktemp("sweep") / "repo", {"search": {"max_candidates": 2}})

    for strategy in STRATEGIES:
        run(["dvc", "exp", "run", "--queue", "-n", strategy, "-S", f"search.strategy={strategy}"], root)
    started = time.monotonic()
    try:
        ran = run(["dvc", "exp", "run", "--run-all"], root)
        status = wait_for_idle_queue(root)
        yield {"root": root, "logs": ran.stdout + ran.stderr, "status": status, "seconds": time.monotonic() - started}
    finally:
        run(["dvc", "queue", "stop"], root, check=False)  # a worker left behind by a failure


def shown_experiments(root: Path) -> dict[str, dict[str, Any]]:
    """`dvc exp show --json`: each experiment's data by name."""
    rows = json.loads(run(["dvc", "exp", "show", "--json"], root).stdout)
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        for experiment in row.get("experiments") or []:
            for rev in experiment["revs"]:
                found[rev["name"]] = rev["data"]
    return found


def test_both_experiments_succeeded_without_a_prefect_server_of_their_own(sweep: dict[str, Any]) -> None:
    status = sweep["status"]
    for strategy in STRATEGIES:
        assert strategy in status
    assert "Success" in status and "Failed" not in status, status
    assert "temporary server" not in sweep["logs"], "a stage started its own Prefect server"


def test_exp_show_lists_test_accuracy_and_the_swept_strategy(sweep: dict[str, Any]) -> None:
    shown = shown_experiments(sweep["root"])
    for strategy in STRATEGIES:
        data = shown[strategy]
        assert data["params"]["params.yaml"]["data"]["search"]["strategy"] == strategy
        test = data["metrics"]["metrics/test.json"]["data"]
        assert 0.0 <= test["test_accuracy"] <= 1.0
        assert data["metrics"]["metrics/search.json"]["data"]["candidates"] == 2


def test_every_search_logged_to_the_projects_store(sweep: dict[str, Any]) -> None:
    root: Path = sweep["root"]
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("nas-test")
    assert experiment is not None, "no experiment in the project's mlflow.db"
    artifacts_root = (root / "mlruns").resolve()
    assert Path(experiment.artifact_location).is_relative_to(artifacts_root), experiment.artifact_location
    searches = client.search_runs([experiment.experiment_id], "tags.`nas.kind` = 'search'")
    assert sorted(s.data.tags["nas.strategy"] for s in searches) == sorted(STRATEGIES)
    for search in searches:
        assert search.info.status == "FINISHED"
        assert search.data.tags["nas.dvc_experiment"] == search.data.tags["nas.strategy"]  # queued with -n <strategy>
        assert Path(search.info.artifact_uri).is_relative_to(artifacts_root), search.info.artifact_uri
        assert "search_summary.json" in {a.path for a in client.list_artifacts(search.info.run_id)}
        assert (root / "reports" / search.info.run_id / "index.html").is_file()
    retrains = client.search_runs([experiment.experiment_id], "attributes.run_name = 'retrain-winner'")
    assert len(retrains) == len(STRATEGIES)


def test_nothing_was_tracked_in_the_temporary_copies(sweep: dict[str, Any]) -> None:
    leftovers = [str(p) for p in (sweep["root"] / ".dvc" / "tmp").rglob("*") if p.name in ("mlflow.db", "mlruns")]
    assert leftovers == []
    print(f"the queue of {len(STRATEGIES)} experiments ran in {sweep['seconds']:.0f} s")


def test_a_workspace_run_of_a_swept_point_is_restored_from_the_run_cache(sweep: dict[str, Any]) -> None:
    """`dvc exp run -S` in the workspace, with the params of a queued experiment: DVC restores every stage
    from its run cache, so nothing trains twice and MLflow gets no new search; the result is the same."""
    root: Path = sweep["root"]
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("nas-test")
    assert experiment is not None
    before = client.search_runs([experiment.experiment_id])
    out = run(["dvc", "exp", "run", "-n", "evolution-again", "-S", "search.strategy=evolution"], root).stdout
    assert "Running stage" not in out
    assert len(client.search_runs([experiment.experiment_id])) == len(before)
    shown = shown_experiments(root)
    again, queued = (shown[name]["metrics"]["metrics/test.json"]["data"] for name in ("evolution-again", "evolution"))
    assert again["test_accuracy"] == queued["test_accuracy"]
    assert json.loads((root / "metrics" / "test.json").read_text())["test_accuracy"] == queued["test_accuracy"]
