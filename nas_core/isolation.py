"""Train candidates in recycled worker processes, so memory stays flat and crashes stay contained.

Training many Keras models in one process grows its memory whatever `clear_session()` does;
a worker that is replaced every `recycle_after` candidates does not. A worker that dies (a
segfault, the OOM killer) fails only its own candidate: the pool is rebuilt and the search
goes on. Workers are spawned, and set TensorFlow's thread counts before their first op so
that parallel trainings share the cores instead of fighting over them.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from nas_core.results import CandidateResult, failed


@dataclass(frozen=True)
class TrainRequest:
    """Everything a worker needs, as small plain data: arrays travel as a path, not a payload."""

    key: str
    index: int
    architecture: dict[str, Any]
    data_dir: str
    settings: Any  # nas_core.training.TrainSettings (kept loose so this module imports no Keras)
    seed: int
    median_stop: Any = None  # nas_core.estimation.median_stop.MedianStopRule, with the earlier curves
    initial_epoch: int = 0  # multi-fidelity: resume `resume_from` at this epoch, save to `save_to`
    resume_from: str | None = None
    save_to: str | None = None


_DATA_CACHE: dict[str, Any] = {}
# A process without our pool initializer (a Dask worker) reads its TF thread count from here.
TF_THREADS_ENV = "NAS_TF_THREADS"
_threads_lock = threading.Lock()
_threads_configured = False


def _configure_worker(threads: int) -> None:
    """Runs first in every worker: quiet logs and TF thread counts, before TF's first op."""
    global _threads_configured
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
    _threads_configured = True


def _start_worker(threads: int) -> None:
    """A pool worker's initializer: TF thread counts, then Keras and our trainer imported and frozen.

    Frozen (`gc.freeze`), the objects of those imports are left out of every later garbage
    collection: Keras's `clear_session()` collects after each candidate, and over the whole
    TensorFlow heap that took ~0.3 s; over what one candidate left, ~0.05 s.
    """
    _configure_worker(threads)
    import nas_core.training  # noqa: F401  (Keras, the builder: what every candidate needs)

    gc.collect()
    gc.freeze()


def _configure_from_env() -> None:
    """Once per process, before its first training: size TF's threads from NAS_TF_THREADS when it is set.

    Pool workers were configured by their initializer already; a Dask worker was not, and without
    this two single-threaded Dask workers would each start a TF pool as large as the machine.
    """
    global _threads_configured
    with _threads_lock:
        if _threads_configured:
            return
        _threads_configured = True
        value = os.environ.get(TF_THREADS_ENV, "")
        if value.isdigit() and int(value) > 0:
            try:
                _configure_worker(int(value))
            except RuntimeError:
                pass  # TF already ran an op in this process; its thread counts can no longer change


def _load_arrays(data_dir: str) -> Any:
    """Read train/val once per worker process (a worker serves several candidates)."""
    from nas_core.data import load_split
    from nas_core.training import Arrays

    stamp = f"{data_dir}:{os.path.getmtime(Path(data_dir) / 'train.npz')}"
    if stamp not in _DATA_CACHE:
        _DATA_CACHE.clear()
        x_train, y_train = load_split(Path(data_dir) / "train.npz")
        x_val, y_val = load_split(Path(data_dir) / "val.npz")
        _DATA_CACHE[stamp] = Arrays(x_train, y_train, x_val, y_val)
    return _DATA_CACHE[stamp]


def train_request(request: TrainRequest) -> CandidateResult:
    """Train one candidate in this process (a pool worker, or a Dask worker)."""
    from nas_core.training import train_candidate

    _configure_from_env()
    try:
        data = _load_arrays(request.data_dir)
    except Exception as error:
        return failed(request.key, request.architecture, f"could not load data: {error}", request.index)
    callbacks: list[Any] = []
    if request.median_stop is not None:
        from nas_core.estimation.median_stop_callback import MedianStopCallback

        callbacks.append(MedianStopCallback(request.median_stop))
    return train_candidate(
        request.architecture,
        data,
        request.settings,
        seed=request.seed,
        key=request.key,
        index=request.index,
        callbacks=callbacks,
        initial_epoch=request.initial_epoch,
        resume_from=request.resume_from,
        save_to=request.save_to,
    )


def spawn_without_parent_main() -> None:
    """Let spawned workers skip re-running this program's `__main__` module.

    Under the 'spawn' start method a new process first re-imports the parent's main module, so
    that objects pickled from it resolve. For `python -m flows.search` that is a whole stage
    (Prefect, MLflow, ...): about 3 s and 200 MB in every worker, again at every recycle, before
    TensorFlow even starts to load. Workers run only `nas_core` code, so a stage's entry point
    calls this once, before it starts any worker.
    """
    main = sys.modules["__main__"]
    main.__spec__ = None
    if "__file__" in vars(main):
        del main.__file__


def threads_per_worker(parallelism: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, parallelism))


