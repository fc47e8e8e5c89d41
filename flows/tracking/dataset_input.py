"""The data a run used, as an MLflow dataset input: what fills the Dataset column of the MLflow UI.

Its digest is DVC's md5 of `data/prepared` (flows/io/dvc_version.py), the version `dvc.lock` names;
its source is the prepared folder and the git revision of the code that ran, so a reader can
check the data out again with `git checkout <rev> && dvc checkout`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from flows.tracking.run_labels import dataset_label
from flows.tracking.tracker import git_commit


def log_dataset(
    client: MlflowClient, run_id: str, config: Mapping[str, Any], data_dir: Path, digest: str, context: str
) -> None:
    """Log the prepared data as the run's dataset input (`context`: what the run did with it)."""
    source = {"uri": str(data_dir.resolve()), "git_revision": git_commit()}
    dataset = Dataset(
        name=dataset_label(config), digest=digest, source_type="local", source=json.dumps(source, sort_keys=True)
    )
    client.log_inputs(run_id, datasets=[DatasetInput(dataset, tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)])])
