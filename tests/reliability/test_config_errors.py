"""An invalid params.yaml stops before any training: one line naming the key, exit code 2, nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.engine.setup import search_preflight
from flows.runtime.entry import run_stage
from flows.search import run_search_stage
from tests.conftest import write_params

CASES = [
    ({"serach": {"max_candidates": 3}}, "serach: unknown key (did you mean 'search'?)"),
    ({"search": {"max_candidates": "ten"}}, "search.max_candidates"),
    ({"space": {"units": []}}, "space.units: units needs at least one choice"),
    ({"train": {"epochs": -2}}, "train.epochs"),
    ({"data": {"source": "cifar100"}}, "data.source"),
    ({"search": {"strategy": "evolve-ish"}}, "search.strategy: unknown strategy 'evolve-ish'"),
    ({"search": {"executor": "kubernetes"}}, "search.executor"),
    ({"search": {"parallelism": (os.cpu_count() or 1) + 1}}, "search.parallelism: parallelism"),
    ({"space": {"kernel_size": [3, 3]}}, "space.kernel_size: kernel_size has duplicate choices"),
    ({"data": {"val_fraction": 0.45, "test_fraction": 0.45}}, "data: val_fraction + test_fraction"),
]


def snapshot(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*") if ".prefect" not in p.parts}


@pytest.mark.parametrize(("overrides", "expected"), CASES)
def test_bad_params_exit_2_with_one_line(
    overrides: dict, expected: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = write_params(workdir / "params.yaml", overrides)
    before = snapshot(workdir)
    code = run_stage(run_search_stage, "search", preflight=search_preflight, argv=["--params", str(params)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert expected in err
    assert err.count("\n") == 0 and "Traceback" not in err
    assert snapshot(workdir) == before  # no mlflow.db, no data, no artifacts


def test_a_space_with_no_valid_architecture_stops_before_training(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prepared = workdir / "data" / "prepared"
    prepared.mkdir(parents=True)
    (prepared / "manifest.json").write_text(json.dumps({"input_shape": [8, 8, 1], "num_classes": 10}))
    params = write_params(
        workdir / "params.yaml", {"space": {"conv_blocks": [3], "kernel_size": [5], "padding": ["valid"]}}
    )
    before = snapshot(workdir)
    code = run_stage(run_search_stage, "search", preflight=search_preflight, argv=["--params", str(params)])
    err = capsys.readouterr().err
    assert code == 2
    assert "space: no architecture in the space fits inputs of shape (8, 8, 1)" in err
    assert snapshot(workdir) == before


def test_missing_prepared_data_names_the_path(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = write_params(workdir / "params.yaml")
    code = run_stage(run_search_stage, "search", preflight=search_preflight, argv=["--params", str(params)])
    assert code == 2
    assert "data/prepared/manifest.json: prepared data not found" in capsys.readouterr().err
    assert not (workdir / "mlflow.db").exists()


def test_malformed_yaml_names_the_line(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = workdir / "params.yaml"
    params.write_text("search:\n  strategy: random\n   parallelism: 2\n")
    code = run_stage(run_search_stage, "search", preflight=search_preflight, argv=["--params", str(params)])
    err = capsys.readouterr().err
    assert code == 2 and "not valid YAML (line 3" in err


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_an_empty_params_file_is_an_error_that_names_it(
    text: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = workdir / "params.yaml"
    params.write_text(text)
    code = run_stage(run_search_stage, "search", preflight=search_preflight, argv=["--params", str(params)])
    err = capsys.readouterr().err
    assert code == 2 and f"{params}: the params file is empty" in err and err.count("\n") == 1
    assert not (workdir / "mlflow.db").exists()


def test_the_real_command_exits_2_without_traceback(workdir: Path) -> None:
    params = write_params(workdir / "params.yaml", {"train": {"epochs": 0}})
    env = os.environ | {"PREFECT_HOME": str(workdir / ".prefect")}
    done = subprocess.run(
        [sys.executable, "-m", "flows.prepare", "--params", str(params)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {params}: train.epochs: Input should be greater than 0"]
    assert not (workdir / "data").exists()


def test_a_data_error_inside_a_task_prints_no_traceback(workdir: Path) -> None:
    """The NasError is raised in the prepare task, inside Prefect: still one error line, no traceback anywhere."""
    (workdir / "bad.npz").write_text("not an npz")
    params = write_params(workdir / "params.yaml", {"data": {"source": "npz", "path": "bad.npz", "limit": None}})
    done = subprocess.run(
        [sys.executable, "-m", "flows.prepare", "--params", str(params)],
        cwd=workdir,
        env=os.environ | {"PREFECT_HOME": str(workdir / ".prefect")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2
    assert f"error: {workdir / 'bad.npz'}: not an .npz file" in done.stderr
    assert "Traceback" not in output
