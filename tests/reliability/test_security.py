"""Safe loading everywhere, and no secrets in what gets logged."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flows.io.params import load_params
from flows.tracking.tracker import flatten, redact
from nas_core.errors import NasError

REPO = Path(__file__).resolve().parents[2]
SOURCES = [p for folder in ("nas_core", "flows", "benchmarks") for p in (REPO / folder).rglob("*.py")]


def test_params_yaml_cannot_construct_python_objects(tmp_path: Path) -> None:
    evil = tmp_path / "params.yaml"
    evil.write_text("search: !!python/object/apply:os.system ['echo pwned > owned.txt']\n")
    with pytest.raises(NasError, match="not valid YAML"):
        load_params(evil)
    assert not (tmp_path / "owned.txt").exists()


def test_credentials_are_redacted_from_the_logged_config() -> None:
    config = {
        "tracking": {"uri": "postgresql://nas:hunter2@db.example:5432/mlflow", "experiment": "nas"},
        "search": {"strategy_options": {"api_token": "abc123", "population_size": 20}},
        "storage": {"password": "p4ss", "secret_key": "s3cr3t"},
    }
    logged = redact(flatten(config))
    text = repr(logged)
    for secret in ("hunter2", "abc123", "p4ss", "s3cr3t"):
        assert secret not in text
    assert logged["tracking.uri"] == "postgresql://nas:***@db.example:5432/mlflow"
    assert logged["search.strategy_options.population_size"] == 20
    assert logged["tracking.experiment"] == "nas"


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"allow_pickle\s*=\s*True", "user files are never unpickled"),
        (r"yaml\.(?:load|unsafe_load)\(", "YAML is read with safe_load only"),
        (r"safe_mode\s*=\s*False", "Keras models load with safe_mode"),
        (r"""--host["']?\s*,?\s*["']0\.0\.0\.0""", "servers bind 127.0.0.1 unless the user says otherwise"),
    ],
)
def test_no_unsafe_calls_in_the_code(pattern: str, why: str) -> None:
    offenders = [str(p.relative_to(REPO)) for p in SOURCES if re.search(pattern, p.read_text())]
    assert not offenders, f"{why}: {offenders}"
