"""Every strategy but `graph` searches the tabular and text spaces as it searches the CNN space: valid, new,
seeded samples, with nothing but named choices to go on (no TensorFlow)."""

from __future__ import annotations

import zlib
from typing import Any

import pytest

from nas_core import available_strategies, make_strategy
from nas_core.config import MlpSpaceConfig, TextSpaceConfig
from nas_core.mlp_space import mlp_search_space
from nas_core.space import SearchSpace, sample_key
from nas_core.text_space import text_search_space

SPACES = {
    "mlp": lambda: mlp_search_space(MlpSpaceConfig(kind="mlp")),
    "text": lambda: text_search_space(TextSpaceConfig(kind="text"), vocabulary_size=500),
}
STRATEGIES = [name for name in available_strategies() if name not in ("graph", "fixed")]


def score(sample: dict[str, Any]) -> float:
    """A made-up score that some choices raise, so that model-based strategies have something to learn."""
    return sum(zlib.crc32(f"{name}={value}".encode()) % 7 for name, value in sorted(sample.items())) / 100.0


def ask_and_tell(space: SearchSpace, name: str, seed: int, steps: int = 20) -> list[dict[str, Any]]:
    strategy = make_strategy(name, space, seed=seed)
    seen: list[dict[str, Any]] = []
    while len(seen) < steps:
        batch = strategy.ask(min(2, steps - len(seen)))
        assert batch, f"{name} stopped after {len(seen)} samples of a space of {space.size():,}"
        for sample in batch:
            strategy.tell(sample, score(space.canonical(sample)))
        seen.extend(batch)
    return seen


@pytest.mark.parametrize("kind", sorted(SPACES))
@pytest.mark.parametrize("name", STRATEGIES)
def test_every_strategy_searches_the_tabular_and_text_spaces(kind: str, name: str) -> None:
    space = SPACES[kind]()
    samples = ask_and_tell(space, name, seed=1)
    assert all(space.contains(s) for s in samples)
    keys = [sample_key(space.canonical(s)) for s in samples]
    assert len(set(keys)) == len(keys)
    assert ask_and_tell(space, name, seed=1) == samples
