"""Prefect servers for more than one flow run: a whole `nas run`, schedules, a database other than SQLite.

A plain `python -m flows.<stage>` starts Prefect's own temporary API server and stops it at the
end. `temporary_server()` starts that same server once for a whole `dvc repro` (`nas run`, so
`make run`), so its stages do not each pay its start-up. Prefect's ephemeral API runs no
scheduler, so a cron would never fire: `prefect_api()` uses the server named by PREFECT_API_URL
when one is set, and otherwise starts `prefect server start` on 127.0.0.1 for as long as needed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from nas_core.errors import NasError

DEFAULT_PORT = 4200
TEMPORARY_SERVER_TIMEOUT = 120.0  # seconds; a first start (new database, cold disk cache) took 30 s on 2 cores


def configured_api_url() -> str | None:
    """PREFECT_API_URL from the environment or the active Prefect profile, if any."""
    from prefect.settings import PREFECT_API_URL

    value = PREFECT_API_URL.value()
    return str(value) if value else None


def is_healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=5) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@contextmanager
def running(
    command: list[str], env: Mapping[str, str], api_url: str, log_path: Path, timeout: float, own_session: bool = False
) -> Iterator[None]:
    """Run a server `command` (output to `log_path`) until `api_url` answers; stop it on leaving."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, env=dict(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=own_session
        )
    try:
        deadline = time.monotonic() + timeout
        while not is_healthy(api_url):
            if process.poll() is not None:
                tail = log_path.read_text()[-2000:]
                raise NasError(f"the Prefect server for {api_url} stopped at start (log {log_path}):\n{tail}")
            if time.monotonic() > deadline:
                raise NasError(
                    f"the Prefect server for {api_url} did not answer within {timeout:.0f}s (log {log_path})"
                )
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def start_prefect_server(
    port: int = DEFAULT_PORT, env: Mapping[str, str] | None = None, timeout: float = 180.0
) -> Iterator[str]:
    """`prefect server start` on 127.0.0.1:`port` (extra `env`, e.g. a database URL); yields its API URL."""
    api_url = f"http://127.0.0.1:{port}/api"
    home = Path(os.environ.get("PREFECT_HOME", ".prefect"))
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / f"server-{port}.log"
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    server_env = os.environ | {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"} | dict(env or {})
    server_env.pop("PREFECT_API_URL", None)  # the server must not try to talk to another one
    # Its own session: a Ctrl-C in the terminal reaches only us, and the server outlives our
    # shutdown (a served runner still pauses its schedule) until we stop it.
    with running(command, server_env, api_url, log_path, timeout, own_session=True):
        yield api_url


@contextmanager
def using_api(api_url: str) -> Iterator[str]:
    """Prefect, in this process and in the processes it starts, talks to `api_url` until the end."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    os.environ["PREFECT_API_URL"] = api_url  # for the flow-run processes a runner starts
    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            yield api_url
    finally:
        os.environ.pop("PREFECT_API_URL", None)


@contextmanager
def prefect_api(port: int = DEFAULT_PORT) -> Iterator[str]:
    """The configured Prefect server (it must answer); else one already on 127.0.0.1:`port`; else a new one."""
    configured = configured_api_url()
    if configured:
        if not is_healthy(configured):
            raise NasError(f"PREFECT_API_URL: no Prefect server answers at {configured}")
        yield configured
        return
    local = f"http://127.0.0.1:{port}/api"
    if is_healthy(local):
        with using_api(local):
            yield local
        return
    with start_prefect_server(port) as api_url, using_api(api_url):
        yield api_url


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def temporary_server(home: Path | None = None, timeout: float = TEMPORARY_SERVER_TIMEOUT) -> Iterator[str]:
    """Prefect's temporary API server (the uvicorn app its flows start for themselves) on a free local port.

    `home` is the server's PREFECT_HOME (its database and log), default the environment's.
    Yields the API URL; the server is stopped on leaving.
    """
    import prefect  # only to find its folder for uvicorn's --app-dir

    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    home = home or Path(os.environ.get("PREFECT_HOME", ".prefect"))
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "temporary-server.log"
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(prefect.__file__).parent.parent), "--factory"]
    command += ["prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--log-level", "error", "--lifespan", "on"]
    # What Prefect gives its own temporary server: no UI, ephemeral-mode services.
    env = os.environ | {"PREFECT_HOME": str(home), "PREFECT_UI_ENABLED": "0"}
    env |= {"PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    env.pop("PREFECT_API_URL", None)
    with running(command, env, api_url, log_path, timeout):
        yield api_url


@contextmanager
def shared_api() -> Iterator[str]:
    """For a command that runs several stage processes: the configured server, else one temporary server.

    The processes it starts see the server through PREFECT_API_URL.
    """
    configured = configured_api_url()
    if configured:
        yield configured
        return
    with temporary_server() as api_url:
        os.environ["PREFECT_API_URL"] = api_url
        try:
            yield api_url
        finally:
            os.environ.pop("PREFECT_API_URL", None)
