"""End a stage's process without tearing down every module it imported.

Freeing Prefect, MLflow, SQLAlchemy and pandas object by object takes over a second at the end of
every `python -m flows.<stage>`, and it serves nothing when the process is ending anyway.
flows/__init__ registers `_exit_now` before anything else is imported, which makes it the *last*
exit handler to run: Prefect's log and event flush, the stop of the temporary Prefect server and
logging's flush all run before it. It acts only once a stage's `__main__` has recorded its exit
code with `exit_with`; an unexpected exception (no code recorded) exits the usual way.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from typing import NoReturn

_recorded: list[int] = []


def install() -> None:
    atexit.register(_exit_now)


def exit_with(code: int) -> NoReturn:
    """`sys.exit(code)`, then skip the module teardown once every exit handler has run."""
    _recorded.append(code)
    sys.exit(code)


def _exit_now() -> None:
    if not _recorded:
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(_recorded[-1])
