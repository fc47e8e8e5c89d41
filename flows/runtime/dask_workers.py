"""What a search installs on its Dask workers: the prepared data, and the recycling that keeps their memory flat.

Both are Dask worker plugins, registered through the scheduler, so every worker gets them, and
so does every worker that joins or restarts later:
- `PreparedData` carries the bytes of train.npz and val.npz and writes them to the worker's
  own local directory. A worker on another host reads nothing from the flow's disk. The scheduler
  keeps one copy for workers that join later, so no worker's death loses the data (a scattered
  array lives only on workers, and a one-worker cluster loses it at every restart). The choice is
  measured in BENCHMARKS.md ("The data on a cluster").
- `RecycleAfter` restarts a worker through its nanny after `search.recycle_after` trainings,
  as the thread executor recycles its worker processes: many Keras models in one process grow its
  memory whatever `clear_session()` does. The restart is graceful: the scheduler first moves the
  worker's finished results to another worker, and a task it had not finished is run again elsewhere.

A candidate's request names the data by `SHARED_PREFIX` + content hash; `on_this_worker` turns that
name into the local folder, so nas_core's worker code reads a folder as it does on one machine.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from distributed import Client, Status, WorkerPlugin, get_worker

from nas_core.worker import FoldRequest, TrainRequest

if TYPE_CHECKING:
    from distributed import Worker

SHARED_PREFIX = "dask-shared:"
DATA_PLUGIN = "nas-prepared-data-"  # + content hash: two searches on other data do not replace each other's
RECYCLE_PLUGIN = "nas-recycle-workers"
SPLITS = ("train", "val")  # what candidates and folds read; test is read only by the retrain, on the flow's machine

Request = TypeVar("Request", TrainRequest, FoldRequest)


class PreparedData(WorkerPlugin):
    """train.npz and val.npz as bytes, written to `<worker local directory>/nas-data/<hash>/` on setup."""

    def __init__(self, content_hash: str, files: dict[str, bytes]) -> None:
        self.content_hash = content_hash
        self.files = files
        self.folder: Path | None = None

    def setup(self, worker: Worker) -> None:
        folder = Path(worker.local_directory) / "nas-data" / self.content_hash
        folder.mkdir(parents=True, exist_ok=True)
        for name, blob in self.files.items():
            partial = folder / f".{name}.partial"
            partial.write_bytes(blob)
            partial.replace(folder / name)  # a reader never sees half a file
        self.folder = folder
        self.files = {}  # on disk now: the worker keeps no second copy in memory

    def teardown(self, worker: Worker) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


class RecycleAfter(WorkerPlugin):
    """Restart this worker through its nanny after `trainings` finished tasks (each task here is one training).

    The worker first pauses (it starts no new task; the scheduler sends them elsewhere), then waits
    until it trains nothing and, for a few seconds, until the flow has collected its results: a
    restart then neither cuts a training short nor makes the scheduler compute a result again.
    """

    idempotent = False  # a new search's setting replaces the last one's
    # Seconds to wait, once idle, for the flow to collect this worker's results. After that the
    # restart goes on: the scheduler moves the results to another worker first, and a task
    # already sent here and not started goes elsewhere (the flow may hold results it reads later).
    patience = 10.0

    def __init__(self, trainings: int) -> None:
        self.trainings = trainings
        self.finished = 0
        self.worker: Worker | None = None

    def setup(self, worker: Worker) -> None:
        self.worker = worker
        self.finished = 0

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if start != "executing" or finish != "memory" or self.worker is None:
            return
        self.finished += 1
        if self.finished == self.trainings:  # not from inside this state transition: on the worker's loop
            self.worker.loop.add_callback(self._restart_when_idle, self.worker)

    async def _restart_when_idle(self, worker: Worker) -> None:
        if worker.status != Status.running:
            return  # already closing (or paused for memory: Dask's own handling goes first)
        # Dask's memory monitor resumes a paused worker whose memory is low; this one is about to restart anyway.
        worker.memory_manager.memory_pause_fraction = False
        worker.status = Status.paused
        while worker.state.executing:  # a training is never cut short
            await asyncio.sleep(0.1)
        deadline = time.monotonic() + self.patience
        while worker.data and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        reason = f"nas: recycled after {self.trainings} trainings (search.recycle_after)"
        await worker.close_gracefully(restart=True, reason=reason)


def shared_name(content_hash: str) -> str:
    return SHARED_PREFIX + content_hash


@contextmanager
def install_on_workers(client: Client, data_dir: Path, content_hash: str, recycle_after: int) -> Iterator[str]:
    """Send the prepared data to every worker and recycle them; yields the name requests give as their data.

    Both plugins are removed at the end, so the scheduler and the workers let go of the data.
    """
    data_plugin = DATA_PLUGIN + content_hash
    files = {f"{split}.npz": (data_dir / f"{split}.npz").read_bytes() for split in SPLITS}
    client.register_plugin(PreparedData(content_hash, files), name=data_plugin)
    del files  # the scheduler has its copy: this process keeps none for the whole search
    client.register_plugin(RecycleAfter(recycle_after), name=RECYCLE_PLUGIN)
    try:
        yield shared_name(content_hash)
    finally:
        for name in (RECYCLE_PLUGIN, data_plugin):
            try:
                client.unregister_worker_plugin(name)
            except Exception:  # the cluster is gone (the search failed because of it): nothing left to remove
                pass


def on_this_worker(request: Request) -> Request:
    """The request with its shared data's name replaced by this Dask worker's local copy of it."""
    if not request.data_dir.startswith(SHARED_PREFIX):
        return request
    plugin = get_worker().plugins.get(DATA_PLUGIN + request.data_dir.removeprefix(SHARED_PREFIX))
    if not isinstance(plugin, PreparedData) or plugin.folder is None:
        raise RuntimeError(f"this Dask worker has no copy of the prepared data {request.data_dir} (search stopped?)")
    return replace(request, data_dir=str(plugin.folder))
