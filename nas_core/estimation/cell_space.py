"""The reduced space that the weight-sharing methods (one-shot, DARTS) search, and its map to the CNN space.

A supernet must hold every choice at once, so it has a fixed depth: `max(space.conv_blocks)`
conv blocks, each choosing its own `filters` and `kernel_size` from the params.yaml lists.
Every other choice of the CNN space is fixed to one value: pooling `max` (or the first listed)
after every block, subject to the shape rule; no skip (if `false` is allowed); the smallest
`dense_layers` with the first `units`; the first `activation` and `dropout`; batch norm (if
`true` is allowed); padding `same`, which the supernet needs so that every kernel of a block
gives the same output size. `to_architecture` turns a reduced sample into a CNN-space
architecture, which is what gets retrained stand-alone and, as the winner, by the retrain stage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from nas_core.architecture import repair
from nas_core.config import SpaceConfig
from nas_core.errors import NasError
from nas_core.space import Dimension, Sample, SearchSpace


@dataclass(frozen=True)
class CellSpace:
    """`blocks` blocks, each choosing (filters, kernel); `fixed` holds the CNN choices that do not vary."""

    blocks: int
    filters: tuple[int, ...]
    kernels: tuple[int, ...]
    fixed: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: SpaceConfig) -> CellSpace:
        blocks = max(cfg.conv_blocks)
        if blocks < 1:
            raise NasError("space.conv_blocks: one-shot and DARTS search conv blocks; allow at least 1")
        if "same" not in cfg.padding:
            raise NasError("space.padding: one-shot and DARTS need 'same' padding (every kernel, one output size)")
        dense = min(cfg.dense_layers)
        fixed: dict[str, Any] = {
            "pool": "max" if "max" in cfg.pooling else cfg.pooling[0],
            "skip": False if False in cfg.skip else cfg.skip[0],
            "dense_layers": dense,
            "units": cfg.units[0],
            "activation": cfg.activation[0],
            "dropout": cfg.dropout[0],
            "batch_norm": True in cfg.batch_norm,
            "padding": "same",
        }
        return cls(blocks, tuple(sorted(cfg.filters)), tuple(sorted(cfg.kernel_size)), fixed)

    @property
    def max_filters(self) -> int:
        return max(self.filters)

    def search_space(self) -> SearchSpace:
        """What a strategy searches: `filters_i` and `kernel_i` for every block."""
        dims = []
        for i in range(self.blocks):
            dims += [Dimension(f"filters_{i}", self.filters), Dimension(f"kernel_{i}", self.kernels)]
        return SearchSpace(tuple(dims))

    def ops(self) -> list[tuple[int, int]]:
        """The candidate operations of one block, (filters, kernel): DARTS mixes them, one-shot picks one."""
        return list(product(self.filters, self.kernels))

    def to_architecture(self, sample: Mapping[str, Any], input_shape: Sequence[int]) -> Sample:
        """The CNN-space architecture for a reduced sample, with the shape rule applied (poolings below 1x1 dropped)."""
        arch: Sample = {"conv_blocks": self.blocks}
        for i in range(self.blocks):
            arch |= {
                f"filters_{i}": int(sample[f"filters_{i}"]),
                f"kernel_{i}": int(sample[f"kernel_{i}"]),
                f"pool_{i}": self.fixed["pool"],
                f"skip_{i}": self.fixed["skip"],
            }
        arch["dense_layers"] = self.fixed["dense_layers"]
        for j in range(self.fixed["dense_layers"]):
            arch[f"units_{j}"] = self.fixed["units"]
        for name in ("activation", "padding", "dropout", "batch_norm"):
            arch[name] = self.fixed[name]
        return repair(arch, input_shape)

    def poolings(self, input_shape: Sequence[int]) -> list[str]:
        """The pooling after each block once the shape rule ran: what the supernet must do too."""
        any_sample = {f"{p}_{i}": c for i in range(self.blocks) for p, c in (("filters", 1), ("kernel", 1))}
        arch = self.to_architecture(any_sample, input_shape)
        return [str(arch[f"pool_{i}"]) for i in range(self.blocks)]
