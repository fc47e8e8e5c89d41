"""Train and score one candidate; every failure becomes a FAILED record, never an exception."""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from nas_core.architecture import InfeasibleArchitecture
from nas_core.builder import build_model, model_summary
from nas_core.results import COMPLETED, CandidateResult, failed
from nas_core.train_settings import TrainSettings


@dataclass(frozen=True)
class Arrays:
    """Train and validation arrays for one candidate."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_val.max())) + 1


class NanGuard(keras.callbacks.Callback):
    """Stops at the first NaN or inf loss and remembers the epoch (TerminateOnNaN forgets it)."""

    def __init__(self) -> None:
        super().__init__()
        self.bad_epoch: int | None = None

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.bad_epoch = epoch + 1
            self.model.stop_training = True


def learning_rate(settings: TrainSettings, examples: int) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """Adam's rate for `settings`: constant, or a cosine from `learning_rate` to zero over `schedule_epochs` epochs
    of `examples` examples. Per epoch the curve is the same on any data size, so a retrain on train+val
    reaches the rate of epoch k at its own epoch k."""
    if settings.schedule == "constant":
        return settings.learning_rate
    steps = (settings.schedule_epochs or settings.epochs) * math.ceil(examples / settings.batch_size)
    return keras.optimizers.schedules.CosineDecay(settings.learning_rate, decay_steps=max(1, steps))


def compile_model(model: keras.Model, learning_rate: float | keras.optimizers.schedules.LearningRateSchedule) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def train_candidate(
    arch: Mapping[str, Any],
    data: Arrays,
    settings: TrainSettings,
    seed: int,
    key: str = "",
    index: int = -1,
    *,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    initial_epoch: int = 0,
    resume_from: str | None = None,
    save_to: str | None = None,
) -> CandidateResult:
    """Train `arch` with Adam (`settings.schedule`) and early stopping on val loss; return its record.

    Exceptions, impossible shapes and NaN losses come back as FAILED records with the reason.
    Multi-fidelity training resumes: `resume_from` loads a saved model (weights and optimizer
    state) and training goes on from `initial_epoch` up to `settings.epochs`; `save_to` saves
    the model after training. A callback with a true `stopped_early` attribute (median stopping)
    marks the result `stopped_early`; `epochs_run` counts every epoch, the resumed ones included.
    """
    start = time.perf_counter()
    arch = dict(arch)
    try:
        keras.utils.set_random_seed(seed)
        if resume_from:
            model = keras.models.load_model(resume_from)
        else:
            model = build_model(arch, data.input_shape, data.num_classes)
            compile_model(model, learning_rate(settings, len(data.y_train)))
        params = int(model.count_params())
        summary = model_summary(model)
        guard = NanGuard()
        stopper = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=settings.patience, restore_best_weights=True
        )
        fit = model.fit(
            data.x_train,
            data.y_train,
            validation_data=(data.x_val, data.y_val),
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            callbacks=[guard, stopper, *callbacks],
            initial_epoch=initial_epoch,
            verbose=0,
        )
        history = {k: [float(v) for v in values] for k, values in fit.history.items()}
        epochs_run = initial_epoch + len(history.get("loss", []))
        seconds = time.perf_counter() - start
        if guard.bad_epoch is not None:
            return failed(
                key,
                arch,
                f"loss became NaN/inf at epoch {guard.bad_epoch}",
                index,
                params=params,
                history=history,
                train_seconds=seconds,
                epochs_run=epochs_run,
            )
        scores = restored_scores(history, stopper.best_epoch - initial_epoch)
        if scores is None:  # no epoch was scored on val (none ran): score the weights as they are
            scores = model.evaluate(data.x_val, data.y_val, batch_size=256, verbose=0)
        val_loss, val_accuracy = scores
        if save_to:
            Path(save_to).parent.mkdir(parents=True, exist_ok=True)
            model.save(save_to)
        return CandidateResult(
            key=key,
            architecture=arch,
            status=COMPLETED,
            val_accuracy=float(val_accuracy),
            val_loss=float(val_loss),
            params=params,
            train_seconds=seconds,
            epochs_run=epochs_run,
            history=history,
            summary=summary,
            index=index,
            stopped_early=any(getattr(callback, "stopped_early", False) for callback in callbacks),
            latency_ms=measure_latency(model, data.x_val, settings.latency_batch) if settings.latency_batch else None,
            val_examples=len(data.y_val),
        )
    except InfeasibleArchitecture as error:
        return failed(key, arch, f"infeasible architecture: {error}", index)
    except Exception as error:  # a candidate's crash is a result, not the end of the search
        last = traceback.format_exception_only(type(error), error)[-1].strip()
        return failed(key, arch, last, index, train_seconds=time.perf_counter() - start)
    finally:
        # With its gc.collect(): cheap in a pool worker, which froze its imports (nas_core.isolation).
        keras.backend.clear_session()


def restored_scores(history: Mapping[str, Sequence[float]], best: int) -> tuple[float, float] | None:
    """Val loss and accuracy of the weights early stopping restored: those of epoch `best` (0-based).

    Fit already scored them on val at the end of that epoch; evaluating them again costs a
    pass over val and a new test function (~0.1 s per candidate) for the same numbers.
    """
    losses, accuracies = history.get("val_loss", []), history.get("val_accuracy", [])
    if not 0 <= best < min(len(losses), len(accuracies)):
        return None
    return float(losses[best]), float(accuracies[best])


def measure_latency(model: keras.Model, x: np.ndarray, batch: int, repeats: int = 15) -> float:
    """Median milliseconds to predict one batch of `batch` examples, after a warm-up call that traces.

    The median of many calls resists the noise of a busy machine; parallel trainings still share
    the cores, so compare latencies within one search rather than across machines.
    """
    inputs = np.resize(x, (batch, *x.shape[1:])).astype(x.dtype)  # repeats examples if val has fewer
    model.predict_on_batch(inputs)
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        model.predict_on_batch(inputs)
        times.append(time.perf_counter() - began)
    return float(np.median(times) * 1000.0)
