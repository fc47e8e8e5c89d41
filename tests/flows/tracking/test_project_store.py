"""A relative tracking store means the project's, also from a DVC experiment's temporary copy of the repo.

DVC runs a queued experiment's stages in `.dvc/tmp/exps/tmp*` with `DVC_ROOT` naming the project; the
real queue is run in tests/flows/test_dvc_exp.py. Here the same situation is set up by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.io.paths import project_root
from flows.tracking.schema import DVC_EXPERIMENT_TAG
from flows.tracking.tracker import MlflowTracker, absolute_tracking_uri, new_experiment_artifacts


@pytest.fixture
def experiment_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in a temporary copy of the project at `tmp_path`, as DVC's queue worker does; the project is returned."""
    copy = tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc123"
    copy.mkdir(parents=True)
    monkeypatch.chdir(copy)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    return tmp_path


def test_outside_dvc_the_store_is_in_the_working_directory(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DVC_ROOT", raising=False)
    assert project_root() == workdir
    assert absolute_tracking_uri("sqlite:///mlflow.db") == f"sqlite:///{workdir.resolve() / 'mlflow.db'}"
    assert new_experiment_artifacts(absolute_tracking_uri("sqlite:///mlflow.db"), "nas") is None  # MLflow's own


def test_in_an_experiment_copy_a_relative_store_is_the_projects(experiment_copy: Path) -> None:
    project = experiment_copy.resolve()
    assert absolute_tracking_uri("sqlite:///mlflow.db") == f"sqlite:///{project / 'mlflow.db'}"
    assert absolute_tracking_uri("sqlite:///stores/nas.db") == f"sqlite:///{project / 'stores/nas.db'}"
    assert new_experiment_artifacts("sqlite:///mlflow.db", "my nas/v2") == str(project / "mlruns" / "my-nas-v2")


def test_absolute_and_server_uris_are_left_alone(experiment_copy: Path) -> None:
    for uri in ("sqlite:////srv/mlflow.db", "http://127.0.0.1:5000", "postgresql://u@db/mlflow", "sqlite:///:memory:"):
        assert absolute_tracking_uri(uri) == uri
    assert new_experiment_artifacts("http://127.0.0.1:5000", "nas") is None  # the server places artifacts


def test_a_dvc_root_that_is_not_a_folder_is_ignored(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVC_ROOT", str(workdir / "gone"))
    assert project_root() == workdir


def test_a_search_from_the_copy_keeps_its_runs_and_artifacts_in_the_project(
    experiment_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DVC_EXP_NAME", "sweep-evolution")
    tracker = MlflowTracker("sqlite:///mlflow.db", "nas-test")
    run_id = tracker.start_search({"search": {"strategy": "random"}}, "hash", "random")
    assert tracker.client.get_run(run_id).data.tags[DVC_EXPERIMENT_TAG] == "sweep-evolution"
    tracker.client.log_text(run_id, "{}", "search_summary.json")
    project = experiment_copy.resolve()
    assert (project / "mlflow.db").is_file() and not Path("mlflow.db").exists()
    assert (project / "mlruns" / "nas-test" / run_id / "artifacts" / "search_summary.json").is_file()
    assert not Path("mlruns").exists()
