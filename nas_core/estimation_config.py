"""The params.yaml keys of the cheaper estimation methods (`search.estimation` and its sub-sections).

Kept apart from `nas_core/config.py` so that one concept lives in one module (and outside the
estimation package, which imports the config: no cycle); `SearchConfig`
holds these models as fields.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Estimation = Literal["full", "successive_halving", "hyperband", "oneshot", "darts"]
MULTI_FIDELITY: tuple[str, ...] = ("successive_halving", "hyperband")
WEIGHT_SHARING: tuple[str, ...] = ("oneshot", "darts")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MedianStopConfig(_Section):
    """Stop a candidate whose val accuracy at epoch e is below the median of earlier candidates at e."""

    enabled: bool = False
    min_epochs: int = Field(default=3, gt=0, description="never stop before this epoch")
    min_candidates: int = Field(default=3, gt=0, description="peers that must have reached epoch e")


class HyperbandConfig(_Section):
    """The fidelity schedule of successive halving and Hyperband, in epochs."""

    min_epochs: int = Field(default=1, gt=0)
    max_epochs: int | None = Field(default=None, gt=0, description="null: train.epochs")
    eta: int = Field(default=3, ge=2, description="keep the best 1/eta of each rung, train them eta times longer")

    @model_validator(mode="after")
    def _ordered(self) -> HyperbandConfig:
        if self.max_epochs is not None and self.max_epochs <= self.min_epochs:
            raise ValueError("max_epochs must be larger than min_epochs")
        return self


class OneShotConfig(_Section):
    """Single-path one-shot search: train a supernet once, score paths with inherited weights."""

    epochs: int = Field(default=10, gt=0, description="supernet training epochs")
    evaluations: int = Field(default=200, gt=0, description="paths the strategy scores with inherited weights")
    top_k: int = Field(default=2, gt=0, description="best paths retrained stand-alone, in parallel")
    learning_rate: float = Field(default=3e-3, gt=0.0)


class DartsConfig(_Section):
    """DARTS: softmax-weighted mixed ops, weights on train and architecture on val, first order."""

    epochs: int = Field(default=10, gt=0)
    learning_rate: float = Field(default=3e-3, gt=0.0, description="Adam on the network weights")
    arch_learning_rate: float = Field(default=3e-3, gt=0.0, description="Adam on the architecture parameters")
    arch_weight_decay: float = Field(default=1e-3, ge=0.0)
