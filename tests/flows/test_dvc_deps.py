"""dvc.yaml lists every project module each stage runs, so a code change reruns the stages it can affect."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]

LOADED = """
import sys
from pathlib import Path
import {module}
root = Path.cwd().resolve()
for m in list(sys.modules.values()):
    path = Path(getattr(m, "__file__", None) or "/").resolve()
    if path.is_relative_to(root) and path.parts[len(root.parts)] in ("flows", "nas_core"):
        print(path.relative_to(root).as_posix())
"""


def covered(path: str, deps: list[str]) -> bool:
    return any(path == dep or path.startswith(dep.rstrip("/") + "/") for dep in deps)


def test_every_stage_runs_its_own_flow_module() -> None:
    assert list(STAGES) == ["raw", "prepare", "space", "search", "retrain"]
    for name, stage in STAGES.items():
        assert stage["cmd"] == f"python -m flows.{name}"


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_stage_lists_every_project_module_it_imports(stage: str) -> None:
    deps = [str(d) for d in STAGES[stage]["deps"]]
    done = subprocess.run(
        [sys.executable, "-c", LOADED.format(module=f"flows.{stage}")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = sorted(set(done.stdout.split()))
    assert f"flows/{stage}.py" in loaded  # the listing itself works
    missing = [path for path in loaded if not covered(path, deps)]
    assert missing == [], f"dvc.yaml stage {stage!r} does not list {missing}"


def test_the_check_catches_a_module_left_out() -> None:
    assert not covered("nas_core/training.py", ["nas_core/data.py", "flows/io"])
    assert covered("nas_core/estimation/darts.py", ["nas_core"])
