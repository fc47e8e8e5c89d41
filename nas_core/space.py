"""A search space as plain data: named dimensions of finite choices, some active only conditionally.

A sample is a plain dict {dimension name: value}. Strategies see only this generic structure,
so every strategy works on any space of categorical and integer choices, not just CNNs.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nas_core.errors import NasError

Sample = dict[str, Any]


@dataclass(frozen=True)
class Dimension:
    """One choice to make: a name and its allowed values (ints, floats, strings or bools)."""

    name: str
    choices: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.choices:
            raise NasError(f"space: dimension '{self.name}' has no choices")

    def index(self, value: Any) -> int:
        """Position of `value` among the choices (strategies encode samples this way)."""
        for i, choice in enumerate(self.choices):
            if type(choice) is type(value) and choice == value:
                return i
        for i, choice in enumerate(self.choices):
            if choice == value:
                return i
        raise ValueError(f"{value!r} is not a choice of '{self.name}'")


@dataclass(frozen=True)
class Condition:
    """`dimension` only matters when the value of `parent` is at least `min_value`.

    This is how "the filters of block 3" stop mattering when there are only two blocks.
    """

    dimension: str
    parent: str
    min_value: int


@dataclass(frozen=True)
class SearchSpace:
    """Named dimensions plus the conditions under which some of them are inactive."""

    dimensions: tuple[Dimension, ...]
    conditions: tuple[Condition, ...] = field(default=())

    def __post_init__(self) -> None:
        names = [d.name for d in self.dimensions]
        if len(set(names)) != len(names):
            raise NasError(f"space: duplicate dimension names in {names}")

    @classmethod
    def from_choices(cls, choices: Mapping[str, Sequence[Any]]) -> SearchSpace:
        """The simple way in: a mapping from dimension name to its list of choices."""
        return cls(tuple(Dimension(name, tuple(values)) for name, values in choices.items()))

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    def dimension(self, name: str) -> Dimension:
        for d in self.dimensions:
            if d.name == name:
                return d
        raise KeyError(name)

    def is_active(self, name: str, sample: Mapping[str, Any]) -> bool:
        return all(sample[c.parent] >= c.min_value for c in self.conditions if c.dimension == name)

    def canonical(self, sample: Mapping[str, Any]) -> Sample:
        """The sample without its inactive dimensions: two samples that build the same model are equal."""
        return {d.name: sample[d.name] for d in self.dimensions if self.is_active(d.name, sample)}

    def complete(self, sample: Mapping[str, Any]) -> Sample:
        """Fill inactive dimensions missing from a canonical sample with their first choice."""
        return {d.name: sample.get(d.name, d.choices[0]) for d in self.dimensions}

    def contains(self, sample: Mapping[str, Any]) -> bool:
        try:
            for d in self.dimensions:
                if self.is_active(d.name, sample) or d.name in sample:
                    d.index(sample[d.name])
        except (KeyError, ValueError):
            return False
        return True

    def sample(self, rng: np.random.Generator) -> Sample:
        """A uniformly random full sample."""
        return {d.name: d.choices[int(rng.integers(len(d.choices)))] for d in self.dimensions}

    def size(self) -> int:
        """The number of distinct architectures (canonical samples) in the space."""
        if not self.conditions:
            return math.prod(len(d.choices) for d in self.dimensions)
        return _count_canonical(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dimensions": {d.name: list(d.choices) for d in self.dimensions},
            "conditions": [vars(c) for c in self.conditions],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchSpace:
        dims = tuple(Dimension(name, tuple(values)) for name, values in data["dimensions"].items())
        conds = tuple(Condition(**c) for c in data.get("conditions", []))
        return cls(dims, conds)


def _count_canonical(space: SearchSpace) -> int:
    """Count canonical samples by enumerating only the parents of conditions."""
    parents = sorted({c.parent for c in space.conditions})
    free = [d for d in space.dimensions if d.name not in parents]
    total = 0
    for combo in np.ndindex(*(len(space.dimension(p).choices) for p in parents)):
        assignment = {p: space.dimension(p).choices[i] for p, i in zip(parents, combo, strict=True)}
        count = 1
        for d in free:
            if space.is_active(d.name, assignment | {d.name: d.choices[0]}):
                count *= len(d.choices)
        total += count
    return total


def sample_key(sample: Mapping[str, Any]) -> str:
    """A stable short hash of a (canonical) sample: the candidate's identity across runs."""
    text = json.dumps(dict(sample), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
