"""The `nas` command as a user runs it: help, one-line errors, `nas check`, and a real quiet search.

The search runs the installed console script in a subprocess against the session's Prefect test
server, with a latency objective and a `max_params` limit, and is then checked in its files,
in MLflow, in its report, in `dvc plots show`, and in the MLflow UI rendered by Chromium.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from flows.cli import app
from flows.engine.reevaluate import as_cv_scored
from flows.engine.space_check import enumerate_architectures
from flows.io.params import load_params
from flows.prepare import prepare_flow
from nas_core.architecture import cnn_search_space
from nas_core.objectives import Objective, best_by, ranked_by
from nas_core.param_count import count_params
from nas_core.results import CandidateResult
from tests.conftest import write_params

REPO = Path(__file__).resolve().parents[2]
NAS = Path(sys.executable).with_name("nas")
MAX_PARAMS = 3000  # about a third of the tiny space fits: some proposals must be skipped
SEARCH = {
    "search": {
        "max_candidates": 3,
        "objective": "accuracy_latency",
        "objective_target": 0.5,
        "latency_batch": 16,
        "max_params": MAX_PARAMS,
        "seed": 1,
        "reevaluate_top_k": 3,
    }
}
COMMANDS = ("run", "prepare", "search", "retrain", "report", "ui", "check", "schedule")
COMMANDS += ("serve", "predict", "export", "compare", "data add")
runner = CliRunner()


def nas(args: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PREFECT_HOME": str(cwd / ".prefect"), "COLUMNS": "200"}
    return subprocess.run([str(NAS), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_help_explains_every_command_and_its_params_option() -> None:
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0
    assert all(command.split()[0] in top.output for command in COMMANDS)
    for command in COMMANDS:
        shown = runner.invoke(app, [*command.split(), "--help"], env={"COLUMNS": "200"})
        assert shown.exit_code == 0 and "--params" in shown.output, command
    assert "--quiet" in runner.invoke(app, ["search", "--help"], env={"COLUMNS": "200"}).output
    assert "127.0.0.1" in runner.invoke(app, ["ui", "--help"], env={"COLUMNS": "200"}).output


def test_a_user_error_is_one_line_on_stderr_and_exit_code_2(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("search:\n  max_parms: 100\n")
    result = nas(["search", "--quiet"], tmp_path, timeout=300)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["error: params.yaml: search.max_parms: unknown key (did you mean 'max_params'?)"]
    assert "Traceback" not in result.stdout


def test_run_through_dvc_refuses_another_params_file(workdir: Path) -> None:
    write_params(workdir / "other.yaml")
    result = runner.invoke(app, ["run", "--params", "other.yaml"])
    assert result.exit_code == 2
    assert "use --direct" in result.stderr


def test_schedule_names_a_bad_cron(workdir: Path) -> None:
    write_params(workdir / "params.yaml", {"schedule": {"cron": "every night"}})
    result = runner.invoke(app, ["schedule"])
    assert result.exit_code == 2 and "schedule.cron" in result.stderr


def test_check_counts_the_space_and_what_max_params_would_skip(workdir: Path) -> None:
    write_params(workdir / "params.yaml", SEARCH)
    result = runner.invoke(app, ["check"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    cfg = load_params(workdir / "params.yaml")
    space = cnn_search_space(cfg.space)
    over = sum(count_params(a, (8, 8, 1), 10) > MAX_PARAMS for a in enumerate_architectures(space))
    assert f"search space: {space.size():,} distinct architectures" in result.output
    assert "input shape 8×8×1, 10 classes" in result.output  # no prepared data yet: the dataset was loaded
    assert f"search.max_params {MAX_PARAMS:,}: {over:,} (" in result.output
    assert sum(1 for _ in enumerate_architectures(space)) == space.size()


@pytest.fixture(scope="module")
def searched(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Prepared data, then `nas search --quiet` as a user would type it."""
    root = tmp_path_factory.mktemp("cli")
    write_params(root / "params.yaml", SEARCH)
    previous = Path.cwd()
    os.chdir(root)
    try:
        prepare_flow(params_path="params.yaml")  # in this process: only the search needs to be typed
    finally:
        os.chdir(previous)
    result = nas(["search", "--quiet"], root)
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("nas-test")
    assert experiment is not None
    (parent,) = client.search_runs([experiment.experiment_id], "tags.`nas.kind` = 'search'")
    results = [CandidateResult.from_dict(r) for r in json.loads((root / "artifacts/search_results.json").read_text())]
    yield {"root": root, "out": result, "client": client, "parent": parent, "results": results}


@pytest.mark.slow
def test_quiet_search_prints_only_the_final_summary(searched: dict[str, Any]) -> None:
    out = searched["out"]
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("search: 3 candidates, 0 failed, ") and "skipped over search.max_params" in lines[0]
    assert lines[1] == f"report: reports/{searched['parent'].info.run_id}/index.html"
    assert len(lines) == 2
    assert "candidate 0 started" not in out.stderr and "INFO" not in out.stderr


