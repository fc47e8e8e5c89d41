"""Train candidates in recycled worker processes, so memory stays flat and crashes stay contained.

Training many Keras models in one process grows its memory whatever `clear_session()` does;
a worker that is replaced every `recycle_after` candidates does not. A worker that dies (a
segfault, the OOM killer) fails only its own candidate: the pool is rebuilt and the search
goes on. Workers are spawned, and set TensorFlow's thread counts before their first op so
that parallel trainings share the cores instead of fighting over them.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, TypeVar

from nas_core.results import CandidateResult, failed
from nas_core.worker import (
    FoldRequest,
    Retrained,
    RetrainRequest,
    TrainRequest,
    _start_worker,
    retrain_request,
    score_fold_request,
    threads_per_worker,
    train_request,
)

if TYPE_CHECKING:
    from nas_core.cross_validation import FoldScore

Request = TypeVar("Request")
Result = TypeVar("Result")


class IsolatedTrainer:
    """Spawned worker pools, each replaced after `parallelism * recycle_after` candidates.

    The next pool starts while the current one trains its last round, so a recycle does not
    make the next candidate wait for a fresh worker to import TensorFlow (5-8 s on two cores,
    once every `recycle_after` candidates at parallelism 1). A retired pool's workers are
    terminated as soon as its last candidate is back. `max_trainings`, when the search knows
    it, bounds the candidates it will train: no successor starts that could never be used
    (a budget of 20 with `recycle_after` 10 would otherwise import TensorFlow once more,
    beside the last candidate, for nothing).
    One fold of a cross-validation (`score_fold`) or one retrain (`retrain`) counts as one candidate here.
    `threads` overrides TensorFlow's intra-op threads per worker (default: the cores shared out).
    """

    def __init__(
        self, parallelism: int, recycle_after: int = 10, max_trainings: int | None = None, threads: int | None = None
    ) -> None:
        self.parallelism = parallelism
        self.threads = threads or threads_per_worker(parallelism)  # TF's intra-op threads in each worker
        self.recycle_after = recycle_after
        self.max_trainings = max_trainings
        self._submitted = 0  # candidates submitted to any pool
        self._lock = threading.RLock()  # a done-callback may run at once, in the submitting thread
        self._pool: ProcessPoolExecutor | None = None
        self._next_pool: ProcessPoolExecutor | None = None  # warming up for when `_pool` retires
        self._served = 0  # candidates submitted to `_pool`
        self._running: dict[ProcessPoolExecutor, int] = {}  # candidates in flight, per pool
        self._retired: dict[ProcessPoolExecutor, list[BaseProcess]] = {}  # shut down, with their workers

    @property
    def _quota(self) -> int:
        return self.parallelism * self.recycle_after

    def _spawn_pool(self, workers: int) -> ProcessPoolExecutor:
        """Spawned workers (none inherits the parent's threads or state), TF sized for our parallelism."""
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.threads,),
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

    def _submit(
        self, work: Callable[[Request], Result], request: Request
    ) -> tuple[ProcessPoolExecutor, Future[Result]]:
        with self._lock:
            pool = self._current_pool()
            future = pool.submit(work, request)
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
        died = "the worker process training this candidate died (out of memory or a crash)"
        return self._run(train_request, request, lambda: failed(request.key, request.architecture, died, request.index))

    def score_fold(self, request: FoldRequest) -> FoldScore | str:
        """One fold of a candidate's cross-validation, in a worker, like `train`: its score, or why it failed."""
        return self._run(score_fold_request, request, lambda: "the worker process died (out of memory or a crash)")

    def retrain(self, request: RetrainRequest) -> Retrained:
        """One of the winner's retrains, in a worker; a worker that dies twice is an error, not a result."""

        def died() -> Retrained:
            raise RuntimeError("the worker process retraining the winner died (out of memory or a crash)")

        return self._run(retrain_request, request, died)

    def _run(self, work: Callable[[Request], Result], request: Request, on_death: Callable[[], Result]) -> Result:
        pool, future = self._submit(work, request)
        try:
            return future.result()
        except BrokenProcessPool:
            self._discard(pool)
        alone = self._spawn_pool(1)
        try:
            return alone.submit(work, request).result()
        except BrokenProcessPool:
            return on_death()
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
