"""The strategy contract: ask for samples, tell their scores. A killed search resumes by replaying its results.

A strategy owns a seeded `numpy.random.Generator` and nothing else from the outside world:
no Keras, no files, no tracking. That keeps every strategy testable on toy objectives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from nas_core.space import Sample, SearchSpace


class Strategy(ABC):
    """Proposes samples from a space and learns from their scores (higher is better).

    `tell(sample, None)` reports a failed candidate; the `FailureAware` wrapper turns that into
    a poor score, so concrete strategies only ever see floats.
    """

    name: ClassVar[str] = ""
    uses_feedback: ClassVar[bool] = True  # False: proposals ignore scores, so the loop need not wait for them

    def __init__(self, space: SearchSpace, seed: int = 0) -> None:
        self.space = space
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    @abstractmethod
    def ask(self, n: int = 1) -> list[Sample]:
        """Up to `n` new samples to evaluate (fewer, or none, once the strategy has nothing left)."""

    @abstractmethod
    def tell(self, sample: Sample, score: float) -> None:
        """The score of a sample that `ask` returned."""

    def remember(self, sample: Sample, score: float) -> None:
        """A result of an earlier search on the same data and space (warm start), told before any `ask`.

        By default it is told like any result; a strategy whose first proposals are blind (evolution's
        random first population) overrides this so that history takes their place.
        """
        self.tell(sample, score)

    def prime(self, samples: Sequence[Sample]) -> list[Sample]:
        """Architectures handed over from a search on other data (transfer); returns those to propose first.

        By default all of them go first, before the strategy's own proposals; their scores on this
        data come back through `tell` like any other.
        """
        return list(samples)
