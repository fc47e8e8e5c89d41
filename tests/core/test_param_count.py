"""The analytic parameter count equals Keras' `count_params()` on every kind of architecture."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from nas_core.architecture import InfeasibleArchitecture, cnn_search_space, prepare_architecture
from nas_core.builder import build_model
from nas_core.config import SpaceConfig
from nas_core.param_count import count_params

# Every layer kind and the awkward cases: kernel 1 and 2 (uneven crop), 1-filter convs, valid padding,
# skips with and without projection, batch norm, dropout with and without dense layers.
WIDE_SPACE = SpaceConfig(
    conv_blocks=[0, 1, 2, 3, 4],
    filters=[1, 3, 8],
    kernel_size=[1, 2, 3, 5],
    pooling=["max", "avg", "none"],
    padding=["same", "valid"],
    skip=[False, True],
    dense_layers=[0, 1, 2],
    units=[4, 16],
    activation=["relu", "tanh"],
    dropout=[0.0, 0.25],
    batch_norm=[False, True],
)
PER_INPUT = 10  # 40 random models in all: building one costs Keras about 0.2-0.5 s
INPUTS = [((8, 8, 1), 10), ((28, 28, 1), 10), ((12, 10, 3), 4), ((5, 9, 2), 3)]


@pytest.mark.slow
@pytest.mark.parametrize(("input_shape", "num_classes"), INPUTS)
def test_count_equals_keras_on_random_architectures(input_shape: tuple[int, ...], num_classes: int) -> None:
    space = cnn_search_space(WIDE_SPACE)
    rng = np.random.default_rng(sum(input_shape))
    checked = 0
    while checked < PER_INPUT:
        arch = space.canonical(space.sample(rng))
        try:
            expected = int(build_model(arch, input_shape, num_classes).count_params())
        except InfeasibleArchitecture:
            with pytest.raises(InfeasibleArchitecture):
                count_params(arch, input_shape, num_classes)
            continue
        finally:
            keras.backend.clear_session()
        assert count_params(arch, input_shape, num_classes) == expected, arch
        checked += 1


def test_every_layer_kind_is_counted() -> None:
    """One hand-checked network: BN, a projected skip, valid padding with a crop, pooling, dropout."""
    arch = {
        "conv_blocks": 2,
        "filters_0": 4,
        "kernel_0": 3,
        "pool_0": "max",
        "skip_0": True,  # 1 -> 4 channels: 1x1 projection of 4 weights
        "filters_1": 4,
        "kernel_1": 3,
        "pool_1": "none",
        "skip_1": True,  # 4 -> 4 channels: identity, no weights
        "dense_layers": 1,
        "units_0": 8,
        "activation": "relu",
        "padding": "valid",
        "dropout": 0.25,
        "batch_norm": True,
    }
    # 8x8x1 -conv3 valid-> 6x6x4 -pool-> 3x3x4 -conv3 valid-> 1x1x4 -> flatten 4 -> dense 8 -> 10
    expected = (9 * 1 * 4 + 4 * 4 + 1 * 4) + (9 * 4 * 4 + 4 * 4) + (4 * 8 + 8) + (8 * 10 + 10)
    assert count_params(arch, (8, 8, 1), 10) == expected
    assert build_model(arch, (8, 8, 1), 10).count_params() == expected
    keras.backend.clear_session()


def test_a_repaired_pooling_is_counted_as_dropped() -> None:
    space = cnn_search_space(SpaceConfig(conv_blocks=[4], filters=[2], kernel_size=[3], pooling=["max"]))
    sample = space.canonical(space.sample(np.random.default_rng(0)))
    repaired = prepare_architecture(space, sample, (8, 8, 1))
    assert repaired["pool_3"] == "none"  # 8 -> 4 -> 2 -> 1: the fourth pooling cannot apply
    assert count_params(sample, (8, 8, 1), 10) == count_params(repaired, (8, 8, 1), 10)
