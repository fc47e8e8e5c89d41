"""What the strategy maximises: accuracy alone, or accuracy traded against size or speed.

    accuracy          score = val_accuracy
    accuracy_params   score = val_accuracy * (params / target) ** -weight
    accuracy_latency  score = val_accuracy * (latency_ms / target) ** -weight

The trade-offs are MnasNet's soft-constraint reward (Tan et al., 2019): with the default weight
0.07, a model twice the target's size (or time) must be about 5% more accurate to score the
same, and one at half the target gets about 5% extra credit. The score is monotone in both
accuracy and cost, so its best candidate is always on the Pareto front of the two. A failed
candidate scores `None`, which the strategy wrappers turn into the worst score seen.

The winner of a search is the candidate with the highest score among those trained (every one of
them satisfied `search.max_params`); ties go to the lower val loss, then to fewer parameters.
With `accuracy` that is the most accurate candidate under the constraints, and among candidates
that all reach val accuracy 1.0 the most confident one (`ranked_by`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from nas_core.errors import NasError
from nas_core.results import CandidateResult

OBJECTIVES = ("accuracy", "accuracy_params", "accuracy_latency")
DEFAULT_TARGETS = {"accuracy_params": 100_000.0, "accuracy_latency": 1.0}  # parameters; milliseconds per batch
MIN_COST = 1e-6  # a latency measured as 0 ms must not divide by zero

Score = Callable[[CandidateResult], float | None]


@dataclass(frozen=True)
class Objective:
    """A scalarisation of a candidate's result; call it on a result to get the strategy's score."""

    name: str = "accuracy"
    weight: float = 0.07
    target: float | None = None

    def __post_init__(self) -> None:
        if self.name not in OBJECTIVES:
            raise NasError(f"search.objective: unknown objective '{self.name}'; choose from {', '.join(OBJECTIVES)}")
        if self.weight < 0:
            raise NasError(f"search.objective_weight: must be >= 0, got {self.weight}")
        if self.target is not None and self.target <= 0:
            raise NasError(f"search.objective_target: must be > 0, got {self.target}")

    @property
    def reference(self) -> float | None:
        """The cost at which the score equals the accuracy (`target`, or the objective's default)."""
        if self.name == "accuracy":
            return None
        return self.target if self.target is not None else DEFAULT_TARGETS[self.name]

    @property
    def needs_latency(self) -> bool:
        return self.name == "accuracy_latency"

    def cost(self, result: CandidateResult) -> float | None:
        """The quantity traded against accuracy, or `None` when the objective has none (or it is unknown)."""
        if self.name == "accuracy_params":
            return None if result.params is None else float(result.params)
        if self.name == "accuracy_latency":
            return result.latency_ms
        return None

    def __call__(self, result: CandidateResult) -> float | None:
        accuracy = result.score
        if accuracy is None:
            return None
        return self.trade(accuracy, self.cost(result))

    def trade(self, accuracy: float, cost: float | None) -> float | None:
        """The score of `accuracy` at `cost` (parameters or ms, whichever this objective trades against).

        For scores that are not a trained candidate's, e.g. one-shot's inherited-weight accuracy of a path.
        """
        if self.name == "accuracy":
            return accuracy
        reference = self.reference
        if cost is None or reference is None:
            return None  # latency was not measured: the candidate cannot be ranked on this objective
        return float(accuracy * (max(cost, MIN_COST) / reference) ** -self.weight)

    def describe(self) -> str:
        if self.name == "accuracy":
            return "val accuracy"
        unit = "params" if self.name == "accuracy_params" else "ms"
        return f"val accuracy x (cost / {self.reference:g} {unit})^-{self.weight:g}"


def ranked_by(results: Iterable[CandidateResult], score: Score) -> list[CandidateResult]:
    """The candidates that scored, best first: the winner rule applied to all of them.

    Highest score first; among equal scores the lower val loss, a proper score that still ranks
    when val accuracy saturates (many candidates at 1.0 on a small val split); then fewer parameters.
    """
    scored = [(s, r) for r in results if (s := score(r)) is not None]
    scored.sort(key=lambda pair: (-pair[0], _loss(pair[1]), pair[1].params or 0))
    return [r for _, r in scored]


def _loss(result: CandidateResult) -> float:
    loss = result.val_loss
    return math.inf if loss is None or math.isnan(loss) else loss


def best_by(results: Iterable[CandidateResult], score: Score) -> CandidateResult | None:
    """The winner: the first of `ranked_by`; `None` if nothing scored."""
    ranked = ranked_by(results, score)
    return ranked[0] if ranked else None
