"""Telling someone that a night failed: one JSON POST to `schedule.notify.webhook`.

A nightly run fails while nobody watches, so the pipeline flow's failure and crash hooks post a
short message (docs/operations/nightly.md#when-a-night-fails). The post is best effort: a webhook
that does not answer is logged as a warning and never raises, because the hook must not hide or
replace the night's own error.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun, State

WEBHOOK_TIMEOUT_SECONDS = 10.0  # a crashing process has little time left, and a night's log must not hang on a post
EVENT = "nas.night_failed"

Logger = logging.Logger | logging.LoggerAdapter[Any]
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NightFailure:
    """What went wrong on a night, in the words a person reading a chat message needs."""

    flow_run_name: str
    flow_run_id: str
    state: str  # Failed | Crashed
    error: str
    params_path: str
    time: datetime

    @classmethod
    def from_hook(cls, flow_run: FlowRun, state: State) -> NightFailure:
        """The facts a Prefect state hook is handed: the run, its final state, and its parameters."""
        return cls(
            flow_run_name=flow_run.name,
            flow_run_id=str(flow_run.id),
            state=state.name or state.type.value.title(),
            error=error_line(state),
            params_path=str(flow_run.parameters.get("params_path", "params.yaml")),
            time=(state.timestamp or datetime.now(UTC)).astimezone(UTC),
        )

    def body(self) -> dict[str, str]:
        """The JSON posted; `text` is what Slack-, Mattermost- and Discord-style webhooks display."""
        return {
            "event": EVENT,
            "text": f"NAS night {self.flow_run_name} {self.state}: {self.error}",
            "flow_run_name": self.flow_run_name,
            "flow_run_id": self.flow_run_id,
            "state": self.state,
            "error": self.error,
            "params_path": self.params_path,
            "time": self.time.isoformat(),
        }


def error_line(state: State) -> str:
    """The exception as one line (`NasError: data.path: ... does not exist`), else the state's message.

    The exception is what the flow raised, so it says what to fix; Prefect's message wraps it in
    words of its own, and is all there is when the process crashed without one.
    """
    try:
        error = state.result(raise_on_failure=False)
    except Exception:  # a result that cannot be read back must not stop the notice
        error = None
    if isinstance(error, BaseException) and str(error):
        lines = str(error).strip().splitlines() or [""]
        return f"{type(error).__name__}: {lines[0]}"
    return state.message or state.name or "unknown error"


def post_json(url: str, body: Mapping[str, Any], timeout: float = WEBHOOK_TIMEOUT_SECONDS, log: Logger = _log) -> bool:
    """POST `body` as JSON to `url`; True if it answered 2xx. Every failure is a warning, never an exception."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json", "User-Agent": "nas-pipeline"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as error:
        status = error.code
    except Exception as error:  # unreachable, refused, timed out, bad TLS: the night's own error matters more
        reason = getattr(error, "reason", error)
        log.warning("webhook %s did not take the failure notice: %s: %s", where(url), type(error).__name__, reason)
        return False
    if not 200 <= status < 300:
        log.warning("webhook %s answered HTTP %s: the failure notice was not accepted", where(url), status)
        return False
    return True


def where(url: str) -> str:
    """The webhook's scheme, host and port only: its path often is the secret (Slack, Teams), and logs are kept."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/..."  # no user:password@ either


def notify_night_failed(webhook: str | None, failure: NightFailure, log: Logger = _log) -> bool:
    """Post the notice if a webhook is set; False when none is set or it was not delivered."""
    if webhook is None:
        log.info("schedule.notify.webhook is not set: nobody is told that the night failed")
        return False
    delivered = post_json(webhook, failure.body(), log=log)
    if delivered:
        log.info("told %s that the night failed", where(webhook))
    return delivered