class IsolatedTrainer:
    """Spawned worker pools, each replaced after `parallelism * recycle_after` candidates.

    The next pool starts while the current one trains its last round, so a recycle does not
    make the next candidate wait for a fresh worker to import TensorFlow (5-8 s on two cores,
    once every `recycle_after` candidates at parallelism 1). A retired pool's workers are
    terminated as soon as its last candidate is back. `max_trainings`, when the search knows
    it, bounds the candidates it will train: no successor starts that could never be used
    (a budget of 20 with `recycle_after` 10 would otherwise import TensorFlow once more,
    beside the last candidate, for nothing).
    """

    def __init__(self, parallelism: int, recycle_after: int = 10, max_trainings: int | None = None) -> None:
        self.parallelism = parallelism
        self.recycle_after = recycle_after
        self.max_trainings = max_trainings
        self._submitted = 0  # candidates submitted to any pool
        self._lock = threading.RLock()  # a done-callback may run at once, in the submitting thread
        self._pool: ProcessPoolExecutor | None = None
        self._next_pool: ProcessPoolExecutor | None = None  # warming up for when `_pool` retires
        self._served = 0  # candidates submitted to `_pool`
        self._running: dict[ProcessPoolExecutor, int] = {}  # candidates in flight, per pool
        self._retired: dict[ProcessPoolExecutor, list[BaseProcess]] = {}  # shut down, with their workers
        self._prefetched: list[tuple[TrainRequest, ProcessPoolExecutor, Future[CandidateResult]]] = []
        self.taken_over = 0  # prefetched requests that a `train` call took over

    @property
    def _quota(self) -> int:
        return self.parallelism * self.recycle_after

    def _spawn_pool(self, workers: int) -> ProcessPoolExecutor:
        """Spawned workers (none inherits the parent's threads or state), TF sized for our parallelism."""
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(threads_per_worker(self.parallelism),),
        )

    def _start_pool(self) -> ProcessPoolExecutor:
        """A pool whose workers are spawned now, each importing TensorFlow in its initializer."""
        pool = self._spawn_pool(self.parallelism)
        for _ in range(self.parallelism):  # spawn workers start on demand: one submit each
            pool.submit(os.getpid)
        return pool

    def _current_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool, self._next_pool = self._next_pool or self._start_pool(), None
                self._served = 0
            return self._pool

    def warm_up(self) -> None:
        """Start the workers now (each imports TensorFlow), so that cost overlaps the search's own setup."""
        self._current_pool()

    def _submit(self, request: TrainRequest) -> tuple[ProcessPoolExecutor, Future[CandidateResult]]:
        with self._lock:
            pool = self._current_pool()
            future = pool.submit(train_request, request)
            self._served += 1
            self._submitted += 1
            self._running[pool] = self._running.get(pool, 0) + 1
            if self._served > self._quota - self.parallelism and self._next_pool is None and self._more_to_come():
                self._next_pool = self._start_pool()  # the last round: the successor imports TensorFlow meanwhile
            if self._served >= self._quota:
                self._pool = None
                self._retired[pool] = _workers(pool)  # taken first: shutdown() forgets them
                pool.shutdown(wait=False)
        future.add_done_callback(lambda _: self._candidate_done(pool))
        return pool, future

    def _more_to_come(self) -> bool:
        """Whether more candidates may come than the current pool has left to serve."""
        if self.max_trainings is None:
            return True
        return self.max_trainings - self._submitted > self._quota - self._served

    def prefetch(self, requests: list[TrainRequest]) -> None:
        """Start training `requests` now; a later `train` of an equal request takes over its result.

        For a search's first candidates, which are known before its orchestration is up. A
        request that is never asked for is trained for nothing, so give only certain ones.
        """
        for request in requests:
            pool, future = self._submit(request)
            with self._lock:
                self._prefetched.append((request, pool, future))

    def _take_prefetched(self, request: TrainRequest) -> tuple[ProcessPoolExecutor, Future[CandidateResult]] | None:
        with self._lock:
            for i, (started, pool, future) in enumerate(self._prefetched):
                if started == request:
                    del self._prefetched[i]
                    self.taken_over += 1
                    return pool, future
        return None

    def _candidate_done(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if pool not in self._running:  # close() came first
                return
            self._running[pool] -= 1
            workers = self._retired.pop(pool, None) if self._running[pool] == 0 else None
            if workers is not None:
                del self._running[pool]
        if workers is not None:
            _terminate(workers, join=False)  # exiting by itself, TensorFlow takes seconds of CPU

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=False)

    def train(self, request: TrainRequest) -> CandidateResult:
        """Train in a worker and wait; safe to call from several threads at once.

        When a worker dies, every candidate then running in the pool sees it. Each is retried
        alone in a one-off process, so only the candidate that really crashes is marked FAILED.
        """
        pool, future = self._take_prefetched(request) or self._submit(request)
        try:
            return future.result()
        except BrokenProcessPool:
            self._discard(pool)
        alone = self._spawn_pool(1)
        try:
            return alone.submit(train_request, request).result()
        except BrokenProcessPool:
            return failed(
                request.key,
                request.architecture,
                "the worker process training this candidate died (out of memory or a crash)",
                request.index,
            )
        finally:
            alone.shutdown(wait=False)

    def close(self) -> None:
        """Stop the workers now: a worker with TensorFlow loaded takes seconds to exit by itself.

        Workers hold nothing worth keeping between candidates, so they are terminated rather
        than asked to exit (about 6 s saved at the end of every search); a candidate still
        training when the search is interrupted is stopped with them.
        """
        with self._lock:
            workers = [w for workers in self._retired.values() for w in workers]
            for pool in (self._pool, self._next_pool):
                if pool is not None:
                    workers += _workers(pool)
                    pool.shutdown(wait=False, cancel_futures=True)
            self._pool, self._next_pool, self._retired = None, None, {}
            self._running.clear()
            self._prefetched.clear()
        _terminate(workers, join=True)

    def __enter__(self) -> IsolatedTrainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _workers(pool: ProcessPoolExecutor) -> list[BaseProcess]:
    return list((getattr(pool, "_processes", None) or {}).values())  # no public handle before 3.14


def _terminate(workers: list[BaseProcess], join: bool) -> None:
    for worker in workers:
        worker.terminate()
    if join:
        for worker in workers:
            worker.join(timeout=10)
