"""A committed, DVC-initialised copy of the project in tmp, and `run` for the commands tests give it.

Shared by tests/flows/test_dvc.py (repro, push, pull, S3) and tests/flows/test_dvc_exp.py (sweeps).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import write_params

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# `git commit` in a copy, whose HOME (below) holds no git config
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "nas tests",
    "GIT_AUTHOR_EMAIL": "nas-tests@example.com",
    "GIT_COMMITTER_NAME": "nas tests",
    "GIT_COMMITTER_EMAIL": "nas-tests@example.com",
}


def home_of(cwd: Path) -> Path:
    """HOME for every subprocess here: one folder beside the copy and its clones, which tmp_path_factory
    makes side by side. The committed default remote, ~/.local/share/nas/dvc-remote, is then in tmp and
    shared by the copy and its clones, as it is by every clone on a real machine; the user's global git
    and DVC config stay out of it."""
    home = cwd.parent / "home"
    home.mkdir(exist_ok=True)
    return home


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`cmd` in `cwd` with the venv first on PATH (DVC's queue worker starts `dvc`, the stages `python`).

    The environment, with the session's PREFECT_API_URL, reaches every stage, also through the queue
    worker that `dvc exp run --run-all` starts: no stage starts a Prefect server of its own.
    """
    env = os.environ | GIT_IDENTITY | {"HOME": str(home_of(cwd)), "PREFECT_HOME": str(cwd / ".prefect")}
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if check:
        assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def copy_project(root: Path, overrides: dict[str, Any]) -> Path:
    """The code, dvc.yaml and data/raw in `root` with tiny params and the project's .dvc/config, committed."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("flows", "nas_core"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(REPO / name, root / name)
    # not data/raw/builtin, the raw stage's output, which a run in the repo may have left
    shutil.copytree(REPO / "data" / "raw", root / "data" / "raw", ignore=shutil.ignore_patterns("builtin"))
    write_params(root / "params.yaml", overrides)
    run(["git", "init", "-q"], root)
    for key, value in (("user.name", "nas tests"), ("user.email", "nas-tests@example.com")):
        run(["git", "config", key, value], root)  # DVC's experiments commit through libraries that read no env
    run(["dvc", "init", "-q"], root)
    shutil.copy(REPO / ".dvc" / "config", root / ".dvc" / "config")  # the project's default remote
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "the project"], root)
    return root
