"""`mlflow models serve` for one model, started so that it works whatever PATH holds.

With `--env-manager local`, MLflow starts its scoring server as `bash -c "exec uvicorn ..."`, so
`uvicorn` must be on PATH: from a shell without the venv activated it exits with code 127. Here
MLflow runs as `python -m mlflow` of this interpreter, with this interpreter's scripts folder
(the venv's `bin`, where `uvicorn` is) put first on the child's PATH.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from nas_core.errors import NasError

READY_TIMEOUT = 180.0  # seconds; loading TensorFlow and the model took 17 s on a busy 2-core machine


def serve_command(model_uri: str, host: str, port: int) -> list[str]:
    """The same command a user types, run by this Python, so no `mlflow` on PATH is needed either."""
    serve = ["models", "serve", "-m", model_uri, "--env-manager", "local", "--host", host, "--port", str(port)]
    return [sys.executable, "-m", "mlflow", *serve]


def scripts_dir() -> Path:
    """Where this interpreter's environment installs its commands (`uvicorn` among them)."""
    return Path(sysconfig.get_path("scripts"))


def serve_env(tracking_uri: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this environment) with the scripts folder first on PATH and the tracking store set."""
    env = dict(os.environ if base is None else base)
    path = env.get("PATH", "")
    env["PATH"] = os.pathsep.join([str(scripts_dir()), *([path] if path else [])])
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    env.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one download, no bar in the server's log
    return env


def check_port_free(host: str, port: int) -> None:
    """Fail before loading anything: uvicorn would only say so after the model is loaded."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise NasError(f"--port: cannot listen on {host}:{port} ({error.strerror or error})") from None


def base_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{shown}:{port}"


def is_serving(url: str) -> bool:
    """The scoring server's health check, `GET /ping`, answers 200 once the model is loaded."""
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=5) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float = READY_TIMEOUT) -> None:
    """Return once `url` answers /ping; an error if the server exits first or takes longer than `timeout`."""
    deadline = time.monotonic() + timeout
    while not is_serving(url):
        code = process.poll()
        if code is not None:
            raise NasError(f"mlflow models serve stopped with exit code {code} before {url} answered (see above)")
        if time.monotonic() > deadline:
            raise NasError(f"mlflow models serve did not answer on {url}/ping within {timeout:.0f}s")
        time.sleep(0.5)


def stop(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL; MLflow passes the signal on to its uvicorn child (PR_SET_PDEATHSIG)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
