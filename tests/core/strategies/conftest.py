"""The toy space as a fixture for the strategy tests."""

from __future__ import annotations

import pytest
from toy_problem import make_toy_space

from nas_core.space import SearchSpace


@pytest.fixture
def toy_space() -> SearchSpace:
    return make_toy_space()
