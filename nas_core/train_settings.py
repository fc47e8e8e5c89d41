"""How one candidate trains: a plain, picklable copy of params.yaml `train`.

The learning-rate schedule is part of the recipe: the winner's retrain repeats it epoch for
epoch (nas_core/retraining.py), so the model scored on test is trained the way it was ranked.

Kept apart from nas_core.training so that the search process, which only schedules and
tracks, never has to import TensorFlow: the workers train, not the search process.
"""

from __future__ import annotations

from dataclasses import dataclass


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
