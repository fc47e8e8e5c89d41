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
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
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


_DATA_CACHE: dict[str, Any] = {}


def _configure_worker(threads: int) -> None:
    """Runs first in every worker: quiet logs and TF thread counts, before TF's first op."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))


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

    try:
        data = _load_arrays(request.data_dir)
    except Exception as error:
        return failed(request.key, request.architecture, f"could not load data: {error}", request.index)
    return train_candidate(
        request.architecture, data, request.settings, seed=request.seed, key=request.key, index=request.index
    )


def threads_per_worker(parallelism: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, parallelism))


class IsolatedTrainer:
    """A spawn-based process pool whose workers are recycled every `recycle_after` candidates."""

    def __init__(self, parallelism: int, recycle_after: int = 10) -> None:
        self.parallelism = parallelism
        self.recycle_after = recycle_after
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.parallelism,
                    mp_context=multiprocessing.get_context("spawn"),
                    max_tasks_per_child=self.recycle_after,
                    initializer=_configure_worker,
                    initargs=(threads_per_worker(self.parallelism),),
                )
            return self._pool

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
        pool = self._get_pool()
        try:
            return pool.submit(train_request, request).result()
        except BrokenProcessPool:
            self._discard(pool)
        alone = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_configure_worker,
            initargs=(threads_per_worker(self.parallelism),),
        )
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
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> IsolatedTrainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
