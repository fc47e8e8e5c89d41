"""Every search strategy, one module each, selectable by name through `make_strategy`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from nas_core.errors import NasError
from nas_core.graph_space import GraphSpace
from nas_core.space import Sample, SearchSpace
from nas_core.strategies import (
    evolution,  # noqa: F401  (registers "evolution")
    fixed_list,  # noqa: F401  (registers "fixed")
    graph,  # noqa: F401  (registers "graph")
    grid,  # noqa: F401  (registers "grid")
    progressive,  # noqa: F401  (registers "progressive")
    random_search,  # noqa: F401  (registers "random")
    reinforce,  # noqa: F401  (registers "reinforce")
    surrogate,  # noqa: F401  (registers "surrogate")
    tpe,  # noqa: F401  (registers "tpe")
)
from nas_core.strategies.base import Strategy
from nas_core.strategies.middleware import Deduplicated, FailureAware, Primed, Wrapper
from nas_core.strategies.registry import registered

__all__ = ["Deduplicated", "FailureAware", "Primed", "Strategy", "Wrapper", "available_strategies", "make_strategy"]


def available_strategies() -> list[str]:
    return sorted(registered())


def make_strategy(
    name: str,
    space: SearchSpace | GraphSpace,
    seed: int = 0,
    key: Callable[[Sample], str] | None = None,
    first: Sequence[Sample] = (),
    **options: Any,
) -> Wrapper:
    """Build the named strategy, wrapped so that it never repeats itself and survives failures.

    `key` decides when two samples are the same architecture (default: the canonical sample).
    `first`: architectures handed over from another search (`search.warm_start.from`), which the
    strategy takes in through `prime`.
    """
    strategies = registered()
    if name not in strategies:
        raise NasError(f"search.strategy: unknown strategy '{name}'; choose from {', '.join(sorted(strategies))}")
    try:
        inner = strategies[name](space, seed=seed, **options)  # type: ignore[arg-type]  # only graph takes a GraphSpace
    except TypeError as error:
        raise NasError(f"search.strategy_options: {error}") from None
    failure_aware = FailureAware(inner)
    return Deduplicated(Primed(failure_aware, first) if first else failure_aware, key=key)
