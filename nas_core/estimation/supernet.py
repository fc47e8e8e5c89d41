"""A single-path one-shot supernet (SPOS: Guo et al. 2020, "Single Path One-Shot Neural Architecture
Search with Uniform Sampling").

The supernet holds every choice of a `CellSpace` at once:
- each block has one conv per kernel size (separate branches), each as wide as the widest
  `filters` choice;
- a narrower `filters` choice uses the first channels of that conv and masks the rest to zero,
  so all widths of a kernel share its weights (channel slices);
- batch norm (when the space has it), the pooling and the dense head are shared by every path.
Training samples one path uniformly at each step and updates only that path's weights, in a
`tf.GradientTape` loop. A candidate is then scored with the weights it inherits, in
milliseconds, instead of being trained. Batch norm always normalises with the statistics of
the batch at hand, in training and in scoring: moving averages would mix every path's
statistics (SPOS recomputes them per path; scoring in large batches does the same job).
Steps are compiled with `tf.function`, one graph per combination of kernels (widths are
masks, so they do not retrace), unless there are more than `MAX_GRAPHS` combinations.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from nas_core.estimation.cell_space import CellSpace
from nas_core.space import Sample

Path = Mapping[str, Any]
MAX_GRAPHS = 32


@contextmanager
def quiet_retracing() -> Iterator[None]:
    """One graph per kernel combination is by design; TF's "excessive retracing" warning is noise here."""
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        tf_logger.setLevel(level)


def pool_layer(kind: str) -> keras.layers.Layer | None:
    if kind == "max":
        return keras.layers.MaxPooling2D(2)
    if kind == "avg":
        return keras.layers.AveragePooling2D(2)
    return None


