"""Progressive narrowing of the space: sample wide, then keep only the choices that rank well.

This is design-space refinement in the spirit of Radosavovic et al. 2020, "Designing Network
Design Spaces" (CVPR), which narrows a space by comparing the results of models sampled from
it, and of search-space shrinking (Hu et al. 2020, "Angle-based Search Space Shrinking", ECCV).
PNAS (Liu et al. 2018) shares the idea of spending the budget only where earlier rounds pointed.
A choice is judged by the mean score of the better half of the models that used it (by
default; `rank_by`). The plain mean of all of them (a marginal, like RegNet's error
distributions) punishes a choice that is great in some combinations and bad in others, and on
our tabular benchmark it did not beat random search; the better half still keeps one lucky
model from saving a poor choice on its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from nas_core.errors import NasError
from nas_core.space import Dimension, Sample, SearchSpace, sample_key
from nas_core.strategies.base import Strategy
from nas_core.strategies.registry import register


def _top_half_mean(scores: list[float]) -> float:
    best = sorted(scores, reverse=True)
    return float(np.mean(best[: math.ceil(len(best) / 2)]))


# How a choice is judged from the scores of the models that used it.
RANKINGS: dict[str, Callable[[list[float]], float]] = {
    "mean": lambda scores: float(np.mean(scores)),
    "top_half": _top_half_mean,
    "best": max,
}


@register("progressive")
class ProgressiveNarrowing(Strategy):
    """Rounds of uniform samples from the current subspace; after each, every dimension keeps
    its best-ranked `keep_fraction` of choices.

    Options (params.yaml `search.strategy_options`):
      round_size: told results per round before the space is narrowed.
      keep_fraction: share of a dimension's choices that survive a round (at least one does).
      min_observations: a choice seen fewer times than this is kept: there is no evidence yet.
      rank_by: how a choice is judged from its models' scores: "top_half" (the mean of the
        better half, default), "mean" (all of them) or "best" (the single best).

    When the current subspace has been fully evaluated, the last narrowing is undone, so the
    search widens again instead of stalling on duplicates.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        round_size: int = 15,
        keep_fraction: float = 0.5,
        min_observations: int = 2,
        rank_by: str = "top_half",
    ) -> None:
        super().__init__(space, seed)
        if round_size < 1 or min_observations < 1:
            raise NasError("search.strategy_options: round_size and min_observations must be at least 1")
        if not 0.0 < keep_fraction <= 1.0:
            raise NasError("search.strategy_options: keep_fraction must be in (0, 1]")
        if rank_by not in RANKINGS:
            raise NasError(f"search.strategy_options: rank_by must be one of {', '.join(RANKINGS)}, got {rank_by!r}")
        self.rank_by = rank_by
        self.round_size = round_size
        self.keep_fraction = keep_fraction
        self.min_observations = min_observations
        full = {d.name: list(d.choices) for d in space.dimensions}
        self.levels: list[dict[str, list[Any]]] = [full]  # allowed choices, widest first
        # One entry per architecture (canonical key): a repeat told again is not new evidence.
        self.history: dict[str, tuple[Sample, float]] = {}
        self.told_this_round = 0

    @property
    def allowed(self) -> dict[str, list[Any]]:
        """The choices still in play for each dimension."""
        return self.levels[-1]

    def subspace(self) -> SearchSpace:
        dims = tuple(Dimension(name, tuple(choices)) for name, choices in self.allowed.items())
        return SearchSpace(dims, self.space.conditions)

    def ask(self, n: int = 1) -> list[Sample]:
        while len(self.levels) > 1 and self._exhausted():
            self.levels.pop()
        sub = self.subspace()
        return [sub.sample(self.rng) for _ in range(n)]

    def tell(self, sample: Sample, score: float) -> None:
        canonical = self.space.canonical(sample)
        self.history[sample_key(canonical)] = (canonical, float(score))
        self.told_this_round += 1
        if self.told_this_round >= self.round_size:
            self.told_this_round = 0
            narrowed = self._narrowed()
            if narrowed != self.allowed:
                self.levels.append(narrowed)

    def _narrowed(self) -> dict[str, list[Any]]:
        new: dict[str, list[Any]] = {}
        for name, choices in self.allowed.items():
            means: list[tuple[float, int]] = []
            keep_anyway: list[int] = []
            for i, choice in enumerate(choices):
                scores = [s for x, s in self.history.values() if self._uses(name, choice, x)]
                if len(scores) < self.min_observations:
                    keep_anyway.append(i)
                else:
                    means.append((RANKINGS[self.rank_by](scores), i))
            n_keep = max(1, math.ceil(self.keep_fraction * len(choices)))
            ranked = [i for _, i in sorted(means, key=lambda m: (-m[0], m[1]))]
            kept = set(keep_anyway) | set(ranked[: max(0, n_keep - len(keep_anyway))])
            new[name] = [c for i, c in enumerate(choices) if i in kept]
        return new

    def _uses(self, name: str, choice: Any, sample: Sample) -> bool:
        dim = self.space.dimension(name)  # `sample` is canonical: it holds exactly its active dimensions
        return name in sample and dim.index(sample[name]) == dim.index(choice)

    def _exhausted(self) -> bool:
        """True when every architecture of the current subspace has a score already."""
        sub = self.subspace()
        return sum(1 for x, _ in self.history.values() if sub.contains(x)) >= sub.size()
