"""The nightly search: a Prefect deployment of the pipeline flow on the cron of params.yaml, served here.

    python -m flows.schedule [--params params.yaml]      (or: make schedule, nas schedule)

Runs until stopped (Ctrl-C pauses the schedule). Each run is `pipeline_flow(params_path,
scheduled=True)`, started in the directory this command was started in, so serve it from the
project root. It needs a Prefect server, because Prefect's ephemeral API runs no scheduler: the
one at PREFECT_API_URL, or else a local one that this command starts on 127.0.0.1:4200.
"""

from __future__ import annotations

import sys
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from prefect import serve
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron, validate_cron_string

from flows.io.params import load_params
from flows.pipeline import pipeline_flow
from flows.runtime.entry import run_stage
from flows.runtime.prefect_server import prefect_api
from nas_core.config import NasConfig, ScheduleConfig
from nas_core.errors import NasError

DEPLOYMENT_NAME = "nightly"
DEPLOYMENT_TAGS = ["nas", "nightly"]


def check_schedule(cfg: ScheduleConfig) -> None:
    """A bad cron or time zone is a user error that names its key, found before anything is served."""
    try:
        validate_cron_string(cfg.cron)
    except ValueError:
        raise NasError(
            f"schedule.cron: {cfg.cron!r} is not a valid cron expression "
            "(minute hour day-of-month month day-of-week, e.g. '0 2 * * *')"
        ) from None
    try:
        ZoneInfo(cfg.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise NasError(f"schedule.timezone: unknown time zone {cfg.timezone!r} (an IANA name, e.g. UTC)") from None


def build_deployment(cfg: NasConfig, params_path: str | Path) -> RunnerDeployment:
    """The deployment of `pipeline_flow` on `schedule.cron` in `schedule.timezone`; nothing is sent anywhere yet.

    One run at a time: every run writes the same output files, and a search that outlasts a day
    must not be joined by the next one.
    """
    check_schedule(cfg.schedule)
    params = Path(params_path).resolve()
    deployment = pipeline_flow.to_deployment(
        name=DEPLOYMENT_NAME,
        schedules=[Cron(cfg.schedule.cron, timezone=cfg.schedule.timezone)],
        parameters={"params_path": str(params), "scheduled": True},
        tags=DEPLOYMENT_TAGS,
        description=f"Nightly NAS: prepare, search and retrain with {params}",
        concurrency_limit=1,
        # by module, not by file: the flow is found wherever the project is installed
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    assert isinstance(deployment, RunnerDeployment)  # called outside an event loop, so not a coroutine
    return deployment


def serve_schedule(params_path: str = "params.yaml") -> None:
    """Create (or update) the deployment and run its flow runs here until interrupted."""
    deployment = build_deployment(load_params(params_path), params_path)
    with prefect_api():
        serve(deployment, limit=1)


def schedule_preflight(cfg: NasConfig) -> None:
    check_schedule(cfg.schedule)


def main(argv: list[str] | None = None) -> int:
    """Exit code 2 with one line on a bad params file, cron or time zone, as every stage does."""
    return run_stage(serve_schedule, __doc__ or "", preflight=schedule_preflight, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
