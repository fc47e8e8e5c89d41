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
