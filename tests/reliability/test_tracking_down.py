"""Issue 7: a tracking server that is not there stops a stage at once, with one clear line, before any training."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flows.engine.setup import search_preflight
from flows.retrain import retrain_flow, retrain_preflight
from flows.runtime.entry import run_stage
from flows.search import run_search_stage
from tests.reliability.crash_helpers import make_project

# Generous: only a retry loop with back-off (minutes) would reach it; a refused connection takes well under a second.
FAIL_FAST_SECONDS = 60


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


STAGES: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "search": (run_search_stage, search_preflight),
    "retrain": (retrain_flow, retrain_preflight),
}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_unreachable_tracking_server_fails_fast_before_training(
    stage: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    params = make_project(workdir, {"tracking": {"uri": uri, "experiment": "nas-test"}})
    if stage == "retrain":  # retrain also needs the search's winner; the tracking check must stop it all the same
        (workdir / "artifacts").mkdir()
        (workdir / "artifacts/best_architecture.json").write_text("{}")
    flow, preflight = STAGES[stage]
    started = time.monotonic()
    code = run_stage(flow, stage, preflight=preflight, argv=["--params", str(params)])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: tracking.uri: ") and uri in err and "Connection refused" in err, err
    assert err.count("\n") == 0 and "Traceback" not in err
    assert elapsed < FAIL_FAST_SECONDS
    for output in ("metrics", "models", "mlruns", "artifacts/search_space.json"):
        assert not (workdir / output).exists(), f"{output} written although nothing could be tracked"
