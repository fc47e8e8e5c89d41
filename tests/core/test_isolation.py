"""Training in recycled worker processes: results come back, a dying worker fails only its own candidate."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from nas_core.isolation import IsolatedTrainer, _workers
from nas_core.results import COMPLETED, FAILED
from nas_core.training import TrainSettings
from nas_core.worker import TrainRequest
from tests.conftest import write_digits_splits

ARCH = {
    "conv_blocks": 1,
    "filters_0": 4,
    "kernel_0": 3,
    "pool_0": "max",
    "skip_0": False,
    "dense_layers": 0,
    "activation": "relu",
    "padding": "same",
    "dropout": 0.0,
    "batch_norm": False,
}


class KillsTheWorker:
    """Unpickling this in a worker ends that process at once, like a segfault or the OOM killer."""

    def __reduce__(self) -> tuple:
        return (os._exit, (9,))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_digits_splits(tmp_path_factory.mktemp("prepared"), {"train": 300, "val": 100})


def request(data_dir: Path, index: int, settings: object = TrainSettings(epochs=1)) -> TrainRequest:
    return TrainRequest(
        key=f"k{index}", index=index, architecture=ARCH, data_dir=str(data_dir), settings=settings, seed=index
    )


def test_workers_train_and_are_recycled(data_dir: Path) -> None:
    with IsolatedTrainer(parallelism=2, recycle_after=1) as trainer:
        with ThreadPoolExecutor(2) as threads:
            results = list(threads.map(trainer.train, [request(data_dir, i) for i in range(3)]))
    assert [r.status for r in results] == [COMPLETED] * 3
    assert [r.index for r in results] == [0, 1, 2]
    assert all(r.val_accuracy is not None for r in results)


def test_a_dying_worker_fails_only_its_candidate(data_dir: Path) -> None:
    with IsolatedTrainer(parallelism=2, recycle_after=5) as trainer:
        with ThreadPoolExecutor(2) as threads:
            crash = threads.submit(trainer.train, request(data_dir, 0, settings=KillsTheWorker()))
            good = threads.submit(trainer.train, request(data_dir, 1))
            crashed, survived = crash.result(), good.result()
        after = trainer.train(request(data_dir, 2))
    assert crashed.status == FAILED
    assert "worker process" in (crashed.error or "") and "died" in (crashed.error or "")
    assert survived.status == COMPLETED
    assert after.status == COMPLETED


def test_missing_data_is_a_failed_candidate(tmp_path: Path) -> None:
    with IsolatedTrainer(parallelism=1) as trainer:
        result = trainer.train(request(tmp_path / "nowhere", 0))
    assert result.status == FAILED
    assert "could not load data" in (result.error or "")


def test_a_pool_retires_after_its_quota_and_its_successor_starts_during_the_last_candidate(data_dir: Path) -> None:
    with IsolatedTrainer(parallelism=1, recycle_after=2) as trainer:
        trainer.warm_up()
        first = trainer._pool
        first_workers = _workers(first)
        assert trainer.train(request(data_dir, 0)).status == COMPLETED
        assert trainer._next_pool is None, "a successor started before the pool's last candidate"
        assert trainer.train(request(data_dir, 1)).status == COMPLETED
        successor = trainer._next_pool  # started when the last candidate was submitted, not after it
        assert successor is not None and trainer._pool is None
        # psutil, not is_alive(): the executor's own thread may reap the worker first, and then
        # is_alive() of the Process object can still say True.
        assert len(first_workers) == 1 and not running(first_workers[0].pid), "the retired pool's worker still runs"
        assert trainer.train(request(data_dir, 2)).status == COMPLETED
        assert trainer._pool is successor
        successor_workers = _workers(successor)
        assert len(successor_workers) == 1 and successor_workers[0].is_alive()
    assert not running(successor_workers[0].pid), "close() left a worker running"


def test_no_successor_starts_when_the_search_has_no_candidates_left_for_it(data_dir: Path) -> None:
    """A budget of exactly one pool's quota: its last candidate starts no pool that nothing would use."""
    with IsolatedTrainer(parallelism=1, recycle_after=2, max_trainings=2) as trainer:
        assert [trainer.train(request(data_dir, i)).status for i in range(2)] == [COMPLETED] * 2
        assert trainer._pool is None and trainer._next_pool is None
        beyond = trainer.train(request(data_dir, 2))  # a wrong bound costs a cold start, not the candidate
    assert beyond.status == COMPLETED


def running(pid: int | None) -> bool:
    """Whether `pid` still runs (a zombie that nobody has reaped yet does not)."""
    try:
        process = psutil.Process(pid)
        process.wait(timeout=10)
    except psutil.NoSuchProcess:
        return False
    except psutil.TimeoutExpired:
        return True
    return False


def test_a_worker_freezes_its_imports_so_each_candidates_garbage_collection_is_short() -> None:
    """Keras's clear_session() collects garbage after every candidate; the imports are left out of it."""
    import gc

    before = gc.get_freeze_count()  # 0 on 3.11 and 3.13; CPython 3.12 starts with a few hundred
    with IsolatedTrainer(parallelism=1) as trainer:
        frozen = trainer._current_pool().submit(gc.get_freeze_count).result()
    assert frozen > 100_000  # TensorFlow and Keras: several hundred thousand objects
    assert gc.get_freeze_count() == before  # the flow's own process is left as it was
