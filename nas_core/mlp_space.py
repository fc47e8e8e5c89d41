"""The tabular search space (`space.kind: mlp`): a stack of dense layers over the table's encoded columns.

A candidate is `hidden_layers` dense layers, layer j with its own `units_j`; activation, dropout,
batch norm and residual connections are chosen once per network. The input is the float32 matrix
that `nas_core.tabular.encode` makes of the table, so the builder only needs its width.

Dimensions that cannot change the model are inactive, so `SearchSpace.canonical` makes samples
that build the same network equal and no strategy trains the same model twice:
- `units_j` only matters with more than j layers;
- activation, dropout and batch norm only matter with at least one hidden layer (0 layers is
  logistic regression);
- residual only matters with at least two layers (the first layer has no same-sized input to add).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nas_core.space import Condition, Dimension, SearchSpace

if TYPE_CHECKING:  # types only: the config imports the strategies; Keras is imported where a model is built,
    import keras  # so that the flow process, which describes architectures, never loads TensorFlow

    from nas_core.config import MlpSpaceConfig

PER_NETWORK_DIMS = ("activation", "dropout", "batch_norm", "residual")
# The fewest hidden layers at which each per-network choice changes the model.
_MIN_LAYERS = {"activation": 1, "dropout": 1, "batch_norm": 1, "residual": 2}


def mlp_search_space(cfg: MlpSpaceConfig) -> SearchSpace:
    """The params.yaml `space` section (kind mlp) as a generic space with per-layer, conditional dimensions."""
    dims: list[Dimension] = [Dimension("hidden_layers", tuple(sorted(cfg.hidden_layers)))]
    conds: list[Condition] = []
    for j in range(max(cfg.hidden_layers)):
        dims.append(Dimension(f"units_{j}", tuple(cfg.units)))
        conds.append(Condition(f"units_{j}", "hidden_layers", j + 1))
    for name in PER_NETWORK_DIMS:
        dims.append(Dimension(name, tuple(getattr(cfg, name))))
        conds.append(Condition(name, "hidden_layers", _MIN_LAYERS[name]))
    return SearchSpace(tuple(dims), tuple(conds))


def is_mlp(arch: Mapping[str, Any]) -> bool:
    """Whether a sample comes from the mlp space (its only dimension that is always active)."""
    return "hidden_layers" in arch


def _shortcut(layer_input: Any, output: Any, units: int) -> Any:
    """The residual branch: the layer's input, projected without bias when its width differs."""
    import keras

    shortcut = layer_input
    if layer_input.shape[-1] != units:
        shortcut = keras.layers.Dense(units, use_bias=False)(shortcut)
    return keras.layers.Add()([shortcut, output])


def build_mlp(arch: Mapping[str, Any], input_shape: Sequence[int], num_classes: int) -> keras.Model:
    """Build (not compile) the model for `arch` over encoded rows of shape `input_shape`, e.g. `(width,)`.

    Inactive dimensions may be missing (a canonical sample): they cannot change the model.
    """
    import keras

    layers = int(arch["hidden_layers"])
    batch_norm = bool(arch.get("batch_norm", False))
    dropout = float(arch.get("dropout", 0.0))
    residual = bool(arch.get("residual", False))
    inputs = keras.Input(shape=tuple(int(d) for d in input_shape))
    x = inputs
    for j in range(layers):
        units = int(arch[f"units_{j}"])
        layer_input = x
        x = keras.layers.Dense(units, use_bias=not batch_norm)(x)
        if batch_norm:
            # Momentum 0.9 as in nas_core.builder: few steps per epoch would leave 0.99's statistics lagging.
            x = keras.layers.BatchNormalization(momentum=0.9)(x)
        if residual and j > 0:
            x = _shortcut(layer_input, x, units)
        x = keras.layers.Activation(str(arch["activation"]))(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="mlp")


def describe_mlp(arch: Mapping[str, Any]) -> str:
    """A one-line summary for progress output, e.g. `d128 d64 | relu bn do0.1 res`; `linear` for 0 layers."""
    layers = int(arch["hidden_layers"])
    if layers == 0:
        return "linear"
    parts = [f"d{arch[f'units_{j}']}" for j in range(layers)]
    extras = [str(arch.get("activation", ""))]
    if arch.get("batch_norm"):
        extras.append("bn")
    if arch.get("dropout"):
        extras.append(f"do{arch['dropout']}")
    if arch.get("residual") and layers > 1:
        extras.append("res")
    return " ".join(parts) + " | " + " ".join(extras)
