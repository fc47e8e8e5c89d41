"""What runs inside a training worker process: the requests it gets, TensorFlow's threads, and the training.

Kept apart from the pool (nas_core/isolation.py) so a Dask worker, which has no pool, runs the
same `train_request`. This module imports no Keras itself: a worker imports it when it trains.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas_core.results import CandidateResult, failed

if TYPE_CHECKING:
    from nas_core.cross_validation import FoldScore


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


@dataclass(frozen=True)
class FoldRequest:
    """One fold of one candidate's cross-validation on train+val (nas_core.retraining.score_fold)."""

    key: str
    architecture: dict[str, Any]
    data_dir: str
    settings: Any  # nas_core.train_settings.TrainSettings: the retrain recipe
    num_classes: int
    folds: int
    fold: int
    seed: int  # the folds and the weights depend on it: data.seed, as the promotion score's


@dataclass(frozen=True)
class RetrainRequest:
    """One of the winner's retrains on all of train+val (nas_core.retraining.fit_final_model), scored once on
    test and saved to `save_to`: the model comes back as a file, the scores as plain data."""

    architecture: dict[str, Any]
    data_dir: str
    settings: Any  # nas_core.train_settings.TrainSettings: the retrain recipe
    num_classes: int
    seed: int
    save_to: str


@dataclass(frozen=True)
class Retrained:
    """What a retrain sends back: its test scores, its curves, its size and where the model was saved."""

    seed: int
    test_accuracy: float
    test_loss: float
    history: dict[str, list[float]]
    params: int
    path: str
    test_examples: int


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


def _data_stamp(data_dir: str) -> str:
    """The prepared data's identity in the cache: its folder and when train.npz was written."""
    return f"{data_dir}:{os.path.getmtime(Path(data_dir) / 'train.npz')}"


def _load_arrays(data_dir: str) -> Any:
    """Read train/val once per worker process (a worker serves several candidates)."""
    from nas_core.prepared import load_split
    from nas_core.training import Arrays

    stamp = _data_stamp(data_dir)
    if stamp not in _DATA_CACHE:
        _DATA_CACHE.clear()  # new data: drop the old arrays and their train+val copy
        x_train, y_train = load_split(Path(data_dir) / "train.npz")
        x_val, y_val = load_split(Path(data_dir) / "val.npz")
        _DATA_CACHE[stamp] = Arrays(x_train, y_train, x_val, y_val)
    return _DATA_CACHE[stamp]


def _train_and_val(data_dir: str) -> tuple[Any, Any]:
    """Train and val as one set (the retrain's and the cross-validation's data), made once per worker.

    A worker scores several folds in a row; concatenating for each would copy all of train+val
    every time (about 200 MB for MNIST) for the garbage collector to find.
    """
    import numpy as np

    data = _load_arrays(data_dir)
    key = f"{_data_stamp(data_dir)}:train+val"
    if key not in _DATA_CACHE:
        _DATA_CACHE[key] = (np.concatenate([data.x_train, data.x_val]), np.concatenate([data.y_train, data.y_val]))
    return _DATA_CACHE[key]


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


def score_fold_request(request: FoldRequest) -> FoldScore | str:
    """Score one fold in this process; a `FoldScore`, or the error as text (a fold never raises)."""
    from nas_core.retraining import score_fold

    _configure_from_env()
    try:
        x, y = _train_and_val(request.data_dir)
        return score_fold(
            request.architecture, x, y, request.num_classes, request.settings, request.folds, request.fold, request.seed
        )
    except Exception as error:  # a fold that cannot train leaves its candidate un-re-scored, not the search broken
        return f"{type(error).__name__}: {error}"


def retrain_request(request: RetrainRequest) -> Retrained:
    """Retrain in this process, score on test, save; an error (a diverged recipe) is raised to the caller."""
    from nas_core.prepared import load_split
    from nas_core.retraining import fit_final_model

    _configure_from_env()
    x, y = _train_and_val(request.data_dir)
    x_test, y_test = load_split(Path(request.data_dir) / "test.npz")
    model, history = fit_final_model(request.architecture, x, y, request.num_classes, request.settings, request.seed)
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    model.save(request.save_to)
    params = int(model.count_params())
    return Retrained(request.seed, float(accuracy), float(loss), history, params, request.save_to, len(y_test))


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
