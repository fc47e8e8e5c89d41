"""`nas data add PATH` with real git and dvc: a folder or an .npz checked, dvc-added and named in params.yaml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from flows.cli import app
from flows.io.data_add import set_data_keys
from flows.prepare import prepare_flow
from flows.raw import raw_flow
from tests.conftest import in_directory, write_params

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
runner = CliRunner()


def run(cmd: list[str], cwd: Path) -> str:
    env = os.environ | {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A git + DVC project with the repo's own hand-commented params.yaml, worked in."""
    root = tmp_path / "project"
    (root / "data/raw").mkdir(parents=True)
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    shutil.copy(REPO / "data/raw/README.md", root / "data/raw/README.md")
    run(["git", "init", "-q"], root)
    run(["dvc", "init", "-q"], root)
    with in_directory(root):
        yield root


def image_folder(folder: Path, classes: tuple[str, ...] = ("cat", "dog"), per_class: int = 3) -> Path:
    for label, name in enumerate(classes):
        for i in range(per_class):
            (folder / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((6, 5), 40 * label + i, dtype=np.uint8)).save(folder / name / f"{i}.png")
    return folder


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.splitlines(), after.splitlines()
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def dvc_tracked(root: Path) -> list[str]:
    found = (p.relative_to(root) for p in root.rglob("*.dvc") if p.is_file())
    return sorted(p.as_posix() for p in found if p.parts[0] != ".dvc")


