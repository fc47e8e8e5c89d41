"""Training with several TF threads is made deterministic, so the same params and seed give the same model.

Without it, the retrain of one winner with one seed scored 0.9851 or 0.9888 on test from one
`python -m flows.retrain` to the next (the same data, the same recipe). Each check runs in a fresh
process: TF's settings are process-wide and must come before its first op.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

# TF has no public getter for the flag; its own `config` module has one.
REPORT = (
    "import tensorflow as tf; from tensorflow.python.framework.config import is_op_determinism_enabled;"
    "print(is_op_determinism_enabled(), tf.config.threading.get_intra_op_parallelism_threads())"
)


def settings_after(setup: str) -> str:
    done = subprocess.run([sys.executable, "-c", f"{setup};{REPORT}"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_the_retrain_uses_every_core_with_deterministic_ops() -> None:
    assert settings_after("from flows.retrain import use_all_cores; use_all_cores()") == f"True {os.cpu_count()}"


def test_a_training_worker_with_several_threads_uses_deterministic_ops() -> None:
    assert settings_after("from nas_core.worker import _configure_worker; _configure_worker(2)") == "True 2"
