"""The shared `main()` of every `python -m flows.<stage>`: parse --params, check, run, exit 2 on user errors.

Params and preconditions are checked before the flow starts, so a bad config prints one line
and exits 2 without starting Prefect, training anything or writing anything.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flows.io.params import load_params
from flows.runtime.environment import apply_defaults
from nas_core.config import NasConfig
from nas_core.errors import NasError
from nas_core.worker import spawn_without_parent_main


def run_stage(
    flow: Callable[..., Any],
    description: str,
    preflight: Callable[[NasConfig], object] | None = None,
    argv: list[str] | None = None,
    flags: Mapping[str, str] | None = None,
    pass_config: bool = False,
) -> int:
    """Validate, run `preflight(cfg)`, then `flow(params_path=...)`; a `NasError` becomes exit code 2.

    `flags` maps on/off options of one stage (e.g. search's `--fresh`) to their help; each is
    passed to the flow as a keyword argument (`--fresh` -> `fresh=True`). With `pass_config`
    the validated config goes along as `cfg=`, so a plain function around a flow (the search's
    task-runner choice) does not read the file again; a Prefect flow takes only the path, so
    Prefect's records and the nightly deployment's parameters hold no secret of tracking.uri.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: params.yaml)")
    for name, help_text in (flags or {}).items():
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, action="store_true", help=help_text)
    args = parser.parse_args(argv)
    if argv is None:  # a real command line: training workers need nas_core, not this stage's imports
        spawn_without_parent_main()
        apply_defaults()  # for this process's MLflow and the processes it starts
        quiet_user_error_tracebacks()
    chosen = {name: bool(getattr(args, name)) for name in flags or {}}
    try:
        cfg = load_params(args.params)
        if preflight is not None:
            preflight(cfg)
        flow(params_path=str(args.params), **chosen, **({"cfg": cfg} if pass_config else {}))
    except Exception as error:
        user_error = user_error_in(error)
        if user_error is None:
            raise
        print(f"error: {user_error}", file=sys.stderr)
        return 2
    return 0


class WithoutUserErrorTracebacks(logging.Filter):
    """Prefect logs a failed task or flow with its traceback; for a user error the stage's one line says it all.

    Records that carry a `NasError` are dropped, so the error is printed once, as `error: ...`.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return error is None or user_error_in(error) is None


def quiet_user_error_tracebacks() -> None:
    """Install the filter on the loggers of Prefect's flow and task runs (idempotent)."""
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, WithoutUserErrorTracebacks) for f in logger.filters):
            logger.addFilter(WithoutUserErrorTracebacks())


def user_error_in(error: BaseException) -> NasError | None:
    """Prefect may wrap a flow's exception; find the user error inside, if any."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, NasError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
