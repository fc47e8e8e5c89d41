"""A given list of architectures, in order: re-scoring known baselines, and benchmarks on equal terms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nas_core.errors import NasError
from nas_core.space import Sample, SearchSpace
from nas_core.strategies.base import Strategy
from nas_core.strategies.registry import register


@register("fixed")
class FixedList(Strategy):
    """Proposes `architectures` one after the other, then nothing (`search.strategy_options.architectures`)."""

    uses_feedback = False

    def __init__(self, space: SearchSpace, seed: int = 0, architectures: Sequence[Mapping[str, Any]] = ()) -> None:
        super().__init__(space, seed)
        if not architectures:
            raise NasError("search.strategy_options.architectures: the fixed strategy needs a list of architectures")
        self.architectures = [space.complete(arch) for arch in architectures]
        for i, arch in enumerate(self.architectures):
            if not space.contains(arch):
                raise NasError(f"search.strategy_options.architectures[{i}]: not in the search space: {dict(arch)}")
        self.position = 0

    def ask(self, n: int = 1) -> list[Sample]:
        batch = self.architectures[self.position : self.position + n]
        self.position += len(batch)
        return [dict(arch) for arch in batch]

    def tell(self, sample: Sample, score: float) -> None:
        return None
