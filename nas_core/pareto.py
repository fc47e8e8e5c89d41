"""The Pareto front of accuracy (higher is better) against a cost such as parameter count (lower is better).

A candidate is on the front when no other candidate is at least as accurate and at most as
costly while strictly better on one of the two. The front is what a user picks from when the
single best score is not the whole story: every point on it is the most accurate model for its
size. Plain data in and out, so the search, the report and the tests share one definition.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from nas_core.results import CandidateResult


@dataclass(frozen=True)
class ParetoPoint:
    """One candidate as the front sees it."""

    index: int
    accuracy: float
    cost: float

    def dominates(self, other: ParetoPoint) -> bool:
        no_worse = self.accuracy >= other.accuracy and self.cost <= other.cost
        return no_worse and (self.accuracy > other.accuracy or self.cost < other.cost)


def pareto_front(points: Iterable[ParetoPoint]) -> list[ParetoPoint]:
    """The non-dominated points, cheapest first; of two identical points the earlier one is kept."""
    front: list[ParetoPoint] = []
    for point in sorted(points, key=lambda p: (p.cost, -p.accuracy, p.index)):
        # Sorted by cost, a point is on the front exactly when it beats every cheaper point's accuracy.
        if not front or point.accuracy > front[-1].accuracy:
            front.append(point)
    return front


def point_of(result: CandidateResult) -> ParetoPoint | None:
    """Accuracy against parameter count; `None` for a failed candidate (it is on no front)."""
    if result.score is None or result.params is None or result.val_accuracy is None:
        return None
    return ParetoPoint(result.index, float(result.val_accuracy), float(result.params))


def front_of(results: Iterable[CandidateResult]) -> list[ParetoPoint]:
    """The accuracy-against-parameters front of a search's results."""
    return pareto_front(p for r in results if (p := point_of(r)) is not None)


class ParetoFront:
    """The front kept up to date as results arrive during a search."""

    def __init__(self) -> None:
        self._front: list[ParetoPoint] = []

    def add(self, point: ParetoPoint | None) -> bool:
        """Add a point; True when it joined the front (possibly pushing others off)."""
        if point is None:
            return False
        self._front = pareto_front([*self._front, point])
        return point in self._front

    def add_result(self, result: CandidateResult) -> bool:
        return self.add(point_of(result))

    @property
    def points(self) -> list[ParetoPoint]:
        return list(self._front)

    def indices(self) -> list[int]:
        return [p.index for p in self._front]

    def to_list(self) -> list[dict[str, Any]]:
        return [asdict(p) for p in self._front]