@pytest.mark.slow
def test_no_candidate_above_max_params_is_trained_and_skips_are_reported(searched: dict[str, Any]) -> None:
    results, parent = searched["results"], searched["parent"]
    assert len(results) == 3  # skipped proposals do not use the budget
    assert all(r.params is not None and r.params <= MAX_PARAMS for r in results)
    summary = json.loads((searched["root"] / "metrics/search.json").read_text())
    assert summary["skipped_over_max_params"] > 0
    assert parent.data.metrics["skipped_over_max_params"] == summary["skipped_over_max_params"]
    children = searched["client"].search_runs([parent.info.experiment_id], "tags.`nas.kind` = 'candidate'")
    assert len(children) == 3 and all(c.data.metrics["params"] <= MAX_PARAMS for c in children)


@pytest.mark.slow
def test_latency_is_measured_and_the_winner_follows_the_objective(searched: dict[str, Any]) -> None:
    results = searched["results"]
    objective = Objective("accuracy_latency", 0.07, 0.5)
    assert all(r.latency_ms is not None and r.latency_ms > 0 for r in results if r.ok)
    # The objective ranks by val, and again on the cross-validated scores of the top ones it re-scores.
    rescored = [r for r in results if r.cv_accuracy is not None]
    assert {r.index for r in rescored} == {r.index for r in ranked_by(results, objective)[: len(rescored)]}
    winner = best_by([as_cv_scored(r) for r in rescored], objective) if rescored else best_by(results, objective)
    assert winner is not None
    best = json.loads((searched["root"] / "artifacts/best_architecture.json").read_text())
    assert best["candidate_index"] == winner.index
    children = searched["client"].search_runs([searched["parent"].info.experiment_id], "tags.`nas.kind` = 'candidate'")
    by_index = {r.index: r for r in results}
    for child in children:
        result = by_index[int(child.data.tags["nas.candidate_index"])]
        assert child.data.metrics["objective_score"] == pytest.approx(objective(result))
        assert child.data.metrics["latency_ms"] == pytest.approx(result.latency_ms)


@pytest.mark.slow
def test_the_search_writes_its_report_and_nas_report_rebuilds_it(
    searched: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, run_id = searched["root"], searched["parent"].info.run_id
    folder = root / "reports" / run_id
    pngs = {"accuracy_by_candidate.png", "accuracy_vs_params.png", "learning_curves.png", "best_architecture.png"}
    assert pngs | {"index.html", "pareto_front.json"} <= {p.name for p in folder.iterdir()}
    logged = {a.path for a in searched["client"].list_artifacts(run_id, "report")}
    assert {f"report/{name}" for name in pngs} <= logged
    shutil.rmtree(folder)
    monkeypatch.chdir(root)
    result = runner.invoke(app, ["report", "--search", run_id])
    assert result.exit_code == 0, result.output
    assert (folder / "index.html").is_file() and pngs <= {p.name for p in folder.iterdir()}
    assert "Strategies compared" not in (folder / "index.html").read_text()  # one search only


@pytest.mark.slow
def test_dvc_plots_show_draws_the_candidates(searched: dict[str, Any], tmp_path: Path) -> None:
    root = searched["root"]
    rows = (root / "metrics/candidates.csv").read_text().strip().splitlines()
    assert rows[0].startswith("index,val_accuracy,val_accuracy_low,val_accuracy_high,val_loss,best_so_far,params")
    assert len(rows) == 1 + sum(r.ok for r in searched["results"])
    repo = tmp_path / "repo"
    (repo / "metrics").mkdir(parents=True)
    shutil.copy(REPO / "dvc.yaml", repo / "dvc.yaml")
    shutil.copy(root / "metrics/candidates.csv", repo / "metrics/candidates.csv")
    env = os.environ | {"PATH": f"{NAS.parent}{os.pathsep}{os.environ['PATH']}"}
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(command, cwd=repo, env=env, check=True, timeout=120)
    shown = subprocess.run(
        ["dvc", "plots", "show", "--json"], cwd=repo, env=env, capture_output=True, text=True, timeout=300
    )
    assert shown.returncode == 0, shown.stderr
    plots = json.loads(shown.stdout)["data"]
    assert {"metrics/candidates.csv", "Best val accuracy so far", "Val accuracy against parameters"} <= set(plots)
    assert "val_accuracy" in json.dumps(plots["Val accuracy against parameters"])


@pytest.mark.slow
def test_the_mlflow_ui_lists_the_candidate_runs(searched: dict[str, Any]) -> None:
    """`nas ui` serves the store; Chromium renders the experiment's runs page; every candidate is listed."""
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("needs /usr/bin/chromium: make test-deps (bash scripts/test_deps.sh)")
    import socket

    with socket.socket() as probe:  # a free port on localhost
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = os.environ | {"PYTHON": sys.executable}
    result = subprocess.run(
        [str(REPO / "scripts/check_mlflow_ui.sh"), "params.yaml", str(port)],
        cwd=searched["root"],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "lists 3 distinct candidate run names (3 candidate names" in result.stdout


def test_nas_ui_links_the_training_runs_of_the_experiment(searched: dict[str, Any]) -> None:
    """MLflow 3.17's UI opens an experiment on GenAI; the printed link opens its training runs instead."""
    from flows.tracking.run_labels import training_runs_path

    uri = f"sqlite:///{searched['root'] / 'mlflow.db'}"
    experiment = MlflowClient(tracking_uri=uri).get_experiment_by_name("nas-test")
    assert experiment is not None
    expected = f"#/experiments/{experiment.experiment_id}/runs?workflowType=machine_learning"
    assert training_runs_path(uri, "nas-test") == expected
    assert training_runs_path(uri, "no-such-experiment") is None
