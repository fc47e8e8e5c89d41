"""Cross-validation's bookkeeping: which fold each example is in, and one score from the folds' scores.

Plain numpy, so the search process (which never imports TensorFlow) can combine the fold scores
its workers return; the training of each fold is nas_core.retraining.score_fold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def stratified_folds(y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """A fold number per example, every class spread evenly over the folds (seeded)."""
    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {folds}")
    assignment = np.empty(len(y), dtype=np.int64)
    rng = np.random.default_rng(seed)
    offset = 0
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        assignment[members] = (np.arange(len(members)) + offset) % folds
        offset += len(members)  # so that small classes do not all start in fold 0
    return assignment


@dataclass(frozen=True)
class CrossValidation:
    """Held-out scores of one recipe over k folds: their mean, weighted by fold size, is the promotion score."""

    accuracy: float
    loss: float
    fold_accuracies: tuple[float, ...]
    examples: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "promotion_accuracy": self.accuracy,
            "promotion_loss": self.loss,
            "promotion_fold_accuracies": list(self.fold_accuracies),
            "promotion_examples": self.examples,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CrossValidation:
        """The inverse of `to_dict`."""
        return cls(
            accuracy=float(data["promotion_accuracy"]),
            loss=float(data["promotion_loss"]),
            fold_accuracies=tuple(float(a) for a in data["promotion_fold_accuracies"]),
            examples=int(data["promotion_examples"]),
        )


@dataclass(frozen=True)
class FoldScore:
    """One held-out fold of a cross-validation: the recipe trained on the other folds, scored on this one."""

    accuracy: float
    loss: float
    examples: int


def combine_folds(scores: Sequence[FoldScore]) -> CrossValidation:
    """The cross-validated score: the fold scores averaged, each weighted by its number of examples."""
    weights = [score.examples for score in scores]
    return CrossValidation(
        accuracy=float(np.average([score.accuracy for score in scores], weights=weights)),
        loss=float(np.average([score.loss for score in scores], weights=weights)),
        fold_accuracies=tuple(score.accuracy for score in scores),
        examples=int(sum(weights)),
    )
