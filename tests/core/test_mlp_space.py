"""The tabular search space: its size and conditions, every builder corner, and that an MLP learns a table."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from nas_core.config import MlpSpaceConfig
from nas_core.mlp_space import build_mlp, describe_mlp, is_mlp, mlp_search_space
from nas_core.tabular import encode, fit_features


def arch(**overrides: object) -> dict:
    base: dict = {
        "hidden_layers": 2,
        "units_0": 16,
        "units_1": 8,
        "activation": "relu",
        "dropout": 0.0,
        "batch_norm": False,
        "residual": False,
    }
    return base | overrides


def layer_types(model: keras.Model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def test_space_dimensions_conditions_and_size() -> None:
    cfg = MlpSpaceConfig(
        kind="mlp", hidden_layers=[2, 0, 1], units=[8, 16], activation=["relu"], dropout=[0.0, 0.1], residual=[False]
    )
    space = mlp_search_space(cfg)
    assert space.names == [
        "hidden_layers",
        "units_0",
        "units_1",
        "activation",
        "dropout",
        "batch_norm",
        "residual",
    ]
    assert space.dimension("hidden_layers").choices == (0, 1, 2)
    # 0 layers: one logistic regression; 1 layer: 2 units x 2 dropouts x 2 batch norms; 2 layers: 4 x 4.
    assert space.size() == 1 + 8 + 16
    full = arch(units_1=16, dropout=0.1)
    assert space.canonical(full | {"hidden_layers": 1}) == {
        "hidden_layers": 1,
        "units_0": 16,
        "activation": "relu",
        "dropout": 0.1,
        "batch_norm": False,
    }
    assert space.canonical(full | {"hidden_layers": 0}) == {"hidden_layers": 0}
    assert space.contains(space.canonical(full))


def test_samples_that_build_the_same_model_are_one_candidate() -> None:
    space = mlp_search_space(MlpSpaceConfig(kind="mlp", hidden_layers=[1, 2]))
    one_layer = arch(hidden_layers=1)
    assert space.canonical(one_layer | {"residual": True}) == space.canonical(one_layer)
    assert space.canonical(arch(residual=True)) != space.canonical(arch())


def test_is_mlp_tells_the_spaces_apart() -> None:
    assert is_mlp(arch())
    assert not is_mlp({"conv_blocks": 1, "dense_layers": 0})


def test_zero_layers_is_logistic_regression() -> None:
    model = build_mlp({"hidden_layers": 0}, (5,), 3)
    assert layer_types(model) == ["InputLayer", "Dense"]
    assert model.output_shape == (None, 3)
    assert model.count_params() == 5 * 3 + 3


def test_residual_projects_only_when_widths_differ() -> None:
    model = build_mlp(arch(hidden_layers=3, units_2=8, residual=True), (4,), 2)
    assert layer_types(model).count("Add") == 2  # layers 1 and 2; the first has no shortcut
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    projections = [layer for layer in dense if not layer.use_bias]
    assert [p.units for p in projections] == [8]  # 16 -> 8 is projected, 8 -> 8 is added as is
    out = model.predict(np.zeros((2, 4), "float32"), verbose=0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_batch_norm_replaces_bias_and_dropout_follows_each_layer() -> None:
    model = build_mlp(arch(batch_norm=True, dropout=0.2, activation="gelu"), (4,), 2)
    types = layer_types(model)
    assert types.count("BatchNormalization") == 2 and types.count("Dropout") == 2
    hidden = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][:-1]
    assert not any(layer.use_bias for layer in hidden)
    assert all(layer.momentum == 0.9 for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization))


def test_describe() -> None:
    assert describe_mlp(arch(units_0=128, units_1=64, batch_norm=True, dropout=0.1, residual=True)) == (
        "d128 d64 | relu bn do0.1 res"
    )
    assert describe_mlp(arch(hidden_layers=1, residual=True)) == "d16 | relu"  # nothing to add a shortcut to
    assert describe_mlp({"hidden_layers": 0}) == "linear"


def test_an_mlp_learns_a_small_table() -> None:
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=n)
    shape = rng.choice(["round", "square"], size=n)
    # The class needs both columns: the sign of x flips with the shape (an XOR no linear model gets).
    labels = ((x > 0) ^ (shape == "square")).astype("int64")
    columns = {"x": x, "shape": shape}
    fitted = fit_features({k: v[:300] for k, v in columns.items()}, ["shape"])
    encoded = encode(fitted, columns)
    model = build_mlp(arch(units_0=32, units_1=32, residual=True, batch_norm=True), (fitted.width,), 2)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(encoded[:300], labels[:300], epochs=10, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(encoded[300:], labels[300:], verbose=0)
    assert accuracy > 0.85


@pytest.mark.parametrize("layers", [0, 1, 3])
def test_every_depth_builds_and_predicts_probabilities(layers: int) -> None:
    sample: dict[str, object] = {"hidden_layers": layers} | {f"units_{j}": 4 * (j + 1) for j in range(layers)}
    sample |= {"activation": "swish", "dropout": 0.1, "batch_norm": True, "residual": True}
    out = build_mlp(sample, (6,), 4).predict(np.ones((3, 6), "float32"), verbose=0)
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
