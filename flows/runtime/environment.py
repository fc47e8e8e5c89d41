"""Quiet, project-local defaults for Prefect, MLflow, DVC and TensorFlow.

A stage's `main` (flows/runtime/entry.py), the `nas` command and the tests call `apply_defaults`
before they start anything; importing a module sets nothing. Prefect reads its settings once, when
it is imported, so for a plain `python -m flows.<stage>` or `dvc repro` in the project it finds the
same values in pyproject.toml's `[tool.prefect]` (tests/flows/runtime/test_environment.py keeps the two
equal). A user's own environment variables win: only missing ones are filled in.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent

# The same settings as pyproject.toml's [tool.prefect], as environment variables.
PREFECT_DEFAULTS = {
    "PREFECT_HOME": str(PROJECT_DIR / ".prefect"),
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "INFO",
    "PREFECT_UI_ENABLED": "false",
    # Prefect's 20 s default is too short for a first start (fresh database, cold disk cache)
    # on a busy 2-core machine: `python -m flows.prepare` right after install timed out there.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}

OTHER_DEFAULTS = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "DVC_NO_ANALYTICS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    # Not TF_ENABLE_ONEDNN_OPTS=0: turning oneDNN off made conv-heavy candidates 2x slower on CPU.
    "GIT_PYTHON_REFRESH": "quiet",
}


def apply_defaults() -> None:
    for name, value in (PREFECT_DEFAULTS | OTHER_DEFAULTS).items():
        os.environ.setdefault(name, value)
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
