"""The whole pipeline as one Prefect flow: prepare, space, search, retrain, each a subflow.

    python -m flows.pipeline [--params params.yaml]

`dvc repro` runs the same stage flows one by one (and skips those whose inputs did not change);
this flow is what a scheduled deployment runs.
"""

from __future__ import annotations

import sys
from typing import Any

from prefect import flow

from flows.prepare import prepare_flow
from flows.retrain import retrain_flow
from flows.runtime.entry import run_stage
from flows.search import run_search_stage
from flows.space import space_flow


@flow(name="nas-pipeline")
def pipeline_flow(params_path: str = "params.yaml", scheduled: bool = False) -> dict[str, Any]:
    """`scheduled` (set by the nightly deployment) tags the MLflow runs `nas.trigger=scheduled`."""
    prepare_flow(params_path=params_path)
    space_flow(params_path=params_path)
    search = run_search_stage(params_path=params_path, scheduled=scheduled)
    test = retrain_flow(params_path=params_path, scheduled=scheduled)
    return {"search": search, "test": test}


if __name__ == "__main__":
    sys.exit(run_stage(pipeline_flow, __doc__ or ""))
