"""The seed's tutorial search as a params file: valid, feasible overall, and some candidates impossible."""

from __future__ import annotations

import itertools
from pathlib import Path

from flows.io.params import load_params
from nas_core.architecture import InfeasibleArchitecture, check_space_for_input, cnn_search_space, repair

SEED_EXAMPLE = Path(__file__).resolve().parents[2] / "params" / "seed-example.yaml"


def test_seed_example_validates_and_matches_the_tutorial() -> None:
    cfg = load_params(SEED_EXAMPLE)
    assert cfg.data.source == "mnist"
    assert cfg.space.conv_blocks == [1, 2, 3] and cfg.space.filters == [32, 64, 128]
    assert cfg.space.kernel_size == [3, 5] and cfg.space.pooling == ["max"] and cfg.space.padding == ["valid"]
    assert cfg.space.dense_layers == [1, 2] and cfg.space.units == [64, 128, 256]
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.search.max_candidates) == (3, 128, 5)


def test_some_seed_example_candidates_cannot_be_built_on_mnist() -> None:
    space = cnn_search_space(load_params(SEED_EXAMPLE).space)
    check_space_for_input(space, (28, 28, 1))  # the space as a whole is fine
    infeasible = feasible = 0
    for values in itertools.product(*(d.choices for d in space.dimensions)):
        arch = space.canonical(dict(zip(space.names, values, strict=True)))
        try:
            repair(arch, (28, 28, 1))
            feasible += 1
        except InfeasibleArchitecture:
            infeasible += 1
    assert infeasible > 0 and feasible > infeasible
