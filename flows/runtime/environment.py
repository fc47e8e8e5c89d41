"""Quiet, project-local defaults for Prefect, MLflow, DVC and TensorFlow.

Set before any of them is imported (flows/__init__ calls `apply_defaults`), so `dvc repro`,
`python -m flows.<stage>` and the tests all get the same behaviour. A user's own environment
variables win: only missing ones are filled in.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def apply_defaults() -> None:
    defaults = {
        "PREFECT_HOME": str(REPO_ROOT / ".prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "PREFECT_UI_ENABLED": "false",
        # Prefect's 20 s default is too short for a first start (fresh database, cold disk cache)
        # on a busy 2-core machine: `python -m flows.prepare` right after install timed out there.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
        "DVC_NO_ANALYTICS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        # Not TF_ENABLE_ONEDNN_OPTS=0: turning oneDNN off made conv-heavy candidates 2x slower on CPU.
        "GIT_PYTHON_REFRESH": "quiet",
    }
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