def test_a_folder_outside_the_project_is_copied_added_and_named_in_params(project: Path, tmp_path: Path) -> None:
    outside = image_folder(tmp_path / "elsewhere" / "pets")
    before = (project / "params.yaml").read_text()
    result = runner.invoke(app, ["data", "add", str(outside)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert f"copied {outside} to data/raw/pets" in result.output
    assert "data/raw/pets: 6 images of 6×5×1, 2 classes (image_folder)" in result.output
    assert "git add data/raw/pets.dvc data/raw/.gitignore params.yaml" in result.output
    assert "dvc push" in result.output
    assert sorted(p.name for p in (project / "data/raw/pets").iterdir()) == ["cat", "dog"]
    assert (outside / "cat").is_dir()  # the original is left where it was
    assert dvc_tracked(project) == ["data/raw/pets.dvc"]
    assert "/pets" in (project / "data/raw/.gitignore").read_text().split()
    # Two lines changed, each keeping its comment in its column; every other byte of params.yaml is kept.
    after = (project / "params.yaml").read_text()
    assert changed_lines(before, after) == [
        (
            "  source: digits          # digits | npz | image_folder | mnist | keras:mnist | keras:fashion_mnist | "
            "keras:cifar10",
            "  source: image_folder    # digits | npz | image_folder | mnist | keras:mnist | keras:fashion_mnist | "
            "keras:cifar10",
        ),
        (
            "  path: null              # the file (npz) or folder (image_folder), relative to the repo root",
            "  path: data/raw/pets     # the file (npz) or folder (image_folder), relative to the repo root",
        ),
    ]
    assert "Data and pipelines are up to date" in run(["dvc", "status"], project)


def test_an_npz_under_data_raw_is_added_in_place_and_prepare_reads_it(prefect_api: str, project: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(project / "data/raw/mine.npz", x=rng.integers(0, 256, (30, 7, 7), dtype=np.uint8), y=np.arange(30) % 3)
    result = runner.invoke(app, ["data", "add", "data/raw/mine.npz"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "copied" not in result.output and "data/raw/mine.npz: 30 images of 7×7×1, 3 classes (npz)" in result.output
    assert dvc_tracked(project) == ["data/raw/mine.npz.dvc"]
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["data"]["source"] == "npz" and params["data"]["path"] == "data/raw/mine.npz"
    info = prepare_flow(params_path="params.yaml")
    assert info["source"] == "npz" and info["input_shape"] == [7, 7, 1] and info["num_classes"] == 3
    assert raw_flow(params_path="params.yaml")["dvc_file"] == "data/raw/mine.npz.dvc"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: image_folder(root / "one", classes=("only",)), "needs one sub-folder per class (at least 2)"),
        (lambda root: _npz(root / "no_y.npz", x=np.zeros((4, 3, 3))), "has no array 'y'"),
        (lambda root: _npz(root / "short.npz", x=np.zeros((4, 3, 3)), y=np.arange(3)), "x has 4 examples but y has 3"),
        (lambda root: _file(root / "notes.txt"), "give a folder with one sub-folder of images per class"),
    ],
    ids=["one-class", "no-y", "mismatch", "not-a-dataset"],
)
def test_a_broken_dataset_gets_the_loaders_error_and_nothing_changes(
    project: Path, tmp_path: Path, make: object, message: str
) -> None:
    given = make(tmp_path)  # type: ignore[operator]
    before = (project / "params.yaml").read_text()
    result = runner.invoke(app, ["data", "add", str(given)], env={"COLUMNS": "400"})
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output
    assert (project / "params.yaml").read_text() == before
    assert sorted(p.name for p in (project / "data/raw").iterdir()) == ["README.md"]  # nothing copied
    assert dvc_tracked(project) == [] and not any((project / ".dvc/cache").rglob("*"))


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def _file(path: Path) -> Path:
    path.write_text("not a dataset")
    return path


def test_a_params_file_that_would_not_validate_stops_before_dvc(project: Path, tmp_path: Path) -> None:
    (project / "params.yaml").write_text((project / "params.yaml").read_text().replace("max_candidates", "max_cands"))
    before = (project / "params.yaml").read_text()
    result = runner.invoke(app, ["data", "add", str(image_folder(tmp_path / "pets"))], env={"COLUMNS": "400"})
    assert result.exit_code == 2 and "search.max_cands: unknown key" in result.stderr
    assert (project / "params.yaml").read_text() == before and dvc_tracked(project) == []
    assert not (project / "data/raw/pets").exists()


def test_a_name_already_under_data_raw_is_not_overwritten(project: Path, tmp_path: Path) -> None:
    (project / "data/raw/pets").mkdir()
    result = runner.invoke(app, ["data", "add", str(image_folder(tmp_path / "pets"))], env={"COLUMNS": "400"})
    assert result.exit_code == 2 and "data/raw/pets, which already exists" in result.stderr


def test_outside_a_dvc_project_it_says_so(tmp_path: Path) -> None:
    write_params(tmp_path / "params.yaml")
    with in_directory(tmp_path):
        result = runner.invoke(app, ["data", "add", str(image_folder(tmp_path / "pets"))], env={"COLUMNS": "400"})
    assert result.exit_code == 2 and "not a DVC project (no .dvc folder); run `dvc init`" in result.stderr


def test_plain_dvc_add_and_a_params_edit_is_read_by_prepare(prefect_api: str, project: Path) -> None:
    """The way by hand, as docs/operations/dvc.md shows it: dvc add, then data.source and data.path."""
    x = np.random.default_rng(1).random((24, 4, 4)).astype(np.float32)
    np.savez(project / "data/raw/plain.npz", x=x, y=np.arange(24) % 2)
    run(["dvc", "add", "data/raw/plain.npz"], project)
    write_params(project / "params.yaml", {"data": {"source": "npz", "path": "data/raw/plain.npz", "limit": None}})
    info = prepare_flow(params_path="params.yaml")
    assert info["source"] == "npz" and info["num_classes"] == 2
    assert sum(sum(split["class_counts"]) for split in info["splits"].values()) == 24
    record = raw_flow(params_path="params.yaml")
    assert record["path"] == "data/raw/plain.npz" and record["dvc_file"] == "data/raw/plain.npz.dvc"
    assert sorted(p.name for p in (project / "data/raw/builtin").iterdir()) == ["source.json"]


def test_set_data_keys_edits_only_the_two_lines() -> None:
    text = "# top\ndata:\n  source: digits   # which\n  seed: 0\n\nspace:\n  source: keep  # not data's\n"
    edited = set_data_keys(text, {"source": "npz", "path": "data/raw/my set.npz"})
    assert edited == (
        "# top\ndata:\n  source: npz      # which\n  seed: 0\n"
        '  path: "data/raw/my set.npz"\n\nspace:\n  source: keep  # not data\'s\n'
    )
    assert yaml.safe_load(edited)["data"] == {"source": "npz", "seed": 0, "path": "data/raw/my set.npz"}
