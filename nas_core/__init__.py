"""The pure NAS core: search space, strategies, model builder, training and the search loop.

It imports numpy, keras/tensorflow and pydantic (for the config) only; orchestration, tracking and
the user's file formats live in `flows/`.
"""

from nas_core.errors import NasError
from nas_core.space import SearchSpace
from nas_core.strategies import available_strategies, make_strategy

__all__ = ["NasError", "SearchSpace", "available_strategies", "make_strategy"]
