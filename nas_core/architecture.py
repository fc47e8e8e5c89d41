"""The CNN search space of params.yaml, and the shape rules that keep every candidate buildable.

A candidate is a stack of conv blocks followed by dense layers. Block i has its own filters,
kernel size, pooling and an optional residual skip; the dense layers have their own units;
activation, padding, dropout and batch norm are chosen once per network.

The shape rule (documented in docs/configuration.md): walking the blocks over the input's spatial size,
- a pooling that would shrink a feature map below 1x1 is dropped ("repaired": pooling none);
- a 'valid' convolution whose kernel is larger than its input map cannot be built, so the
  candidate is rejected before training and recorded FAILED with the block named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nas_core.config import SpaceConfig
from nas_core.errors import NasError
from nas_core.graph_space import describe_graph, is_graph
from nas_core.mlp_space import describe_mlp, is_mlp
from nas_core.space import Condition, Dimension, Sample, SearchSpace, sample_key
from nas_core.text_space import describe_text, is_text

GLOBAL_DIMS = ("activation", "padding", "dropout", "batch_norm")


class InfeasibleArchitecture(ValueError):
    """This candidate cannot be built for the input shape; the message says which block and why."""


def cnn_search_space(cfg: SpaceConfig) -> SearchSpace:
    """The params.yaml `space` section as a generic space with per-block, conditional dimensions."""
    dims: list[Dimension] = [Dimension("conv_blocks", tuple(sorted(cfg.conv_blocks)))]
    conds: list[Condition] = []
    for i in range(max(cfg.conv_blocks)):
        for name, choices in (
            (f"filters_{i}", cfg.filters),
            (f"kernel_{i}", cfg.kernel_size),
            (f"pool_{i}", cfg.pooling),
            (f"skip_{i}", cfg.skip),
        ):
            dims.append(Dimension(name, tuple(choices)))
            conds.append(Condition(name, "conv_blocks", i + 1))
    dims.append(Dimension("dense_layers", tuple(sorted(cfg.dense_layers))))
    for j in range(max(cfg.dense_layers)):
        dims.append(Dimension(f"units_{j}", tuple(cfg.units)))
        conds.append(Condition(f"units_{j}", "dense_layers", j + 1))
    for name in GLOBAL_DIMS:
        dims.append(Dimension(name, tuple(getattr(cfg, name))))
    return SearchSpace(tuple(dims), tuple(conds))


def _conv_output(size: int, kernel: int, padding: str) -> int:
    return size if padding == "same" else size - kernel + 1


def repair(arch: Mapping[str, Any], input_shape: Sequence[int]) -> Sample:
    """Apply the shape rule: drop poolings that would go below 1x1, reject impossible convolutions.

    Only CNNs have one: an mlp or text architecture is buildable as it is (their convolutions pad).
    """
    fixed = dict(arch)
    if is_mlp(arch) or is_text(arch):
        return fixed
    size = min(int(input_shape[0]), int(input_shape[1]))
    for i in range(int(arch["conv_blocks"])):
        kernel = int(arch[f"kernel_{i}"])
        if arch["padding"] == "valid" and kernel > size:
            raise InfeasibleArchitecture(
                f"block {i}: a {kernel}x{kernel} 'valid' convolution does not fit a {size}x{size} feature map"
            )
        size = _conv_output(size, kernel, str(arch["padding"]))
        if arch[f"pool_{i}"] != "none":
            if size < 2:
                fixed[f"pool_{i}"] = "none"
            else:
                size //= 2
    return fixed


def prepare_architecture(space: SearchSpace, sample: Mapping[str, Any], input_shape: Sequence[int]) -> Sample:
    """The architecture that will really be trained for a strategy's sample: canonical and repaired."""
    return space.canonical(repair(space.canonical(sample), input_shape))


def architecture_key(space: SearchSpace, sample: Mapping[str, Any], input_shape: Sequence[int]) -> str:
    """Identity of what gets trained, so that two samples repaired into one model count as one."""
    try:
        return sample_key(prepare_architecture(space, sample, input_shape))
    except InfeasibleArchitecture:
        return sample_key(space.canonical(sample))


def describe(arch: Mapping[str, Any]) -> str:
    """A one-line summary for progress output, e.g. `c32k3+max c64k5+skip d128 | relu bn do0.25`."""
    if is_graph(arch):
        return describe_graph(arch)
    if is_mlp(arch):
        return describe_mlp(arch)
    if is_text(arch):
        return describe_text(arch)
    parts = []
    for i in range(int(arch.get("conv_blocks", 0))):
        text = f"c{arch[f'filters_{i}']}k{arch[f'kernel_{i}']}"
        if arch.get(f"skip_{i}"):
            text += "+skip"
        if arch.get(f"pool_{i}", "none") != "none":
            text += f"+{arch[f'pool_{i}']}"
        parts.append(text)
    parts += [f"d{arch[f'units_{j}']}" for j in range(int(arch.get("dense_layers", 0)))]
    extras = [str(arch.get("activation", ""))]
    if arch.get("batch_norm"):
        extras.append("bn")
    if arch.get("dropout"):
        extras.append(f"do{arch['dropout']}")
    if arch.get("padding") == "valid":
        extras.append("valid")
    return " ".join(parts or ["linear"]) + " | " + " ".join(extras)


def check_space_for_input(space: SearchSpace, input_shape: Sequence[int]) -> None:
    """Fail before any training when no architecture in the space fits the input shape.

    The smallest kernel with the fewest blocks is the most forgiving candidate; if even it
    cannot be built, nothing can.
    """
    easiest = {d.name: d.choices[0] for d in space.dimensions}
    easiest["conv_blocks"] = min(space.dimension("conv_blocks").choices)
    for i in range(int(easiest["conv_blocks"])):
        easiest[f"kernel_{i}"] = min(space.dimension(f"kernel_{i}").choices)
    if "same" in space.dimension("padding").choices:
        easiest["padding"] = "same"
    try:
        repair(space.canonical(easiest), input_shape)
    except InfeasibleArchitecture as error:
        raise NasError(
            f"space: no architecture in the space fits inputs of shape {tuple(input_shape)} ({error}); "
            "allow fewer conv_blocks, smaller kernel_size or padding 'same'"
        ) from None
