"""A Prefect server for things that need a real one: schedules, and a database other than SQLite.

Prefect's ephemeral API (what a plain `python -m flows.search` uses) runs no scheduler, so a
cron would never fire. `prefect_api()` uses the server named by PREFECT_API_URL when one is set,
and otherwise starts `prefect server start` on 127.0.0.1 for as long as it is needed.
"""

from __future__ import annotations

import os
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
    with log_path.open("w") as log:
        # Its own session: a Ctrl-C in the terminal reaches only us, and the server outlives our
        # shutdown (a served runner still pauses its schedule) until we stop it below.
        process = subprocess.Popen(
            command, env=server_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout
        while not is_healthy(api_url):
            if process.poll() is not None:
                tail = log_path.read_text()[-2000:]
                raise NasError(f"the Prefect server on port {port} stopped at start (log {log_path}):\n{tail}")
            if time.monotonic() > deadline:
                raise NasError(
                    f"the Prefect server on port {port} did not answer within {timeout:.0f}s (log {log_path})"
                )
            time.sleep(0.5)
        yield api_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
