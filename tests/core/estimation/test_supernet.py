"""The single-path supernet: shared weights, single-path updates, inherited-weight scores, the reduced space."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from nas_core import make_strategy
from nas_core.architecture import cnn_search_space
from nas_core.config import SpaceConfig
from nas_core.errors import NasError
from nas_core.estimation.cell_space import CellSpace
from nas_core.estimation.supernet import SinglePathSupernet, search_supernet, top_k

pytestmark = pytest.mark.slow

SPACE = SpaceConfig(conv_blocks=[1, 2], filters=[8, 16], kernel_size=[3, 5], pooling=["max", "none"])


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, ...]:
    data = load_digits()
    x = (data.images / 16.0).astype("float32")[..., None]
    y = data.target.astype("int64")
    return x[:600], y[:600], x[600:800], y[600:800]


def test_the_reduced_space_maps_into_the_cnn_space() -> None:
    cell = CellSpace.from_config(SPACE)
    assert cell.blocks == 2 and cell.ops() == [(8, 3), (8, 5), (16, 3), (16, 5)]
    cnn = cnn_search_space(SPACE)
    rng = np.random.default_rng(0)
    for _ in range(5):
        arch = cell.to_architecture(cell.search_space().sample(rng), (8, 8, 1))
        assert cnn.contains(arch) and arch["conv_blocks"] == 2 and arch["pool_0"] == "max"
    deep = CellSpace.from_config(SpaceConfig(conv_blocks=[4]))
    assert deep.poolings((8, 8, 1)) == ["max", "max", "max", "none"]  # the shape rule, as in the builder
    with pytest.raises(NasError, match=r"space\.padding"):
        CellSpace.from_config(SpaceConfig(padding=["valid"]))


def test_two_paths_share_weights_where_they_share_a_layer(digits: tuple[np.ndarray, ...]) -> None:
    x, y, _, _ = digits
    net = SinglePathSupernet(CellSpace.from_config(SPACE), (8, 8, 1), 10, seed=0)
    path_a = {"filters_0": 16, "kernel_0": 3, "filters_1": 16, "kernel_1": 3}
    path_b = {"filters_0": 8, "kernel_0": 3, "filters_1": 16, "kernel_1": 5}
    shared = {id(v) for v in net.path_variables(path_a)} & {id(v) for v in net.path_variables(path_b)}
    block0_k3 = net.convs[0][3].trainable_variables
    assert all(id(v) in shared for v in block0_k3)  # the same variable objects, not copies
    untouched = [v.numpy().copy() for v in net.convs[1][5].trainable_variables]  # only path B uses it
    before = np.asarray(net.forward(x[:32], path_b))
    optimizer = keras.optimizers.Adam(1e-2)
    optimizer.build(net.variables)
    net.train_step(optimizer, x[:64], y[:64], path_a)
    assert not np.allclose(np.asarray(net.forward(x[:32], path_b)), before)  # a step on A moved B
    after = [v.numpy() for v in net.convs[1][5].trainable_variables]
    assert all(
        np.array_equal(a, b) for a, b in zip(after, untouched, strict=True)
    )  # single path: B's own branch is not


def test_inherited_weights_score_paths_and_a_strategy_searches_them(digits: tuple[np.ndarray, ...]) -> None:
    x, y, x_val, y_val = digits
    cell = CellSpace.from_config(SPACE)
    net = SinglePathSupernet(cell, (8, 8, 1), 10, seed=0)
    history = net.train(x, y, epochs=4, batch_size=32, learning_rate=3e-3)
    assert history["loss"][-1] < history["loss"][0]
    strategy = make_strategy("evolution", cell.search_space(), seed=0, population_size=4, sample_size=2)
    scored = search_supernet(net, strategy, evaluations=10, x=x_val, y=y_val)
    assert len(scored) == 10 and len({repr(sorted(s.items())) for s, _ in scored}) == 10
    assert max(score for _, score in scored) > 0.3  # 10 classes: chance is 0.1
    best = top_k(scored, 3)
    assert [score for _, score in best] == sorted((score for _, score in scored), reverse=True)[:3]
