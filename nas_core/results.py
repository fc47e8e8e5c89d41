"""The record of one evaluated candidate: plain, frozen, picklable, JSON-able.

It crosses process boundaries (worker pool, Dask) and is what the tracker logs, so it holds
numbers and strings only, never a model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from nas_core.uncertainty import wilson_interval

COMPLETED = "COMPLETED"
FAILED = "FAILED"


@dataclass(frozen=True)
class CandidateResult:
    """What training one candidate produced, or why it failed."""

    key: str
    architecture: dict[str, Any]
    status: str
    val_accuracy: float | None = None
    val_loss: float | None = None
    params: int | None = None
    train_seconds: float = 0.0
    epochs_run: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)
    error: str | None = None
    summary: str | None = None
    index: int = -1
    stopped_early: bool = False  # cut short on purpose (median stopping, not promoted by Hyperband): score counts as is
    rung: int | None = None  # multi-fidelity: the last rung (0-based) the candidate reached
    latency_ms: float | None = None  # median time to predict one batch (search.latency_batch), when measured
    val_examples: int | None = None  # how many val examples the accuracy was measured on: its uncertainty
    # Re-scored by k-fold cross-validation of the retrain recipe on train+val (search.reevaluate_top_k), if it was:
    cv_accuracy: float | None = None
    cv_loss: float | None = None

    @property
    def val_interval(self) -> tuple[float, float] | None:
        """The 95% Wilson interval of the val accuracy, when it and its number of examples are known."""
        if self.val_accuracy is None or not self.val_examples or math.isnan(self.val_accuracy):
            return None
        return wilson_interval(self.val_accuracy, self.val_examples)

    @property
    def ok(self) -> bool:
        return self.status == COMPLETED

    @property
    def score(self) -> float | None:
        """What the strategy maximises; `None` for a failed candidate."""
        if not self.ok or self.val_accuracy is None or math.isnan(self.val_accuracy):
            return None
        return self.val_accuracy

    @property
    def best_epoch(self) -> int | None:
        """The epoch (1-based, from the first epoch ever trained) whose weights early stopping kept.

        The history may cover only the last epochs of `epochs_run` (a multi-fidelity candidate
        resumed from a checkpoint). `None` when no epoch was scored on val or a score is not finite.
        """
        losses = self.history.get("val_loss", [])
        if not losses or not all(math.isfinite(loss) for loss in losses):
            return None
        return self.epochs_run - len(losses) + losses.index(min(losses)) + 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CandidateResult:
        return cls(**data)


def failed(key: str, architecture: dict[str, Any], error: str, index: int = -1, **extra: Any) -> CandidateResult:
    """A FAILED record; the search goes on."""
    return CandidateResult(key=key, architecture=dict(architecture), status=FAILED, error=error, index=index, **extra)
