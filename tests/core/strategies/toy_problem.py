"""A toy space with a condition and a toy objective: strategies are tested with no training at all.

A plainly named module rather than conftest.py, so that tests can import it without clashing with
tests/conftest.py.
"""

from __future__ import annotations

from typing import Any

from nas_core.space import Condition, Dimension, SearchSpace


def make_toy_space() -> SearchSpace:
    """56 architectures; `extra` only matters for depth >= 2, like a deeper block's filters."""
    return SearchSpace(
        (
            Dimension("depth", (1, 2, 3)),
            Dimension("width", (8, 16, 32, 64)),
            Dimension("act", ("relu", "tanh")),
            Dimension("extra", (0, 1, 2)),
        ),
        (Condition("extra", "depth", 2),),
    )


def toy_score(sample: dict[str, Any]) -> float:
    """Higher for wider, relu, deeper models; deterministic, with one best architecture."""
    score = sample["width"] / 64 + (0.5 if sample["act"] == "relu" else 0.0) + 0.1 * sample["depth"]
    if sample["depth"] >= 2:
        score += 0.05 * sample["extra"]
    return score


def make_planted_space() -> SearchSpace:
    """2,880 architectures with one planted best; the second block's choices only matter with two blocks."""
    return SearchSpace(
        (
            Dimension("blocks", (1, 2)),
            Dimension("op_1", ("conv3", "conv5", "pool", "skip")),
            Dimension("op_2", ("conv3", "conv5", "pool", "skip")),
            Dimension("width", (8, 16, 32, 64)),
            Dimension("act", ("relu", "tanh", "gelu", "sigmoid")),
            Dimension("norm", ("none", "batch", "layer")),
            Dimension("dropout", (0.0, 0.1, 0.3)),
        ),
        (Condition("op_2", "blocks", 2),),
    )


PLANTED = {"blocks": 2, "op_1": "conv5", "op_2": "pool", "width": 32, "act": "gelu", "norm": "layer", "dropout": 0.1}


def planted_score(sample: dict[str, Any]) -> float:
    """1.0 at PLANTED only; each matching choice adds a share, and a width mismatch costs more with gelu."""
    matches = sum(sample[name] == value for name, value in PLANTED.items() if name != "op_2")
    if sample["blocks"] == 2:
        matches += sample["op_2"] == PLANTED["op_2"]
    score = matches / len(PLANTED)
    if sample["act"] == "gelu" and sample["width"] != PLANTED["width"]:
        score -= 0.1  # an interaction: gelu is only good at the right width
    return score
