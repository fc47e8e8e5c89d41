"""The data version a nightly run records is the one real DVC writes, and dvc.lock is read back right."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flows.io.dvc_version import directory_md5, lock_md5
from nas_core.errors import NasError


def dvc(*args: str, cwd: Path) -> None:
    """Run the real `dvc` of this environment, kept off the user's global config and site cache."""
    env = os.environ | {
        "DVC_NO_ANALYTICS": "1",
        "DVC_GLOBAL_CONFIG_DIR": str(cwd / ".dvc-global"),
        "DVC_SITE_CACHE_DIR": str(cwd / ".dvc-site"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"dvc {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"


def dvc_add_md5(repo: Path, name: str) -> str:
    """What `dvc add` records in `<name>.dvc` for the directory `repo/name`."""
    dvc("add", "-q", name, cwd=repo)
    record = yaml.safe_load((repo / f"{name}.dvc").read_text())
    md5: str = record["outs"][0]["md5"]
    return md5


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A DVC project (no git) holding `data/` with one file at the top and one in a subfolder."""
    dvc("init", "--no-scm", "-q", cwd=tmp_path)
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "manifest.json").write_text('{"classes": 10}\r\n')  # CRLF: DVC 3 hashes bytes, no dos2unix
    (data / "sub" / "train.npz").write_bytes(bytes(range(256)) * 3)
    return tmp_path


def test_directory_md5_is_what_dvc_add_records(repo: Path) -> None:
    ours = directory_md5(repo / "data")
    assert ours.endswith(".dir")
    assert ours == dvc_add_md5(repo, "data")


def test_any_change_to_a_file_changes_the_hash_as_it_does_for_dvc(repo: Path) -> None:
    before = directory_md5(repo / "data")
    train = repo / "data" / "sub" / "train.npz"
    train.write_bytes(train.read_bytes()[:-1] + b"\x00")  # one byte, same size
    after = directory_md5(repo / "data")
    assert after != before
    assert after == dvc_add_md5(repo, "data")


def test_directory_md5_of_a_missing_directory_names_it(tmp_path: Path) -> None:
    with pytest.raises(NasError, match="nowhere"):
        directory_md5(tmp_path / "nowhere")


LOCK = """\
schema: '2.0'
stages:
  prepare:
    cmd: python -m flows.prepare
    deps:
    - path: data/raw
      hash: md5
      md5: 71c560e57d06a025abe2ed1ef69dbcac.dir
    outs:
    - path: data/prepared
      hash: md5
      md5: 415ae9e962944a35b93a8e318fb12e24.dir
      size: 476961
      nfiles: 4
  space:
    cmd: python -m flows.space
    outs:
    - path: artifacts/search_space.json
      hash: md5
      md5: 0123456789abcdef0123456789abcdef
"""


def test_lock_md5_reads_the_out_of_any_stage(tmp_path: Path) -> None:
    lock = tmp_path / "dvc.lock"
    lock.write_text(LOCK)
    assert lock_md5(lock) == "415ae9e962944a35b93a8e318fb12e24.dir"
    assert lock_md5(lock, "artifacts/search_space.json") == "0123456789abcdef0123456789abcdef"


def test_lock_md5_is_none_without_a_lock_or_without_that_out(tmp_path: Path) -> None:
    assert lock_md5(tmp_path / "dvc.lock") is None
    lock = tmp_path / "dvc.lock"
    lock.write_text(LOCK)
    assert lock_md5(lock, "data/raw") is None  # a dependency, not an output
    assert lock_md5(lock, "models/winner.keras") is None


def test_lock_md5_names_a_lock_that_is_not_yaml(tmp_path: Path) -> None:
    lock = tmp_path / "dvc.lock"
    lock.write_text("stages: [unclosed\n")
    with pytest.raises(NasError, match=r"dvc\.lock"):
        lock_md5(lock)
