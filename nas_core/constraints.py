"""The hard size limit `search.max_params`, as a wrapper around a strategy.

Proposals above the limit are skipped inside `ask`: they never reach the search loop, so they
are never trained and do not count towards `max_candidates`. Each skip is told to the strategy
as a failure (a score of `None`, which `FailureAware` turns into the worst score seen), so a
learning strategy moves away from big models. When the space holds few small enough models,
asking could go on for ever; after `max_consecutive_skips` skips in a row the search stops
with an error that names the key.
"""

from __future__ import annotations

from collections.abc import Callable

from nas_core.errors import NasError
from nas_core.space import Sample
from nas_core.strategies.base import Strategy
from nas_core.strategies.middleware import Wrapper

MAX_CONSECUTIVE_SKIPS = 1000  # counting parameters costs microseconds: this gives up in well under a second


class ParamBudget(Wrapper):
    """Never proposes a sample whose model has more than `max_params` weights.

    `count(sample)` returns the parameter count, or `None` when it cannot be known (an
    infeasible architecture): those pass through and are recorded FAILED by the search.
    """

    def __init__(
        self,
        inner: Strategy | Wrapper,
        count: Callable[[Sample], int | None],
        max_params: int,
        max_consecutive_skips: int = MAX_CONSECUTIVE_SKIPS,
        on_skip: Callable[[Sample, int], None] | None = None,
    ) -> None:
        super().__init__(inner)
        self.count = count
        self.max_params = max_params
        self.max_consecutive_skips = max_consecutive_skips
        self.on_skip = on_skip
        self.skipped = 0
        self.accepted = 0
        self.consecutive = 0

    def ask(self, n: int = 1) -> list[Sample]:
        fresh: list[Sample] = []
        while len(fresh) < n:
            batch = self.inner.ask(n - len(fresh))
            if not batch:
                if self.accepted == 0 and not fresh and self.skipped:
                    raise self._give_up(f"all {self.skipped} architectures the strategy proposed")
                break
            for sample in batch:
                params = self.count(sample)
                if params is None or params <= self.max_params:
                    self.consecutive = 0
                    self.accepted += 1
                    fresh.append(sample)
                    continue
                self.skipped += 1
                self.consecutive += 1
                self.inner.tell(sample, None)  # type: ignore[arg-type]
                if self.on_skip is not None:
                    self.on_skip(sample, params)
                if self.consecutive >= self.max_consecutive_skips:
                    raise self._give_up(f"{self.consecutive} proposals in a row")
        return fresh

    def _give_up(self, what: str) -> NasError:
        return NasError(
            f"search.max_params: {what} had more than {self.max_params:,} parameters, so the search stopped; "
            "raise search.max_params, or offer fewer/smaller filters, units or conv_blocks "
            "(`nas check` estimates how much of the space fits)"
        )
