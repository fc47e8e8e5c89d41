"""The Keras side of median stopping: a callback that applies a `MedianStopRule` after each epoch.

Separate from `median_stop.py` so that the orchestrating process, which only builds rules,
does not import Keras (and TensorFlow) for it; only the training worker imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras

from nas_core.estimation.median_stop import MedianStopRule

MONITOR = "val_accuracy"


class MedianStopCallback(keras.callbacks.Callback):
    """Applies a `MedianStopRule` after each epoch; `stopped_early` tells the trainer it fired."""

    def __init__(self, rule: MedianStopRule) -> None:
        super().__init__()
        self.rule = rule
        self.stopped_early = False
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        value = (logs or {}).get(MONITOR)
        if value is None:
            return
        if self.rule.should_stop(epoch + 1, float(value)):  # Keras counts from 0, including initial_epoch
            self.stopped_early = True
            self.stopped_epoch = epoch + 1
            self.model.stop_training = True
