"""The whole pipeline as one Prefect flow: raw, prepare, space, search, retrain, each a subflow.

    python -m flows.pipeline [--params params.yaml]

`dvc repro` runs the same stage flows one by one (and skips those whose inputs did not change);
this flow is what a scheduled deployment runs. A scheduled run that fails or crashes tells
`schedule.notify.webhook` and leaves a FAILED `nas.kind=night` run in MLflow
(docs/operations/nightly.md#when-a-night-fails).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from prefect import flow
from prefect.logging.loggers import flow_run_logger

from flows.io.params import load_params
from flows.prepare import prepare_flow
from flows.raw import raw_flow
from flows.retrain import retrain_flow
from flows.runtime.entry import run_stage
from flows.runtime.notify import NightFailure, notify_night_failed
from flows.search import run_search_stage
from flows.space import space_flow
from flows.tracking.night_failure import record_night_failure

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.client.schemas.objects import FlowRun, State


def tell_of_a_failed_night(flow: Flow[Any, Any], flow_run: FlowRun, state: State) -> None:
    """The pipeline's failure and crash hook: a scheduled run posts to the webhook and is put on record in MLflow.

    Manual runs are left alone: whoever started one sees its error. Nothing here raises, since
    Prefect would log that instead of the night's own error; each step that can fail only warns.
    """
    if not flow_run.parameters.get("scheduled"):
        return
    log = flow_run_logger(flow_run, flow)
    failure = NightFailure.from_hook(flow_run, state)
    try:
        cfg = load_params(failure.params_path)
    except Exception as error:  # a broken params file may be why the night failed
        log.warning(
            "nobody is told that the night failed and it is not recorded in MLflow: the params file cannot "
            "be read, so schedule.notify.webhook and tracking.uri are unknown (%s)",
            error,
        )
        return
    # The notice goes first: a tracking store that does not answer may be why the night failed.
    notify_night_failed(cfg.schedule.notify.webhook, failure, log=log)
    try:
        run_id = record_night_failure(
            cfg.tracking.uri, cfg.tracking.experiment, failure, timezone=cfg.schedule.timezone
        )
    except Exception as error:
        log.warning("the failed night is not on record in MLflow: %s: %s", type(error).__name__, error)
    else:
        log.info("the failed night is on record in MLflow: run %s of experiment %r", run_id, cfg.tracking.experiment)


@flow(name="nas-pipeline", on_failure=[tell_of_a_failed_night], on_crashed=[tell_of_a_failed_night])
def pipeline_flow(params_path: str = "params.yaml", scheduled: bool = False) -> dict[str, Any]:
    """`scheduled` (set by the nightly deployment) tags the MLflow runs `nas.trigger=scheduled`."""
    raw_flow(params_path=params_path)
    prepare_flow(params_path=params_path)
    space_flow(params_path=params_path)
    search = run_search_stage(params_path=params_path, scheduled=scheduled)
    test = retrain_flow(params_path=params_path, scheduled=scheduled)
    return {"search": search, "test": test}


if __name__ == "__main__":
    sys.exit(run_stage(pipeline_flow, __doc__ or ""))
