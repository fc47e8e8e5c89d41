"""Behaviour shared by every strategy, as wrappers around one (NNI's middleware idea).

`Deduplicated` never proposes the same architecture twice (nor one an earlier search trained,
once `remember` has told it); `FailureAware` turns a failed candidate (score `None`) into a poor
but finite score, so no strategy has to special-case it; `Primed` proposes architectures handed
over from another search first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nas_core.space import Sample, SearchSpace, sample_key
from nas_core.strategies.base import Strategy


class Wrapper:
    """Forwards the strategy contract to `inner`; subclasses override what they change."""

    def __init__(self, inner: Strategy | Wrapper) -> None:
        self.inner = inner

    @property
    def space(self) -> SearchSpace:
        return self.inner.space

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def uses_feedback(self) -> bool:
        return self.inner.uses_feedback

    def ask(self, n: int = 1) -> list[Sample]:
        return self.inner.ask(n)

    def tell(self, sample: Sample, score: float | None) -> None:
        self.inner.tell(sample, score)  # type: ignore[arg-type]

    def remember(self, sample: Sample, score: float | None) -> None:
        self.inner.remember(sample, score)  # type: ignore[arg-type]

    def prime(self, samples: Sequence[Sample]) -> list[Sample]:
        return self.inner.prime(samples)


class FailureAware(Wrapper):
    """A failed candidate is told to the strategy as the worst score seen so far (0.0 at first)."""

    def __init__(self, inner: Strategy | Wrapper, default: float = 0.0) -> None:
        super().__init__(inner)
        self.worst: float | None = None
        self.default = default

    def tell(self, sample: Sample, score: float | None) -> None:
        self.inner.tell(sample, self._finite(score))

    def remember(self, sample: Sample, score: float | None) -> None:
        self.inner.remember(sample, self._finite(score))

    def _finite(self, score: float | None) -> float:
        if score is None:
            return self.default if self.worst is None else self.worst
        self.worst = score if self.worst is None else min(self.worst, score)
        return score


class Deduplicated(Wrapper):
    """Never returns a sample whose key was proposed before.

    A repeat of an already scored sample is told its known score at once, so strategies that
    learn from every proposal (evolution, RL) still learn; a repeat of a pending sample gets
    the score when the original's arrives.
    """

    def __init__(
        self,
        inner: Strategy | Wrapper,
        key: Callable[[Sample], str] | None = None,
        max_tries: int = 200,
    ) -> None:
        super().__init__(inner)
        self.key = key or (lambda s: sample_key(self.space.canonical(s)))
        self.max_tries = max_tries
        self.scores: dict[str, float | None] = {}
        self.proposed: set[str] = set()
        self.waiting: dict[str, list[Sample]] = {}

    def ask(self, n: int = 1) -> list[Sample]:
        fresh: list[Sample] = []
        tries = 0
        # A resumed strategy may re-propose every sample it was told before: allow for that many repeats.
        limit = self.max_tries + len(self.scores)
        while len(fresh) < n and tries < limit:
            batch = self.inner.ask(n - len(fresh))
            if not batch:
                break
            for sample in batch:
                key = self.key(sample)
                if key not in self.proposed:
                    self.proposed.add(key)
                    fresh.append(sample)
                elif key in self.scores:
                    tries += 1
                    self.inner.tell(sample, self.scores[key])  # type: ignore[arg-type]
                else:
                    tries += 1
                    self.waiting.setdefault(key, []).append(sample)
        return fresh

    def tell(self, sample: Sample, score: float | None) -> None:
        key = self.key(sample)
        self.proposed.add(key)
        self.scores[key] = score
        self.inner.tell(sample, score)  # type: ignore[arg-type]
        for duplicate in self.waiting.pop(key, []):
            self.inner.tell(duplicate, score)  # type: ignore[arg-type]

    def remember(self, sample: Sample, score: float | None) -> None:
        """An architecture an earlier search trained: known from now on, so never proposed again."""
        key = self.key(sample)
        self.proposed.add(key)
        self.scores[key] = score
        self.inner.remember(sample, score)  # type: ignore[arg-type]


class Primed(Wrapper):
    """Proposes the architectures `inner.prime` keeps from a transfer before asking `inner` for its own.

    Wrapped by `Deduplicated`, so one that this data's history already holds is skipped.
    """

    def __init__(self, inner: Strategy | Wrapper, samples: Sequence[Sample]) -> None:
        super().__init__(inner)
        self.first = list(inner.prime(samples))

    def ask(self, n: int = 1) -> list[Sample]:
        taken, self.first = self.first[:n], self.first[n:]
        return taken + (self.inner.ask(n - len(taken)) if len(taken) < n else [])
