"""The record of one evaluated candidate: plain, frozen, picklable, JSON-able.

It crosses process boundaries (worker pool, Dask) and is what the tracker logs, so it holds
numbers and strings only, never a model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

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

    @property
    def ok(self) -> bool:
        return self.status == COMPLETED

    @property
    def score(self) -> float | None:
        """What the strategy maximises; `None` for a failed candidate."""
        if not self.ok or self.val_accuracy is None or math.isnan(self.val_accuracy):
            return None
        return self.val_accuracy

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CandidateResult:
        return cls(**data)


def failed(key: str, architecture: dict[str, Any], error: str, index: int = -1, **extra: Any) -> CandidateResult:
    """A FAILED record; the search goes on."""
    return CandidateResult(key=key, architecture=dict(architecture), status=FAILED, error=error, index=index, **extra)
