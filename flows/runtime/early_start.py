"""Start a search's slow parts before its heavy imports: the training workers and Prefect's API server.

`python -m flows.search` spends about 4 s importing Prefect and MLflow. Its training workers
import TensorFlow (about 5 s) and Prefect's temporary API server imports Prefect's server (about
5 s); neither needs anything the stage imports, so both start first and all three overlap on the
machine's cores instead of following one another. This module imports only the standard library
and `nas_core`, so calling it costs nothing measurable.

The server is Prefect's own temporary one (the same uvicorn command its `SubprocessASGIServer`
runs), started early; `use_early_prefect_server` hands it to the flow only when Prefect has no
server configured (PREFECT_API_URL, a profile, ...). Otherwise it is stopped unused.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from nas_core.config import NasConfig, SearchConfig
from nas_core.estimation_config import WEIGHT_SHARING
from nas_core.isolation import IsolatedTrainer, spawn_without_parent_main

# Seconds to wait for the early server; ours, not Prefect's (its own temporary server waits
# PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, 20 s unless flows/runtime/environment.py's default applies).
SERVER_START_TIMEOUT = 90.0

# The early server's CPU priority (a nice value): lower than the stage and its training workers.
SERVER_NICENESS = 10

_started_trainers: list[IsolatedTrainer] = []
_early_servers: list[EarlyServer] = []


def start_search_early(argv: list[str]) -> None:
    """For `python -m flows.search`: start the workers and the Prefect server if params.yaml is readable.

    A params file that does not load starts nothing: `run_stage` then reports the problem.
    """
    from flows.io.params import load_params  # flows.io.params imports only yaml and nas_core

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    known, _ = parser.parse_known_args(argv)
    try:
        cfg = load_params(known.params)
    except Exception:
        return
    spawn_without_parent_main()
    start_for(cfg)


def start_for(cfg: NasConfig) -> None:
    """Start what a search with `cfg` will need, if it runs its candidates on local threads."""
    if cfg.search.executor != "threads" or cfg.search.estimation in WEIGHT_SHARING:
        return
    start_trainer_early(cfg.search)
    start_prefect_server_early()


def start_trainer_early(cfg: SearchConfig) -> None:
    """Start the training workers now; `take_trainer` in the flow picks them up."""
    if cfg.executor == "threads" and not _started_trainers:
        trainer = IsolatedTrainer(*_trainer_args(cfg))
        trainer.warm_up()
        _started_trainers.append(trainer)


def _trainer_args(cfg: SearchConfig) -> tuple[int, int, int | None]:
    """A full-training search trains each of its `max_candidates` at most once; multi-fidelity trains again."""
    return cfg.parallelism, cfg.recycle_after, cfg.max_candidates if cfg.estimation == "full" else None


def waiting_trainer(cfg: SearchConfig) -> IsolatedTrainer | None:
    """The workers `start_trainer_early` started for `cfg`, left in place for `take_trainer`."""
    return next((t for t in _started_trainers if cfg.executor == "threads" and _fits(t, cfg)), None)


def _fits(trainer: IsolatedTrainer, cfg: SearchConfig) -> bool:
    return (trainer.parallelism, trainer.recycle_after, trainer.max_trainings) == _trainer_args(cfg)


def take_trainer(cfg: SearchConfig) -> IsolatedTrainer | None:
    """The workers that `start_trainer_early` started, or new ones; `None` on Dask (its workers train)."""
    if cfg.executor != "threads":
        return None
    for trainer in list(_started_trainers):
        _started_trainers.remove(trainer)
        if _fits(trainer, cfg):
            return trainer
        trainer.close()
    trainer = IsolatedTrainer(*_trainer_args(cfg))
    trainer.warm_up()  # the workers import TensorFlow while tracking is set up
    return trainer


def close_started_trainers() -> None:
    while _started_trainers:
        _started_trainers.pop().close()


class EarlyServer:
    """Prefect's temporary API server as a subprocess on a free local port, logging to PREFECT_HOME."""

    def __init__(self, home: Path | None = None) -> None:
        """`home`: the server's PREFECT_HOME (its database and log); default: the environment's."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.api_url = f"http://127.0.0.1:{port}/api"
        own_home = home or Path(os.environ.get("PREFECT_HOME", ".prefect"))
        own_home.mkdir(parents=True, exist_ok=True)
        self.log_path = own_home / "temporary-server.log"
        spec = importlib.util.find_spec("prefect")  # finds Prefect without importing it
        app_dir = str(Path(spec.origin).parent.parent) if spec is not None and spec.origin else "."
        command = [sys.executable, "-m", "uvicorn", "--app-dir", app_dir, "--factory"]
        command += ["prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port)]
        command += ["--log-level", "error", "--lifespan", "on"]
        # The environment Prefect gives its own temporary server: no UI, ephemeral-mode services.
        env = os.environ | {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
        if home is not None:
            env["PREFECT_HOME"] = str(home)
        env.pop("PREFECT_API_URL", None)
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        with contextlib.suppress(AttributeError, OSError):  # no setpriority on Windows
            # Below the stage and its workers: they are busy only at start-up, when they should go first;
            # later the server gets what training leaves (at parallelism 1, a whole core).
            os.setpriority(os.PRIO_PROCESS, self.process.pid, SERVER_NICENESS)

    def wait_until_healthy(self, timeout: float = SERVER_START_TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return True
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_prefect_server_early() -> None:
    """Start the server unless PREFECT_API_URL already names one (a profile is checked later)."""
    if os.environ.get("PREFECT_API_URL") or _early_servers:
        return
    server = EarlyServer()
    _early_servers.append(server)
    # Registered before Prefect is imported, so it runs after Prefect's own exit handlers have
    # flushed their logs and events to this server.
    atexit.register(server.stop)


@contextlib.contextmanager
def use_early_prefect_server() -> Iterator[None]:
    """Point Prefect at the early server while the flow runs, if Prefect has none configured.

    If the early server failed to start, Prefect starts its own temporary server as usual.
    """
    if not _early_servers:
        yield
        return
    from flows.runtime.prefect_server import configured_api_url, using_api

    server = _early_servers.pop()
    if configured_api_url() is not None or not server.wait_until_healthy():
        server.stop()
        yield
        return
    with using_api(server.api_url):
        yield