class SinglePathSupernet:
    """Keras layers for every choice, and a forward pass along one chosen path."""

    def __init__(self, cell: CellSpace, input_shape: Sequence[int], num_classes: int, seed: int = 0) -> None:
        keras.utils.set_random_seed(seed)
        self.cell = cell
        self.input_shape = tuple(int(d) for d in input_shape)
        width = cell.max_filters
        self.convs = [
            {k: keras.layers.Conv2D(width, k, padding="same", name=f"block{i}_k{k}") for k in cell.kernels}
            for i in range(cell.blocks)
        ]
        self.masks = {f: tf.constant(np.arange(width) < f, dtype="float32") for f in cell.filters}
        self.norms = [keras.layers.BatchNormalization() if cell.fixed["batch_norm"] else None for _ in self.convs]
        self.activation = keras.activations.get(cell.fixed["activation"])
        self.pools = [pool_layer(kind) for kind in cell.poolings(self.input_shape)]
        self.flatten = keras.layers.Flatten()
        self.hidden = [
            keras.layers.Dense(int(cell.fixed["units"]), activation=cell.fixed["activation"])
            for _ in range(cell.fixed["dense_layers"])
        ]
        self.dropout = keras.layers.Dropout(float(cell.fixed["dropout"])) if cell.fixed["dropout"] else None
        self.output = keras.layers.Dense(num_classes)  # logits
        dummy = np.zeros((2, *self.input_shape), dtype="float32")
        for kernel in cell.kernels:  # build every branch, so every variable exists before training
            self.forward(dummy, self.uniform_path(kernel=kernel))
        self.compiled = len(cell.kernels) ** cell.blocks <= MAX_GRAPHS
        self._graphs: dict[tuple[Any, ...], Callable[..., Any]] = {}

    def uniform_path(self, kernel: int | None = None, filters: int | None = None) -> Sample:
        """One path with the same choice in every block (widest by default)."""
        k = kernel or self.cell.kernels[0]
        f = filters or self.cell.max_filters
        return {
            name: value for i in range(self.cell.blocks) for name, value in ((f"filters_{i}", f), (f"kernel_{i}", k))
        }

    def sample_path(self, rng: np.random.Generator) -> Sample:
        """A path drawn uniformly: each block's filters and kernel independently."""
        return self.cell.search_space().sample(rng)

    def kernels(self, path: Path) -> tuple[int, ...]:
        return tuple(int(path[f"kernel_{i}"]) for i in range(self.cell.blocks))

    def widths(self, path: Path) -> list[Any]:
        return [self.masks[int(path[f"filters_{i}"])] for i in range(self.cell.blocks)]

    def forward(self, x: Any, path: Path, training: bool = False) -> Any:
        return self._forward(x, self.kernels(path), self.widths(path), training)

    def _forward(self, x: Any, kernels: tuple[int, ...], masks: Sequence[Any], training: bool) -> Any:
        h = x
        for i in range(self.cell.blocks):
            h = self.convs[i][kernels[i]](h) * masks[i]
            norm = self.norms[i]
            if norm is not None:
                h = norm(h, training=True) * masks[i]  # batch statistics, and masked channels stay zero
            h = self.activation(h)
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

    def path_variables(self, path: Path) -> list[Any]:
        """The weights one path uses: its conv branches and the shared head."""
        return self._variables(self.kernels(path))

    def _variables(self, kernels: tuple[int, ...]) -> list[Any]:
        layers = [self.convs[i][k] for i, k in enumerate(kernels)]
        layers += [norm for norm in self.norms if norm is not None] + [*self.hidden, self.output]
        return [v for layer in layers for v in layer.trainable_variables]

    @property
    def variables(self) -> list[Any]:
        convs = [v for block in self.convs for layer in block.values() for v in layer.trainable_variables]
        shared = [norm for norm in self.norms if norm is not None] + [*self.hidden, self.output]
        return convs + [v for layer in shared for v in layer.trainable_variables]

    def train(
        self,
        x: np.ndarray,
        y: np.ndarray,
        epochs: int,
        batch_size: int = 64,
        learning_rate: float = 3e-3,
        seed: int = 0,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    ) -> dict[str, list[float]]:
        """Single-path training: every step trains one uniformly sampled path on one batch."""
        rng = np.random.default_rng(seed)
        optimizer = keras.optimizers.Adam(learning_rate)
        optimizer.build(self.variables)  # built once on all weights; each step updates only its path's
        history: dict[str, list[float]] = {"loss": [], "accuracy": []}
        with quiet_retracing():
            for epoch in range(1, epochs + 1):
                self._train_epoch(optimizer, x, y, batch_size, rng, history)
                if on_epoch is not None:
                    on_epoch(epoch, {k: v[-1] for k, v in history.items()})
        return history

    def _train_epoch(
        self,
        optimizer: keras.optimizers.Optimizer,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        rng: np.random.Generator,
        history: dict[str, list[float]],
    ) -> None:
        """One pass over the shuffled training set, a freshly sampled path for every batch."""
        order = rng.permutation(len(x))
        losses, correct = [], 0
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            loss, hits = self.train_step(optimizer, x[batch], y[batch], self.sample_path(rng))
            losses.append(loss * len(batch))
            correct += hits
        history["loss"].append(float(np.sum(losses) / len(x)))
        history["accuracy"].append(correct / len(x))

    def train_step(self, optimizer: keras.optimizers.Optimizer, x: Any, y: Any, path: Path) -> tuple[float, int]:
        """One update of the path's weights on one batch; returns the loss and the number of hits."""
        kernels = self.kernels(path)
        step = self._graph(("train", kernels), lambda: self._make_step(optimizer, kernels))
        loss, hits = step(tf.constant(x), tf.constant(y), self.widths(path))
        return float(loss), int(hits)

    def _make_step(self, optimizer: keras.optimizers.Optimizer, kernels: tuple[int, ...]) -> Callable[..., Any]:
        variables = self._variables(kernels)

        def step(x: Any, y: Any, masks: Sequence[Any]) -> tuple[Any, Any]:
            with tf.GradientTape() as tape:
                logits = self._forward(x, kernels, masks, training=True)
                loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
            hits = tf.reduce_sum(tf.cast(tf.argmax(logits, axis=-1) == tf.cast(y, tf.int64), tf.int32))
            return loss, hits

        return step

    def _graph(self, key: tuple[Any, ...], make: Callable[[], Callable[..., Any]]) -> Callable[..., Any]:
        if key not in self._graphs:
            self._graphs[key] = tf.function(make(), reduce_retracing=True) if self.compiled else make()
        return self._graphs[key]

    def accuracy(self, path: Path, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
        """Accuracy of one path with inherited weights: the one-shot score of a candidate."""
        kernels = self.kernels(path)
        forward = self._graph(("score", kernels), lambda: lambda x, masks: self._forward(x, kernels, masks, False))
        correct = 0
        with quiet_retracing():
            for start in range(0, len(x), batch_size):
                logits = forward(tf.constant(x[start : start + batch_size]), self.widths(path))
                correct += int(np.sum(np.argmax(np.asarray(logits), axis=-1) == y[start : start + batch_size]))
        return correct / len(x)


def search_supernet(
    net: SinglePathSupernet,
    strategy: Any,
    evaluations: int,
    x: np.ndarray,
    y: np.ndarray,
    score_of: Callable[[Sample, float], float] | None = None,
) -> list[tuple[Sample, float]]:
    """A strategy's ask/tell loop over inherited-weight scores: each candidate costs one pass over `x`.

    `score_of(path, accuracy)` is what the strategy is told and what the path is ranked by (the
    search's objective, e.g. accuracy traded against size); without it, the accuracy itself.
    """
    scored: list[tuple[Sample, float]] = []
    while len(scored) < evaluations:
        proposals = strategy.ask(1)
        if not proposals:
            break  # the strategy has seen the whole (small) space
        accuracy = net.accuracy(proposals[0], x, y)
        score = accuracy if score_of is None else score_of(proposals[0], accuracy)
        strategy.tell(proposals[0], score)
        scored.append((dict(proposals[0]), score))
    return scored


def top_k(scored: Sequence[tuple[Sample, float]], k: int) -> list[tuple[Sample, float]]:
    """The k best distinct samples, best first (ties: the one scored first)."""
    best: dict[str, tuple[Sample, float]] = {}
    for sample, score in scored:
        key = repr(sorted(sample.items()))
        if key not in best or score > best[key][1]:
            best[key] = (sample, score)
    order = sorted(best.values(), key=lambda pair: -pair[1])
    return order[:k]
