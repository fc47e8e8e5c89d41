"""A night that failed, on record in MLflow: one FAILED run tagged `nas.kind=night` with its error.

A failed night may never reach the search stage, so without this record MLflow would simply show
nothing for that night. The run sits in the experiment of `tracking.experiment`, next to the
searches, and `tags.`nas.kind` = 'night'` in the MLflow UI lists every failed night.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mlflow.entities import RunStatus

from flows.runtime.notify import NightFailure
from flows.tracking.schema import (
    ERROR_TAG,
    ERROR_TAG_LIMIT,
    FLOW_RUN_ID_TAG,
    GIT_COMMIT_TAG,
    KIND_NIGHT,
    KIND_TAG,
    PREFECT_STATE_TAG,
    TRIGGER_TAG,
)
from flows.tracking.tracker import MlflowTracker, git_commit


def record_night_failure(uri: str, experiment: str, failure: NightFailure, timezone: str = "UTC") -> str:
    """Create the finished FAILED run `night-failed-<YYYY-MM-DD>` and return its id.

    The date is the night's in `timezone` (`schedule.timezone`), the one its owner calls it by.
    The run is created and ended in one go, with explicit ids, so it never touches MLflow's global
    active run. An unreachable store raises `NasError` (from the tracker).
    """
    tracker = MlflowTracker(uri, experiment)  # finds or creates the experiment, as a search does
    stamp = int(failure.time.timestamp() * 1000)
    tags = {
        KIND_TAG: KIND_NIGHT,
        TRIGGER_TAG: "scheduled",
        ERROR_TAG: failure.error[:ERROR_TAG_LIMIT],
        FLOW_RUN_ID_TAG: failure.flow_run_id,
        PREFECT_STATE_TAG: failure.state,
        GIT_COMMIT_TAG: git_commit(),
    }
    name = f"night-failed-{night_of(failure.time, timezone).isoformat()}"
    run = tracker.client.create_run(tracker.experiment_id, start_time=stamp, tags=tags, run_name=name)
    run_id = str(run.info.run_id)
    tracker.log_params(run_id, {"params_path": failure.params_path, "flow_run_name": failure.flow_run_name})
    tracker.client.set_terminated(run_id, status=RunStatus.to_string(RunStatus.FAILED), end_time=stamp)
    return run_id


def night_of(moment: datetime, timezone: str) -> date:
    """The calendar date of `moment` in `timezone`; UTC's if the name is unknown (a record beats no record)."""
    try:
        return moment.astimezone(ZoneInfo(timezone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return moment.date()
