"""Grid search: every architecture of a small space exactly once, in a fixed order.

Worth having next to the clever strategies: on a space of a few dozen models it is the cheapest
way to be sure, and its order does not depend on the seed, so two runs are trivially comparable.
"""

from __future__ import annotations

from typing import Any

from nas_core.space import Sample, SearchSpace
from nas_core.strategies.base import Strategy
from nas_core.strategies.registry import register


@register("grid")
class GridSearch(Strategy):
    """Walks the product of all choices (last dimension fastest) and returns [] once done.

    A combination is proposed only if each of its inactive dimensions holds its first choice,
    so every architecture (canonical sample) comes exactly once, with no set of seen keys.
    """

    uses_feedback = False  # the order is fixed, so the loop need not wait for scores

    def __init__(self, space: SearchSpace, seed: int = 0) -> None:
        super().__init__(space, seed)
        self.cursor = 0  # position in the mixed-radix count over all dimensions
        self.total = 1
        for d in space.dimensions:
            self.total *= len(d.choices)

    def ask(self, n: int = 1) -> list[Sample]:
        found: list[Sample] = []
        while len(found) < n and self.cursor < self.total:
            sample = self._at(self.cursor)
            self.cursor += 1
            if self._is_representative(sample):
                found.append(sample)
        return found

    def _at(self, position: int) -> Sample:
        values: dict[str, Any] = {}
        for d in reversed(self.space.dimensions):
            position, index = divmod(position, len(d.choices))
            values[d.name] = d.choices[index]
        return {d.name: values[d.name] for d in self.space.dimensions}

    def _is_representative(self, sample: Sample) -> bool:
        return all(self.space.is_active(d.name, sample) or d.index(sample[d.name]) == 0 for d in self.space.dimensions)

    def tell(self, sample: Sample, score: float) -> None:
        return None
