"""DARTS: the architecture weights move under alternating updates, and the derived architecture builds and trains."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from nas_core.builder import build_model
from nas_core.config import SpaceConfig
from nas_core.estimation.cell_space import CellSpace
from nas_core.estimation.darts import DartsSupernet
from nas_core.training import Arrays, TrainSettings, train_candidate

pytestmark = pytest.mark.slow

SPACE = SpaceConfig(conv_blocks=[2], filters=[8, 16], kernel_size=[3, 5], pooling=["max"], batch_norm=[True])


def test_architecture_weights_move_and_the_argmax_architecture_trains() -> None:
    data = load_digits()
    x = (data.images / 16.0).astype("float32")[..., None]
    y = data.target.astype("int64")
    cell = CellSpace.from_config(SPACE)
    net = DartsSupernet(cell, (8, 8, 1), 10, seed=0)
    start = net.architecture_weights()
    assert len(start) == 2 * 4 and all(v == pytest.approx(0.25, abs=1e-2) for v in start.values())
    weights_before = [v.numpy().copy() for v in net.weights]
    history = net.search(x[:400], y[:400], x[400:560], y[400:560], epochs=2, batch_size=32, arch_learning_rate=0.01)

    end = net.architecture_weights()
    assert max(abs(end[k] - start[k]) for k in start) > 1e-3  # alpha was trained
    assert history[next(iter(start))] == pytest.approx([history[next(iter(start))][0], end[next(iter(start))]])
    assert all(sum(end[f"alpha.block{i}.{op}"] for op in net.op_names()) == pytest.approx(1.0) for i in range(2))
    assert any(not np.allclose(a, b) for a, b in zip(weights_before, [v.numpy() for v in net.weights], strict=True))

    derived = net.derive()
    best_ops = [max(net.op_names(), key=lambda op, i=i: end[f"alpha.block{i}.{op}"]) for i in range(2)]
    assert [f"f{derived[f'filters_{i}']}k{derived[f'kernel_{i}']}" for i in range(2)] == best_ops
    arch = cell.to_architecture(derived, (8, 8, 1))
    assert build_model(arch, (8, 8, 1), 10).count_params() > 0
    arrays = Arrays(x[:400], y[:400], x[400:560], y[400:560])
    result = train_candidate(arch, arrays, TrainSettings(epochs=2), seed=0)
    assert result.ok and result.val_accuracy is not None and result.val_accuracy > 0.3
