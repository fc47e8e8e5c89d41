"""The shape rule: pooling below 1x1 is repaired, impossible 'valid' convolutions are rejected."""

from __future__ import annotations

import pytest

from nas_core.architecture import (
    InfeasibleArchitecture,
    check_space_for_input,
    cnn_search_space,
    describe,
    repair,
)
from nas_core.config import SpaceConfig
from nas_core.errors import NasError


def arch(blocks: int, kernel: int = 3, pool: str = "max", padding: str = "same") -> dict:
    out: dict = {
        "conv_blocks": blocks,
        "dense_layers": 0,
        "activation": "relu",
        "padding": padding,
        "dropout": 0.0,
        "batch_norm": False,
    }
    for i in range(blocks):
        out |= {f"filters_{i}": 8, f"kernel_{i}": kernel, f"pool_{i}": pool, f"skip_{i}": False}
    return out


def test_pooling_that_would_go_below_1x1_is_dropped() -> None:
    fixed = repair(arch(4), (8, 8, 1))  # 8 -> 4 -> 2 -> 1, then a fourth pooling has nothing to halve
    assert [fixed[f"pool_{i}"] for i in range(4)] == ["max", "max", "max", "none"]


def test_pooling_that_fits_is_kept() -> None:
    assert repair(arch(3), (28, 28, 1)) == arch(3)


def test_seed_example_three_valid_kernel5_blocks_are_rejected_on_mnist() -> None:
    # 28 -conv5-> 24 -pool-> 12 -conv5-> 8 -pool-> 4 -conv5-> nothing
    with pytest.raises(InfeasibleArchitecture, match="block 2: a 5x5 'valid' convolution does not fit a 4x4"):
        repair(arch(3, kernel=5, padding="valid"), (28, 28, 1))
    assert repair(arch(2, kernel=5, padding="valid"), (28, 28, 1))["pool_1"] == "max"


def test_space_with_no_feasible_architecture_fails_before_training() -> None:
    space = cnn_search_space(SpaceConfig(conv_blocks=[3], kernel_size=[5], padding=["valid"]))
    with pytest.raises(NasError, match=r"space: no architecture in the space fits inputs of shape \(8, 8, 1\)"):
        check_space_for_input(space, (8, 8, 1))
    check_space_for_input(cnn_search_space(SpaceConfig()), (8, 8, 1))  # the default space fits digits


def test_describe_is_short_and_readable() -> None:
    text = describe(arch(2) | {"skip_1": True, "dense_layers": 1, "units_0": 64, "batch_norm": True})
    assert text == "c8k3+max c8k3+skip+max d64 | relu bn"
