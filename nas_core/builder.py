"""From an architecture (a plain dict) to a Keras functional model.

Written against Keras 3 (`keras.layers`), not `tf.keras`, so other backends stay possible.
The shape rule in `nas_core.architecture.repair` runs first: the builder never hands Keras an
impossible model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras

from nas_core.architecture import repair
from nas_core.graph_space import graph_to_keras, is_graph
from nas_core.mlp_space import build_mlp, is_mlp
from nas_core.text_space import build_text_model, is_text


def _shortcut(block_input: Any, output: Any, filters: int, kernel: int, padding: str) -> Any:
    """The residual branch: cropped to match a 'valid' convolution, projected 1x1 when channels differ."""
    shortcut = block_input
    if padding == "valid" and kernel > 1:
        before = (kernel - 1) // 2
        shortcut = keras.layers.Cropping2D(((before, kernel - 1 - before), (before, kernel - 1 - before)))(shortcut)
    if block_input.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, padding="same", use_bias=False)(shortcut)
    return keras.layers.Add()([shortcut, output])


def build_model(arch: Mapping[str, Any], input_shape: Sequence[int], num_classes: int) -> keras.Model:
    """Build (not compile) the model for `arch`; raises `InfeasibleArchitecture` for impossible shapes.

    A graph sample (`search.strategy: graph`) is built by `graph_to_keras` instead, a tabular one
    (`space.kind: mlp`) by `build_mlp`, a text one (`space.kind: text`) by `build_text_model`.
    """
    if is_graph(arch):
        return graph_to_keras(arch, tuple(int(d) for d in input_shape), num_classes)
    if is_mlp(arch):
        return build_mlp(arch, input_shape, num_classes)
    if is_text(arch):
        return build_text_model(arch, input_shape, num_classes)
    arch = repair(arch, input_shape)
    activation = str(arch["activation"])
    padding = str(arch["padding"])
    inputs = keras.Input(shape=tuple(input_shape))
    x = inputs
    for i in range(int(arch["conv_blocks"])):
        filters, kernel = int(arch[f"filters_{i}"]), int(arch[f"kernel_{i}"])
        block_input = x
        x = keras.layers.Conv2D(filters, kernel, padding=padding, use_bias=not arch["batch_norm"])(x)
        if arch["batch_norm"]:
            # Momentum 0.9, not Keras' 0.99: with few steps per epoch the moving statistics would
            # otherwise lag for epochs, val loss would look awful, and early stopping would kill
            # candidates that are in fact among the best.
            x = keras.layers.BatchNormalization(momentum=0.9)(x)
        if arch[f"skip_{i}"]:
            x = _shortcut(block_input, x, filters, kernel, padding)
        x = keras.layers.Activation(activation)(x)
        pooling = arch[f"pool_{i}"]
        if pooling == "max":
            x = keras.layers.MaxPooling2D(2)(x)
        elif pooling == "avg":
            x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    for j in range(int(arch["dense_layers"])):
        x = keras.layers.Dense(int(arch[f"units_{j}"]), activation=activation)(x)
        if arch["dropout"]:
            x = keras.layers.Dropout(float(arch["dropout"]))(x)
    if not arch["dense_layers"] and arch["dropout"]:
        x = keras.layers.Dropout(float(arch["dropout"]))(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def model_summary(model: keras.Model) -> str:
    """The Keras summary as text, for the candidate's MLflow artifacts."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line), line_length=100)
    return "\n".join(lines)
