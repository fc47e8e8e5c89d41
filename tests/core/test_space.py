"""The generic search space and the CNN space built from params.yaml."""

from __future__ import annotations

import itertools

import numpy as np

from nas_core.architecture import cnn_search_space
from nas_core.config import SpaceConfig
from nas_core.space import SearchSpace, sample_key


def test_from_choices_samples_stay_in_space_and_are_seeded() -> None:
    space = SearchSpace.from_choices({"op": ["a", "b", "c"], "depth": [1, 2, 3]})
    assert space.size() == 9
    first = [space.sample(np.random.default_rng(7)) for _ in range(5)]
    again = [space.sample(np.random.default_rng(7)) for _ in range(5)]
    assert first == again
    assert all(space.contains(s) for s in first)
    assert not space.contains({"op": "z", "depth": 1})


def test_inactive_dimensions_do_not_change_identity() -> None:
    space = cnn_search_space(SpaceConfig(conv_blocks=[1, 2], filters=[8, 16]))
    base = {d.name: d.choices[0] for d in space.dimensions} | {"conv_blocks": 1}
    other = base | {"filters_1": 16}  # block 1 does not exist when conv_blocks is 1
    assert space.canonical(base) == space.canonical(other)
    assert sample_key(space.canonical(base)) == sample_key(space.canonical(other))
    assert "filters_1" not in space.canonical(base)


def test_size_counts_distinct_architectures() -> None:
    cfg = SpaceConfig(
        conv_blocks=[1, 2],
        filters=[8, 16],
        kernel_size=[3],
        pooling=["max"],
        skip=[False],
        dense_layers=[0, 1],
        units=[16, 32],
        activation=["relu"],
        dropout=[0.0],
        batch_norm=[False],
    )
    space = cnn_search_space(cfg)
    canonical = {
        sample_key(space.canonical(dict(zip(space.names, values, strict=True))))
        for values in itertools.product(*(d.choices for d in space.dimensions))
    }
    assert space.size() == len(canonical) == (2 + 4) * (1 + 2)


def test_space_round_trips_through_json_dict() -> None:
    space = cnn_search_space(SpaceConfig())
    assert SearchSpace.from_dict(space.to_dict()) == space


def test_sample_key_is_stable_and_order_free() -> None:
    assert sample_key({"a": 1, "b": "x"}) == sample_key({"b": "x", "a": 1})
    assert sample_key({"a": 1}) != sample_key({"a": 2})
    assert len(sample_key({"a": 1})) == 12
