"""DARTS: differentiable architecture search (Liu et al. 2019, "DARTS: Differentiable Architecture Search").

Each block of a `CellSpace` is a mixed op: every candidate op (a conv of some filters and
kernel size, with batch norm when the space has it, and the activation) runs on the block's
input, and the block's output is their sum weighted by softmax(alpha_block). Narrower ops are
zero-padded to the widest, so the sum is defined. Training alternates, batch by batch, two
first-order updates: the architecture parameters alpha on a validation batch, then the
network weights on a training batch. The discrete architecture is the argmax op of each block;
it is retrained stand-alone, since the supernet's weights belong to the mixture, not to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from nas_core.estimation.cell_space import CellSpace
from nas_core.estimation.supernet import pool_layer
from nas_core.space import Sample


def _loss(y: Any, logits: Any) -> Any:
    return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))


class DartsSupernet:
    """Mixed ops over a `CellSpace`, with one softmax-weighted architecture parameter per (block, op)."""

    def __init__(self, cell: CellSpace, input_shape: Sequence[int], num_classes: int, seed: int = 0) -> None:
        keras.utils.set_random_seed(seed)
        self.cell = cell
        self.input_shape = tuple(int(d) for d in input_shape)
        self.ops = cell.ops()
        self.convs = [
            [keras.layers.Conv2D(f, k, padding="same", name=f"block{i}_f{f}k{k}") for f, k in self.ops]
            for i in range(cell.blocks)
        ]
        # DARTS' ops normalise without an affine transform: the architecture weights do the scaling.
        self.norms = [
            [keras.layers.BatchNormalization(center=False, scale=False) for _ in self.ops]
            if cell.fixed["batch_norm"]
            else []
            for _ in range(cell.blocks)
        ]
        self.activation = keras.activations.get(cell.fixed["activation"])
        self.pools = [pool_layer(kind) for kind in cell.poolings(self.input_shape)]
        self.flatten = keras.layers.Flatten()
        self.hidden = [
            keras.layers.Dense(int(cell.fixed["units"]), activation=cell.fixed["activation"])
            for _ in range(cell.fixed["dense_layers"])
        ]
        self.dropout = keras.layers.Dropout(float(cell.fixed["dropout"])) if cell.fixed["dropout"] else None
        self.output = keras.layers.Dense(num_classes)
        rng = np.random.default_rng(seed)
        self.alphas = tf.Variable(
            1e-3 * rng.standard_normal((cell.blocks, len(self.ops))), dtype="float32", name="alphas"
        )
        self.forward(np.zeros((2, *self.input_shape), dtype="float32"))  # build every op
        self._predict = tf.function(lambda x: self.forward(x), reduce_retracing=True)

    def forward(self, x: Any, training: bool = False) -> Any:
        h = x
        width = self.cell.max_filters
        for i in range(self.cell.blocks):
            weights = tf.nn.softmax(self.alphas[i])
            mixed = 0.0
            for o, (filters, _) in enumerate(self.ops):
                out = self.convs[i][o](h)
                if self.norms[i]:
                    out = self.norms[i][o](out, training=True)  # batch statistics, as in DARTS' search
                out = self.activation(out)
                if filters < width:
                    out = tf.pad(out, [[0, 0], [0, 0], [0, 0], [0, width - filters]])
                mixed = mixed + weights[o] * out
            h = mixed
            pool = self.pools[i]
            if pool is not None:
                h = pool(h)
        h = self.flatten(h)
        for layer in self.hidden:
            h = layer(h)
            if self.dropout is not None:
                h = self.dropout(h, training=training)
        if not self.hidden and self.dropout is not None:
            h = self.dropout(h, training=training)
        return self.output(h)

    @property
    def weights(self) -> list[Any]:
        """The network weights (everything but the architecture parameters)."""
        layers = [layer for block in self.convs for layer in block] + [*self.hidden, self.output]
        return [v for layer in layers for v in layer.trainable_variables]

    def op_names(self) -> list[str]:
        return [f"f{f}k{k}" for f, k in self.ops]

    def architecture_weights(self) -> dict[str, float]:
        """softmax(alpha) per block and op, named `alpha.block<i>.f<filters>k<kernel>` (MLflow metric names)."""
        probs = tf.nn.softmax(self.alphas, axis=-1).numpy()
        return {
            f"alpha.block{i}.{name}": float(probs[i, o])
            for i in range(self.cell.blocks)
            for o, name in enumerate(self.op_names())
        }

    def derive(self) -> Sample:
        """The discrete architecture: the strongest op of every block (a sample of the cell's search space)."""
        best = np.argmax(self.alphas.numpy(), axis=-1)
        sample: Sample = {}
        for i, o in enumerate(best):
            filters, kernel = self.ops[int(o)]
            sample |= {f"filters_{i}": filters, f"kernel_{i}": kernel}
        return sample

    def search(
        self,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_val: np.ndarray,
        y_val: np.ndarray,
        epochs: int,
        batch_size: int = 64,
        learning_rate: float = 3e-3,
        arch_learning_rate: float = 3e-3,
        arch_weight_decay: float = 1e-3,
        seed: int = 0,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    ) -> dict[str, list[float]]:
        """First-order DARTS: per step, alpha descends the val loss, then the weights descend the train loss."""
        rng = np.random.default_rng(seed)
        weight_opt = keras.optimizers.Adam(learning_rate)
        arch_opt = keras.optimizers.Adam(arch_learning_rate, beta_1=0.5, beta_2=0.999)
        weights, alphas = self.weights, [self.alphas]
        weight_opt.build(weights)  # eagerly, not inside the first trace of a tf.function
        arch_opt.build(alphas)

        @tf.function(reduce_retracing=True)
        def arch_step(x: Any, y: Any) -> Any:
            with tf.GradientTape() as tape:
                loss = _loss(y, self.forward(x, training=True))
                total = loss + arch_weight_decay * tf.reduce_sum(tf.square(self.alphas))
            arch_opt.apply_gradients(zip(tape.gradient(total, alphas), alphas, strict=True))
            return loss

        @tf.function(reduce_retracing=True)
        def weight_step(x: Any, y: Any) -> tuple[Any, Any]:
            with tf.GradientTape() as tape:
                logits = self.forward(x, training=True)
                loss = _loss(y, logits)
            weight_opt.apply_gradients(zip(tape.gradient(loss, weights), weights, strict=True))
            hits = tf.reduce_sum(tf.cast(tf.argmax(logits, axis=-1) == tf.cast(y, tf.int64), tf.int32))
            return loss, hits

        history: dict[str, list[float]] = {}
        for epoch in range(1, epochs + 1):
            order, val_order = rng.permutation(len(x_train)), rng.permutation(len(x_val))
            losses, arch_losses, correct = [], [], 0
            for step, start in enumerate(range(0, len(x_train), batch_size)):
                v = val_order[np.arange(step * batch_size, (step + 1) * batch_size) % len(x_val)]
                arch_losses.append(float(arch_step(tf.constant(x_val[v]), tf.constant(y_val[v]))))
                batch = order[start : start + batch_size]
                loss, hits = weight_step(tf.constant(x_train[batch]), tf.constant(y_train[batch]))
                losses.append(float(loss) * len(batch))
                correct += int(hits)
            metrics = {
                "loss": float(np.sum(losses) / len(x_train)),
                "accuracy": correct / len(x_train),
                "arch_val_loss": float(np.mean(arch_losses)),
                "val_accuracy": self.accuracy(x_val, y_val),
            } | self.architecture_weights()
            for name, value in metrics.items():
                history.setdefault(name, []).append(value)
            if on_epoch is not None:
                on_epoch(epoch, metrics)
        return history

    def accuracy(self, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
        """The supernet's own accuracy (the mixture, not the derived architecture)."""
        correct = 0
        for start in range(0, len(x), batch_size):
            logits = self._predict(tf.constant(x[start : start + batch_size]))
            correct += int(np.sum(np.argmax(np.asarray(logits), axis=-1) == y[start : start + batch_size]))
        return correct / len(x)
