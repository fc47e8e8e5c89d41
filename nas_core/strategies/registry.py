"""Maps the names used in params.yaml (`search.strategy`) to strategy classes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from nas_core.strategies.base import Strategy

_REGISTRY: dict[str, type[Strategy]] = {}
S = TypeVar("S", bound=type[Strategy])


def register(name: str) -> Callable[[S], S]:
    """Class decorator: make a strategy selectable by `name`."""

    def add(cls: S) -> S:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return add


def registered() -> dict[str, type[Strategy]]:
    return dict(_REGISTRY)
