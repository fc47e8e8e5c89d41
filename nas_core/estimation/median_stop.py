"""Median stopping across candidates (Golovin et al. 2017, "Google Vizier").

A candidate is stopped at epoch e when its val accuracy there is below the median of the
earlier candidates' val accuracy at epoch e. The earlier curves travel with the training
request as small tuples of floats; a Keras callback applies the rule in the worker
(`median_stop_callback.py`, apart so that the search process never imports Keras for it).
A stopped candidate is still a COMPLETED result (its val accuracy counts as is), marked
`stopped_early`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from nas_core.estimation_config import MedianStopConfig


@dataclass(frozen=True)
class MedianStopRule:
    """The rule plus the peers' curves (val accuracy per epoch, epoch 1 first)."""

    min_epochs: int = 3
    min_candidates: int = 3
    peer_curves: tuple[tuple[float, ...], ...] = ()

    def with_peers(self, curves: Iterable[Sequence[float]]) -> MedianStopRule:
        return replace(self, peer_curves=tuple(tuple(float(v) for v in curve) for curve in curves))

    def median_at(self, epoch: int) -> float | None:
        """The median of the peers that reached `epoch` (1-based), or `None` when too few did."""
        values = [c[epoch - 1] for c in self.peer_curves if len(c) >= epoch and math.isfinite(c[epoch - 1])]
        if len(values) < self.min_candidates:
            return None
        return float(np.median(values))

    def should_stop(self, epoch: int, value: float) -> bool:
        if epoch < self.min_epochs:
            return False
        median = self.median_at(epoch)
        return median is not None and value < median


def median_stop_rule(cfg: MedianStopConfig) -> MedianStopRule | None:
    """The rule for params.yaml `search.median_stop`, or `None` when it is disabled."""
    if not cfg.enabled:
        return None
    return MedianStopRule(min_epochs=cfg.min_epochs, min_candidates=cfg.min_candidates)
