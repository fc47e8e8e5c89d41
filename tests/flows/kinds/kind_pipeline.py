"""Shared by the tabular and text pipeline tests: a params file of a space kind, and the pipeline run on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from mlflow import MlflowClient
from mlflow.entities import Run

from flows.pipeline import pipeline_flow
from tests.conftest import write_params


def write_kind_params(
    path: Path, data: dict[str, Any], space: dict[str, Any], experiment: str, overrides: dict[str, Any] | None = None
) -> Path:
    """The tiny test params with the `data` keys and the whole `space` section replaced (the CNN keys go)."""
    params = yaml.safe_load(write_params(path, overrides).read_text())
    params["data"] = {key: value for key, value in params["data"].items() if key != "limit"} | data
    params["space"] = space
    params["tracking"]["experiment"] = experiment
    params["retrain"]["model_name"] = f"{experiment}-model"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def run_pipeline(params: Path) -> dict[str, Any]:
    """raw, prepare, space, search and retrain: `python -m flows.pipeline --params <file>`; the retrain's metrics."""
    metrics: dict[str, Any] = pipeline_flow(params_path=str(params))["test"]
    return metrics


def candidate_runs(root: Path, experiment: str) -> tuple[MlflowClient, list[Run]]:
    """The MLflow client of the project at `root`, and the candidate runs of its `experiment`."""
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r}"
    return client, client.search_runs([found.experiment_id], "tags.`nas.kind` = 'candidate'")
