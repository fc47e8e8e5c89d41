"""Shared fixtures: one real Prefect test server per session, tiny params, a scratch working directory."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.runtime.environment import apply_defaults

apply_defaults()  # the quiet, project-local environment, before anything imports Prefect

TINY_PARAMS: dict[str, Any] = {
    "data": {"source": "digits", "limit": 360, "seed": 0},
    "space": {
        "conv_blocks": [1, 2],
        "filters": [8, 16],
        "kernel_size": [3],
        "pooling": ["max", "none"],
        "skip": [False, True],
        "dense_layers": [0, 1],
        "units": [16],
        "activation": ["relu"],
        "dropout": [0.0],
        "batch_norm": [False],
    },
    # Re-scoring the top candidates trains `folds` more models each; only the modules that test it turn it on.
    "search": {"strategy": "random", "max_candidates": 3, "parallelism": 2, "seed": 0, "reevaluate_top_k": 0},
    "train": {"epochs": 2, "patience": 1, "batch_size": 32},
    "retrain": {"epochs": 2, "seeds": 1, "folds": 2, "model_name": "nas-test"},
    "tracking": {"uri": "sqlite:///mlflow.db", "experiment": "nas-test"},
}


# The smallest CNN of the params space: one 3x3 conv block of 8 filters, max-pooled, straight to softmax.
TINY_CNN: dict[str, Any] = {
    "conv_blocks": 1,
    "filters_0": 8,
    "kernel_0": 3,
    "pool_0": "max",
    "skip_0": False,
    "dense_layers": 0,
    "activation": "relu",
    "padding": "same",
    "dropout": 0.0,
    "batch_norm": False,
}


def digits_arrays(n_train: int, n_val: int) -> Any:
    """scikit-learn's digits as training `Arrays`: the first `n_train` images, then `n_val` for validation."""
    from sklearn.datasets import load_digits

    from nas_core.training import Arrays

    data = load_digits()
    x = (data.images / 16.0).astype("float32")[..., None]
    y = data.target.astype("int64")
    end = n_train + n_val
    return Arrays(x[:n_train], y[:n_train], x[n_train:end], y[n_train:end])


def write_digits_splits(folder: Path, sizes: dict[str, int]) -> Path:
    """Prepared-data files (`<split>.npz` with x and y) of consecutive digits images, e.g. train 300, val 100."""
    import numpy as np
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images / 16.0).astype("float32")[..., None]
    y = data.target.astype("int64")
    start = 0
    for split, size in sizes.items():
        np.savez(folder / f"{split}.npz", x=x[start : start + size], y=y[start : start + size])
        start += size
    return folder


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for section, values in overrides.items():
        if isinstance(values, dict) and isinstance(out.get(section), dict):
            out[section] = out[section] | values
        else:
            out[section] = values
    return out


def write_params(path: Path, overrides: dict[str, Any] | None = None) -> Path:
    """A complete params file (DVC needs every key a stage lists): defaults, then tiny values, then overrides."""
    from nas_core.config import NasConfig

    full = merge(NasConfig().model_dump(mode="json"), TINY_PARAMS)
    path.write_text(yaml.safe_dump(merge(full, overrides or {}), sort_keys=False))
    return path


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """A real, temporary Prefect server for the whole session; its URL is exported for subprocesses."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        url = str(PREFECT_API_URL.value())
        previous = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = url
        yield url
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a scratch directory: flows write data/, artifacts/, metrics/ and mlflow.db relative to it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@contextmanager
def in_directory(folder: Path) -> Iterator[Path]:
    """Work in `folder` (flows read params.yaml and write data/ relative to it), then go back."""
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(previous)


class RecordingServer(ThreadingHTTPServer):
    """Keeps the JSON body of every POST it gets."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RecordPost)
        self.bodies: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/secret-token"


class RecordPost(BaseHTTPRequestHandler):
    server: RecordingServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


@pytest.fixture
def webhook() -> Iterator[RecordingServer]:
    server = RecordingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
