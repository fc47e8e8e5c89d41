"""The parameter count of a CNN architecture, computed from the dict alone (no TensorFlow, no model).

`search.max_params` is checked before a candidate is trained, thousands of times when most of
the space is over the limit, so building a Keras model just to count its weights would cost more
than it saves. This mirrors `nas_core.builder.build_model` layer by layer and must equal Keras'
`model.count_params()` (trainable and non-trainable weights): tests compare the two on many
random architectures, so a change to the builder that is not made here fails loudly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from nas_core.architecture import repair

BATCH_NORM_WEIGHTS = 4  # gamma, beta, moving mean, moving variance per channel


def conv_params(kernel: int, channels_in: int, filters: int, bias: bool) -> int:
    return kernel * kernel * channels_in * filters + (filters if bias else 0)


def dense_params(inputs: int, units: int) -> int:
    return inputs * units + units


def count_params(arch: Mapping[str, Any], input_shape: Sequence[int], num_classes: int) -> int:
    """Weights of the model `build_model(arch, input_shape, num_classes)` would build.

    The shape rule runs first, exactly as in the builder, so a repaired pooling is counted as
    dropped, and an impossible architecture raises `InfeasibleArchitecture`.
    """
    arch = repair(arch, input_shape)
    shape = [int(d) for d in input_shape]
    padding = str(arch["padding"])
    batch_norm = bool(arch["batch_norm"])
    total = 0
    for i in range(int(arch["conv_blocks"])):
        height, width, channels = shape[0], shape[1], shape[-1]
        filters, kernel = int(arch[f"filters_{i}"]), int(arch[f"kernel_{i}"])
        total += conv_params(kernel, channels, filters, bias=not batch_norm)
        if batch_norm:
            total += BATCH_NORM_WEIGHTS * filters
        if arch[f"skip_{i}"] and channels != filters:
            total += conv_params(1, channels, filters, bias=False)  # the shortcut's 1x1 projection
        if padding == "valid":
            height, width = height - kernel + 1, width - kernel + 1
        if arch[f"pool_{i}"] != "none":
            height, width = height // 2, width // 2
        shape = [height, width, filters]
    features = math.prod(shape)
    for j in range(int(arch["dense_layers"])):
        units = int(arch[f"units_{j}"])
        total += dense_params(features, units)
        features = units
    return total + dense_params(features, num_classes)
