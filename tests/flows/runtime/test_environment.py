"""Importing flows changes nothing; the environment defaults and pyproject's [tool.prefect] agree."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

from flows.runtime.environment import PREFECT_DEFAULTS, PROJECT_DIR

IMPORT_EVERY_ENTRY_POINT = """
import os
before = dict(os.environ)
import flows.cli, flows.prepare, flows.space, flows.search, flows.retrain, flows.pipeline, flows.schedule, flows.summary
print(sorted(k for k in set(os.environ) | set(before) if os.environ.get(k) != before.get(k)))
"""
SETTING = "from prefect.settings import get_current_settings as s; print(s().server.ephemeral.startup_timeout_seconds)"


def without(*prefixes: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def test_importing_every_entry_point_sets_no_environment_variable() -> None:
    env = without("PREFECT_", "TF_CPP", "MLFLOW_", "DVC_", "GIT_PYTHON")
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_ENTRY_POINT], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_pyproject_gives_prefect_the_same_settings_as_the_environment_defaults() -> None:
    prefect = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["tool"]["prefect"]
    server = prefect["server"]
    assert PREFECT_DEFAULTS == {
        "PREFECT_HOME": str(PROJECT_DIR / prefect["home"]),
        "PREFECT_SERVER_ANALYTICS_ENABLED": str(server["analytics_enabled"]).lower(),
        "PREFECT_LOGGING_LEVEL": prefect["logging"]["level"],
        "PREFECT_UI_ENABLED": str(server["ui"]["enabled"]).lower(),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": str(server["ephemeral"]["startup_timeout_seconds"]),
    }


def test_prefect_started_in_the_project_reads_the_project_settings() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SETTING], cwd=PROJECT_DIR, env=without("PREFECT_"), capture_output=True, text=True
    )
    assert done.stdout.strip() == "120"  # Prefect's own default is 20
