"""Regularized (aging) evolution, after Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search" (AAAI).

Each child comes from a tournament: `sample_size` members drawn at random from the population,
the best of them mutated in one architectural choice. The oldest member dies, not the worst,
so a model that was lucky once cannot rule forever: the population keeps being re-earned.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from nas_core.errors import NasError
from nas_core.space import Sample, SearchSpace
from nas_core.strategies.base import Strategy
from nas_core.strategies.registry import register


def mutate(space: SearchSpace, sample: Sample, rng: np.random.Generator) -> Sample:
    """Change one active dimension to a different choice (inactive ones would not change the model)."""
    mutable = [d for d in space.dimensions if len(d.choices) > 1 and space.is_active(d.name, sample)]
    if not mutable:
        return space.sample(rng)
    dim = mutable[int(rng.integers(len(mutable)))]
    current = dim.index(sample[dim.name])
    others = [i for i in range(len(dim.choices)) if i != current]
    return {**sample, dim.name: dim.choices[others[int(rng.integers(len(others)))]]}


def crossover(space: SearchSpace, first: Sample, second: Sample, rng: np.random.Generator) -> Sample:
    """Uniform crossover: each dimension comes from either parent with equal chance."""
    return {d.name: (first if rng.random() < 0.5 else second)[d.name] for d in space.dimensions}


@register("evolution")
class RegularizedEvolution(Strategy):
    """Aging evolution with tournament selection; random samples until the population is full.

    Options (params.yaml `search.strategy_options`):
      population_size: members alive at once; the oldest dies when a new one is told.
      sample_size: tournament size; larger means greedier parent choice.
      crossover_prob: chance that a child first crosses two tournament winners, then mutates.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        population_size: int = 10,
        sample_size: int = 3,
        crossover_prob: float = 0.0,
    ) -> None:
        super().__init__(space, seed)
        if population_size < 1 or sample_size < 1:
            raise NasError("search.strategy_options: population_size and sample_size must be at least 1")
        if not 0.0 <= crossover_prob <= 1.0:
            raise NasError("search.strategy_options: crossover_prob must be between 0 and 1")
        self.population_size = population_size
        self.sample_size = sample_size
        self.crossover_prob = crossover_prob
        # Oldest first; each member is (full sample, score).
        self.population: deque[tuple[Sample, float]] = deque()
        self.random_asked = 0

    def ask(self, n: int = 1) -> list[Sample]:
        return [self._propose() for _ in range(n)]

    def _propose(self) -> Sample:
        # Asks run ahead of tells in a parallel search, so count the random seeds asked, not told.
        if self.random_asked < self.population_size or not self.population:
            self.random_asked += 1
            return self.space.sample(self.rng)
        parent = self._tournament()
        if self.crossover_prob > 0 and self.rng.random() < self.crossover_prob:
            parent = crossover(self.space, parent, self._tournament(), self.rng)
        return mutate(self.space, parent, self.rng)

    def _tournament(self) -> Sample:
        k = min(self.sample_size, len(self.population))
        picked = self.rng.choice(len(self.population), size=k, replace=False)
        best = max(picked, key=lambda i: self.population[int(i)][1])
        return dict(self.population[int(best)][0])

    def remember(self, sample: Sample, score: float) -> None:
        """Earlier searches' results fill the first population in place of random members."""
        self.tell(sample, score)
        self.random_asked = min(self.random_asked + 1, self.population_size)

    def prime(self, samples: Sequence[Sample]) -> list[Sample]:
        """Architectures from another search are the first population (the rest is random, as usual)."""
        first = list(samples)[: self.population_size]
        self.random_asked += len(first)
        return first

    def tell(self, sample: Sample, score: float) -> None:
        self.population.append((self.space.complete(sample), float(score)))
        if len(self.population) > self.population_size:
            self.population.popleft()  # aging: the oldest dies, whatever its score
