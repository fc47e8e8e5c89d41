"""The model builder: every layer kind, skip connections with projection and cropping, shapes that fit."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from nas_core.builder import build_model, model_summary


def arch(**overrides: object) -> dict:
    base: dict = {
        "conv_blocks": 2,
        "dense_layers": 1,
        "units_0": 16,
        "activation": "relu",
        "padding": "same",
        "dropout": 0.0,
        "batch_norm": False,
    }
    for i in range(2):
        base |= {f"filters_{i}": 8 * (i + 1), f"kernel_{i}": 3, f"pool_{i}": "max", f"skip_{i}": False}
    return base | overrides


def layer_types(model: keras.Model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("activation", ["relu", "elu", "gelu", "swish", "tanh"])
def test_every_activation_builds_and_predicts(activation: str) -> None:
    model = build_model(arch(activation=activation), (8, 8, 1), 10)
    out = model.predict(np.zeros((2, 8, 8, 1), "float32"), verbose=0)
    assert out.shape == (2, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_pooling_kinds_and_batch_norm_and_dropout() -> None:
    model = build_model(arch(pool_0="avg", pool_1="none", batch_norm=True, dropout=0.25), (8, 8, 1), 10)
    types = layer_types(model)
    assert types.count("AveragePooling2D") == 1
    assert "MaxPooling2D" not in types
    assert types.count("BatchNormalization") == 2
    assert "Dropout" in types
    assert model.output_shape == (None, 10)


def test_dense_only_network() -> None:
    model = build_model(
        {
            "conv_blocks": 0,
            "dense_layers": 2,
            "units_0": 32,
            "units_1": 16,
            "activation": "tanh",
            "padding": "same",
            "dropout": 0.0,
            "batch_norm": False,
        },
        (8, 8, 1),
        3,
    )
    assert layer_types(model).count("Dense") == 3
    assert "Conv2D" not in layer_types(model)


def test_skip_adds_a_projection_when_channels_differ() -> None:
    model = build_model(arch(skip_0=True, skip_1=True), (8, 8, 1), 10)
    assert layer_types(model).count("Add") == 2
    one_by_one = [
        layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D) and layer.kernel_size == (1, 1)
    ]
    assert len(one_by_one) == 2  # 1 -> 8 channels and 8 -> 16 channels both need a projection


def test_skip_without_projection_when_channels_match() -> None:
    model = build_model(arch(filters_1=8, skip_1=True), (8, 8, 1), 10)
    assert layer_types(model).count("Add") == 1
    assert not [
        layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D) and layer.kernel_size == (1, 1)
    ]


def test_skip_with_valid_padding_crops_the_shortcut() -> None:
    model = build_model(arch(padding="valid", kernel_0=3, skip_0=True, pool_0="none", conv_blocks=1), (8, 8, 1), 10)
    assert "Cropping2D" in layer_types(model)
    assert model.predict(np.zeros((1, 8, 8, 1), "float32"), verbose=0).shape == (1, 10)


def test_impossible_pooling_is_repaired_not_handed_to_keras() -> None:
    deep = {
        "conv_blocks": 4,
        "dense_layers": 0,
        "activation": "relu",
        "padding": "same",
        "dropout": 0.0,
        "batch_norm": False,
    }
    for i in range(4):
        deep |= {f"filters_{i}": 4, f"kernel_{i}": 3, f"pool_{i}": "max", f"skip_{i}": False}
    model = build_model(deep, (8, 8, 1), 10)
    assert layer_types(model).count("MaxPooling2D") == 3


def test_summary_names_the_layers() -> None:
    text = model_summary(build_model(arch(), (8, 8, 1), 10))
    assert "Conv2D" in text and "Total params" in text
