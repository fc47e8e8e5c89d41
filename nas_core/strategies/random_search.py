"""Random search: the baseline every other strategy must beat (Li & Talwalkar 2019)."""

from __future__ import annotations

from nas_core.space import Sample
from nas_core.strategies.base import Strategy
from nas_core.strategies.registry import register


@register("random")
class RandomSearch(Strategy):
    """Uniform samples from the space; duplicates are filtered by the `Deduplicated` wrapper."""

    uses_feedback = False

    def ask(self, n: int = 1) -> list[Sample]:
        return [self.space.sample(self.rng) for _ in range(n)]

    def tell(self, sample: Sample, score: float) -> None:
        return None
