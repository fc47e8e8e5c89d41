"""Grid search enumerates every architecture once, then stops."""

from __future__ import annotations

from nas_core import make_strategy
from nas_core.space import SearchSpace, sample_key


def test_grid_enumerates_every_architecture_exactly_once(toy_space: SearchSpace) -> None:
    grid = make_strategy("grid", toy_space, seed=0)
    seen = []
    while batch := grid.ask(7):
        seen.extend(batch)

    keys = {sample_key(toy_space.canonical(s)) for s in seen}
    assert len(seen) == len(keys) == toy_space.size() == 56
    assert all(toy_space.contains(s) for s in seen)
    assert seen[0] == {"depth": 1, "width": 8, "act": "relu", "extra": 0}
    assert grid.ask(3) == []


def test_grid_order_does_not_depend_on_the_seed(toy_space: SearchSpace) -> None:
    assert make_strategy("grid", toy_space, seed=0).ask(20) == make_strategy("grid", toy_space, seed=9).ask(20)
