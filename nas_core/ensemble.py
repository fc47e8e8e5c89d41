"""The winner's retrains as one model: the mean of their predicted class probabilities.

The retrain trains the winning architecture with several seeds anyway (`retrain.seeds`), to see
how much test accuracy moves with the initialisation. Averaging those models' softmax outputs
cancels part of that movement: on the tuning seeds the average of 3 scored higher on test than
the first seed's model alone, beyond the noise (BENCHMARKS.md, "The retrain seeds as one
model"), and it costs no extra training. The ensemble is a plain Keras functional model with the
members' input, so it is saved, logged, served and loaded like a single one.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np


def average_models(members: Sequence[keras.Model]) -> keras.Model:
    """One model whose output is the mean of the members' outputs; a single member is returned as it is."""
    if not members:
        raise ValueError("an ensemble needs at least one model")
    if len(members) == 1:
        return members[0]
    inputs = keras.Input(shape=tuple(members[0].input_shape[1:]), name="inputs")
    # Each member becomes a named sub-model: a functional model needs unique layer names at its top level.
    outputs = [keras.Model(member.input, member.output, name=f"seed_{i}")(inputs) for i, member in enumerate(members)]
    # Not compiled: nobody trains it further, and an optimizer it never used would only warn on load.
    return keras.Model(inputs, keras.layers.Average(name="mean_probabilities")(outputs), name="ensemble")


def scores(model: keras.Model, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Cross-entropy and accuracy from the model's predictions: an uncompiled ensemble has no `evaluate`."""
    probabilities = np.asarray(model.predict(x, batch_size=256, verbose=0), dtype="float64")
    picked = np.clip(probabilities[np.arange(len(y)), y.astype(int)], 1e-7, 1.0)
    return float(-np.mean(np.log(picked))), float(np.mean(np.argmax(probabilities, axis=1) == y))
