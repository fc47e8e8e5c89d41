"""The raw stage: a built-in dataset becomes data/raw/builtin/<name>.npz with its record, and prepare reads it."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sklearn
import yaml
from sklearn.datasets import load_digits

from flows.io.builtin_data import write_npz
from flows.io.datasets import load_dataset
from flows.prepare import prepare_flow
from flows.raw import raw_flow
from nas_core.config import DataConfig
from nas_core.data import as_images, split_and_scale, subsample
from nas_core.errors import NasError
from nas_core.prepared import content_hash
from tests.conftest import write_params

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BUILTIN = Path("data/raw/builtin")


def test_raw_stage_writes_the_whole_digits_and_where_they_came_from(prefect_api: str, workdir: Path) -> None:
    write_params(workdir / "params.yaml")  # data.limit 360: the raw file is still every example
    record = raw_flow(params_path="params.yaml")
    assert sorted(p.name for p in (workdir / BUILTIN).iterdir()) == ["digits.npz", "source.json"]
    with np.load(workdir / BUILTIN / "digits.npz", allow_pickle=False) as stored:
        assert sorted(stored.files) == ["x", "y"]
        digits = load_digits()
        assert np.array_equal(stored["x"], digits.images) and np.array_equal(stored["y"], digits.target)
    on_disk = json.loads((workdir / BUILTIN / "source.json").read_text())
    assert on_disk == record
    assert record["source"] == "digits" and record["file"] == "data/raw/builtin/digits.npz"
    assert record["origin"]["package"] == "scikit-learn" and record["origin"]["version"] == sklearn.__version__
    assert record["sha256"] == hashlib.sha256((workdir / BUILTIN / "digits.npz").read_bytes()).hexdigest()
    assert record["x_shape"] == [1797, 8, 8] and record["num_classes"] == 10 and record["examples"] == 1797


def test_the_raw_file_is_the_same_bytes_every_time(prefect_api: str, workdir: Path) -> None:
    """No timestamps inside: rerunning the stage after a code change leaves its output, and prepare, alone."""
    write_params(workdir / "params.yaml")
    first = raw_flow(params_path="params.yaml")["sha256"]
    assert raw_flow(params_path="params.yaml")["sha256"] == first


def test_prepare_reads_the_raw_file(prefect_api: str, workdir: Path) -> None:
    write_params(workdir / "params.yaml", {"data": {"limit": None}})
    raw_flow(params_path="params.yaml")
    # Keep only the first 600 digits in the versioned file: prepare must see those, not scikit-learn's.
    digits = load_digits()
    write_npz(workdir / BUILTIN / "digits.npz", {"x": digits.images[:600], "y": digits.target[:600]})
    info = prepare_flow(params_path="params.yaml")
    assert sum(sum(split["class_counts"]) for split in info["splits"].values()) == 600


def test_prepare_without_the_raw_file_writes_it_and_says_so(
    prefect_api: str, workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A run outside dvc repro: prepare writes the file with the raw stage's function; the data is unchanged."""
    write_params(workdir / "params.yaml")
    with caplog.at_level(logging.INFO):
        info = prepare_flow(params_path="params.yaml")
    assert (workdir / BUILTIN / "digits.npz").is_file() and (workdir / BUILTIN / "source.json").is_file()
    assert any("data/raw/builtin/digits.npz was missing" in r.getMessage() for r in caplog.records)
    digits = load_digits()  # the same prepared data as when prepare read scikit-learn directly
    cfg = DataConfig(limit=360)
    want_x, want_y = subsample(as_images(digits.images.astype(np.float32)), digits.target, 360, cfg.seed)
    want = split_and_scale(want_x, want_y, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    assert info["content_hash"] == content_hash(want)


def test_a_user_source_gets_only_its_record_and_other_files_go(prefect_api: str, workdir: Path) -> None:
    write_params(workdir / "params.yaml")
    raw_flow(params_path="params.yaml")
    (workdir / "data/raw").mkdir(exist_ok=True)
    np.savez(workdir / "data/raw/mine.npz", x=np.zeros((4, 3, 3)), y=np.array([0, 1, 0, 1]))
    (workdir / "data/raw/mine.npz.dvc").write_text("outs:\n- path: mine.npz\n")
    write_params(workdir / "params.yaml", {"data": {"source": "npz", "path": "data/raw/mine.npz"}})
    record = raw_flow(params_path="params.yaml")
    assert sorted(p.name for p in (workdir / BUILTIN).iterdir()) == ["source.json"]
    assert record["source"] == "npz" and record["path"] == "data/raw/mine.npz"
    assert record["dvc_file"] == "data/raw/mine.npz.dvc" and "versioned by its own .dvc file" in record["note"]


def test_a_damaged_raw_file_says_how_to_get_it_back(workdir: Path) -> None:
    (workdir / BUILTIN).mkdir(parents=True)
    (workdir / BUILTIN / "digits.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(NasError, match=r"digits\.npz: not a readable \.npz file .*`dvc repro raw`"):
        load_dataset(DataConfig(), workdir)


def run(cmd: list[str], cwd: Path) -> str:
    env = os.environ | {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PREFECT_HOME": str(cwd / ".prefect")}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.slow
def test_dvc_restores_an_earlier_source_from_its_run_cache(prefect_api: str, tmp_path: Path) -> None:
    """One output whatever the source: switching data.source back checks the old file out, nothing is fetched."""
    for name in ("flows", "nas_core"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "data/raw").mkdir(parents=True)
    np.savez(tmp_path / "data/raw/mine.npz", x=np.zeros((4, 3, 3)), y=np.array([0, 1, 0, 1]))
    write_params(tmp_path / "params.yaml")
    run(["git", "init", "-q"], tmp_path)
    run(["dvc", "init", "-q"], tmp_path)
    run(["dvc", "add", "-q", "data/raw/mine.npz"], tmp_path)
    assert "Running stage 'raw'" in run(["dvc", "repro", "raw"], tmp_path)
    digits = (tmp_path / BUILTIN / "digits.npz").read_bytes()

    def use(overrides: dict[str, object]) -> None:
        params = yaml.safe_load((tmp_path / "params.yaml").read_text())
        params["data"] |= overrides
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    use({"source": "npz", "path": "data/raw/mine.npz"})
    assert "Running stage 'raw'" in run(["dvc", "repro", "raw"], tmp_path)
    assert sorted(p.name for p in (tmp_path / BUILTIN).iterdir()) == ["source.json"]
    assert json.loads((tmp_path / BUILTIN / "source.json").read_text())["dvc_file"] == "data/raw/mine.npz.dvc"
    use({"source": "digits", "path": None})
    out = run(["dvc", "repro", "raw"], tmp_path)
    assert "Stage 'raw' is cached - skipping run, checking out outputs" in out
    assert (tmp_path / BUILTIN / "digits.npz").read_bytes() == digits


def test_dvc_runs_raw_before_prepare_and_prepare_after_an_added_dataset(tmp_path: Path) -> None:
    """prepare depends on data/raw, which holds raw's output and dvc-added datasets: DVC accepts both as edges."""
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    write_params(tmp_path / "params.yaml")
    (tmp_path / "data/raw").mkdir(parents=True)
    np.savez(tmp_path / "data/raw/mine.npz", x=np.zeros((4, 3, 3)), y=np.array([0, 1, 0, 1]))
    run(["git", "init", "-q"], tmp_path)
    run(["dvc", "init", "-q"], tmp_path)
    run(["dvc", "add", "-q", "data/raw/mine.npz"], tmp_path)
    dot = run(["dvc", "dag", "--dot"], tmp_path)
    edges = {
        tuple(part.strip().strip('"') for part in line.strip().rstrip(";").split("->")) for line in dot.splitlines()
    }
    assert ("raw", "prepare") in edges and ("data/raw/mine.npz.dvc", "prepare") in edges
    assert ("prepare", "space") in edges
