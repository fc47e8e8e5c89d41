"""`dvc repro` for real on a temporary copy of the repo with tiny params."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import write_params

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PREFECT_HOME": str(cwd / ".prefect")}
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def repo_copy(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    for name in ("flows", "nas_core"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "data" / "raw", root / "data" / "raw")
    write_params(root / "params.yaml", {"search": {"max_candidates": 2}})
    run(["git", "init", "-q"], root)
    run(["dvc", "init", "-q"], root)
    run(["dvc", "repro"], root)
    return root


def test_repro_runs_all_stages_and_writes_outputs(repo_copy: Path) -> None:
    for path in (
        "data/prepared/manifest.json",
        "artifacts/search_space.json",
        "artifacts/best_architecture.json",
        "models/winner.keras",
        "metrics/search.json",
        "metrics/test.json",
        "dvc.lock",
        "mlflow.db",
    ):
        assert (repo_copy / path).exists(), path
    lock = yaml.safe_load((repo_copy / "dvc.lock").read_text())
    assert set(lock["stages"]) == {"prepare", "space", "search", "retrain"}
    space = json.loads((repo_copy / "artifacts/search_space.json").read_text())
    assert space["size"] > 0 and space["shape_rule"]["examined"] > 0  # what `nas check` prints


def test_prepared_data_hash_from_disk_equals_dvc_lock(repo_copy: Path) -> None:
    from flows.io.dvc_version import directory_md5, lock_md5

    # what a nightly run outside `dvc repro` records as its data version
    recorded = lock_md5(repo_copy / "dvc.lock")
    assert recorded is not None and directory_md5(repo_copy / "data/prepared") == recorded


def test_second_repro_does_nothing(repo_copy: Path) -> None:
    before = (repo_copy / "metrics/test.json").read_text()
    out = run(["dvc", "repro"], repo_copy).stdout
    assert "Data and pipelines are up to date" in out
    assert "Running stage" not in out
    assert (repo_copy / "metrics/test.json").read_text() == before


def test_metrics_show_has_the_test_accuracy(repo_copy: Path) -> None:
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], repo_copy).stdout)
    text = json.dumps(shown)
    assert "test_accuracy" in text and "best_val_accuracy" in text


def test_a_search_key_change_reruns_search_and_retrain_but_not_prepare(repo_copy: Path) -> None:
    params = yaml.safe_load((repo_copy / "params.yaml").read_text())
    params["search"]["max_candidates"] = 3
    (repo_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = run(["dvc", "repro"], repo_copy).stdout
    assert "Stage 'prepare' didn't change, skipping" in out and "Stage 'space' didn't change, skipping" in out
    assert "Running stage 'search'" in out and "Running stage 'retrain'" in out
    assert json.loads((repo_copy / "metrics/search.json").read_text())["candidates"] == 3


def test_a_space_change_reruns_space_search_and_retrain_but_not_prepare(repo_copy: Path) -> None:
    params = yaml.safe_load((repo_copy / "params.yaml").read_text())
    before = json.loads((repo_copy / "artifacts/search_space.json").read_text())
    params["space"]["filters"] = [8]  # was [8, 16]
    (repo_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = run(["dvc", "repro"], repo_copy).stdout
    assert "Stage 'prepare' didn't change, skipping" in out
    for stage in ("space", "search", "retrain"):
        assert f"Running stage '{stage}'" in out
    after = json.loads((repo_copy / "artifacts/search_space.json").read_text())
    assert after["space"]["dimensions"] != before["space"]["dimensions"] and after["size"] < before["size"]
