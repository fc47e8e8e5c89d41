"""Is the process running a search still alive? Needed before a search takes up an unfinished one.

On the same host the process table answers exactly (host, pid and start time are in the parent
run's owner tag); a search on another host refreshes a heartbeat tag instead.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import psutil
from mlflow.entities import Run

from flows.tracking.schema import HEARTBEAT_TAG, OWNER_TAG
from flows.tracking.tracker import MlflowTracker

HEARTBEAT_SECONDS = 30.0
STALE_AFTER_SECONDS = 300.0  # a search on another host with no heartbeat for this long is taken as dead


def owner_tag() -> str:
    """Who runs a search: host, pid and process start time (so a reused pid is not mistaken for it)."""
    me = psutil.Process()
    return json.dumps({"host": socket.gethostname(), "pid": me.pid, "started": me.create_time()})


def owner_alive(run: Run, now: float | None = None) -> bool:
    """Is the process that owns this RUNNING parent run still there?

    On this host the process table answers exactly. For another host the heartbeat tag does:
    alive while it was refreshed within `STALE_AFTER_SECONDS`.
    """
    try:
        owner = json.loads(run.data.tags.get(OWNER_TAG, ""))
    except json.JSONDecodeError:
        owner = None
    if isinstance(owner, dict) and owner.get("host") == socket.gethostname():
        try:
            process = psutil.Process(int(owner["pid"]))
            return abs(process.create_time() - float(owner["started"])) < 1.0
        except (psutil.Error, KeyError, TypeError, ValueError):
            return False
    beat = run.data.tags.get(HEARTBEAT_TAG)
    if beat is None:
        return False
    return (now or time.time()) - float(beat) < STALE_AFTER_SECONDS


def start_heartbeat(tracker: MlflowTracker, parent_id: str, every: float = HEARTBEAT_SECONDS) -> threading.Thread:
    """Refresh the parent's heartbeat tag until the run ends, so another host can tell a live search from a dead one."""

    def beat() -> None:
        while True:
            try:
                if tracker.client.get_run(parent_id).info.status != "RUNNING":
                    return
                tracker.client.set_tag(parent_id, HEARTBEAT_TAG, f"{time.time():.0f}")
            except Exception:
                return  # the store is gone or busy for good: the pid check still covers this host
            time.sleep(every)

    thread = threading.Thread(target=beat, name=f"heartbeat-{parent_id[:8]}", daemon=True)
    thread.start()
    return thread
