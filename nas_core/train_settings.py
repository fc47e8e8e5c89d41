"""How one candidate trains: a plain, picklable copy of params.yaml `train`.

The learning-rate schedule is part of the recipe: the winner's retrain repeats it epoch for
epoch (nas_core/retraining.py), so the model scored on test is trained the way it was ranked.

Kept apart from nas_core.training so that the search process, which only schedules and
tracks, never has to import TensorFlow: the workers train, not the search process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nas_core.config import NasConfig


@dataclass(frozen=True)
class TrainSettings:
    """The knobs of one training run (a plain copy of params.yaml `train`, picklable)."""

    epochs: int = 20
    patience: int = 3
    batch_size: int = 32
    learning_rate: float = 1e-3
    schedule: str = "cosine"  # cosine: the rate decays to zero over `schedule_epochs`; constant: it stays
    schedule_epochs: int | None = None  # the epochs the cosine spans (None: `epochs`); a rung trains fewer
    latency_batch: int = 0  # > 0: after training, time predictions on a batch this big (CandidateResult.latency_ms)


def retrain_settings(cfg: NasConfig, best_epoch: int | None) -> TrainSettings:
    """The retrain recipe of a candidate: the search's, schedule included, stopped at the epoch it kept.

    With `retrain.epochs` set, the schedule spans those epochs instead and the retrain runs all of
    them. The re-evaluation of the top candidates and the winner's retrain use this same recipe, so
    a winner's re-evaluation score is its promotion score.
    """
    epochs = cfg.retrain.epochs or best_epoch or cfg.schedule_epochs
    return TrainSettings(
        epochs=int(epochs),
        batch_size=cfg.train.batch_size,
        learning_rate=cfg.train.learning_rate,
        schedule=cfg.train.schedule,
        schedule_epochs=cfg.retrain.epochs or cfg.schedule_epochs,
    )
