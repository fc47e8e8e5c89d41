"""The pure schedule of successive halving and Hyperband (Li et al. 2018, JMLR), over epochs.

Successive halving trains n candidates for r epochs, keeps the best n/eta, trains those eta
times longer, and so on up to `max_epochs`. Hyperband hedges against a too aggressive start by
running several such brackets, from "many candidates, few epochs" to "few candidates, every
epoch". This module only plans: brackets, rung sizes and promotions. It imports no TensorFlow,
so it is tested on toy objectives; `multifidelity.run_multifidelity` runs a plan.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from nas_core.errors import NasError


@dataclass(frozen=True)
class Rung:
    """One rung of a bracket: `size` candidates trained up to `epochs` epochs in all."""

    index: int
    size: int
    epochs: int


@dataclass(frozen=True)
class Bracket:
    """A successive-halving run; `s` is its aggressiveness (s + 1 rungs, s = 0 is plain full training)."""

    s: int
    rungs: tuple[Rung, ...]

    @property
    def candidates(self) -> int:
        return self.rungs[0].size

    def total_epochs(self) -> int:
        """Epochs trained when every promoted candidate resumes from its checkpoint."""
        done, previous = 0, 0
        for rung in self.rungs:
            done += rung.size * (rung.epochs - previous)
            previous = rung.epochs
        return done


def _check(min_epochs: int, max_epochs: int, eta: int) -> None:
    if eta < 2:
        raise NasError(f"search.hyperband.eta: must be at least 2, got {eta}")
    if not 0 < min_epochs < max_epochs:
        raise NasError(
            f"search.hyperband: min_epochs ({min_epochs}) must be positive and below max_epochs ({max_epochs})"
        )


def max_bracket(min_epochs: int, max_epochs: int, eta: int) -> int:
    """s_max = floor(log_eta(max/min)): the most rungs a bracket can have, minus one."""
    _check(min_epochs, max_epochs, eta)
    s = 0
    while min_epochs * eta ** (s + 1) <= max_epochs:
        s += 1
    return s


def rung_epochs(s: int, min_epochs: int, max_epochs: int, eta: int) -> list[int]:
    """Epochs of each rung of bracket s: max_epochs * eta^(i - s), rounded, increasing, ending at max_epochs."""
    epochs: list[int] = []
    for i in range(s + 1):
        value = max(min_epochs, round(max_epochs * float(eta) ** (i - s)))
        if epochs and value <= epochs[-1]:
            value = epochs[-1] + 1
        epochs.append(value)
    epochs[-1] = max_epochs
    return epochs


def bracket(s: int, n: int, min_epochs: int, max_epochs: int, eta: int) -> Bracket:
    """Successive halving of n candidates over s + 1 rungs: rung i keeps floor(n / eta^i), at least 1."""
    _check(min_epochs, max_epochs, eta)
    if n < 1:
        raise ValueError("a bracket needs at least one candidate")
    sizes = [max(1, n // eta**i) for i in range(s + 1)]
    epochs = rung_epochs(s, min_epochs, max_epochs, eta)
    return Bracket(s, tuple(Rung(i, size, e) for i, (size, e) in enumerate(zip(sizes, epochs, strict=True))))


def hyperband_brackets(min_epochs: int, max_epochs: int, eta: int) -> list[Bracket]:
    """One Hyperband iteration: brackets s = s_max .. 0, bracket s starting ceil((s_max+1)/(s+1) * eta^s)."""
    s_max = max_bracket(min_epochs, max_epochs, eta)
    return [
        bracket(s, math.ceil((s_max + 1) / (s + 1) * eta**s), min_epochs, max_epochs, eta) for s in range(s_max, -1, -1)
    ]


def plan(budget: int, min_epochs: int, max_epochs: int, eta: int, method: str = "hyperband") -> list[Bracket]:
    """Brackets that together start exactly `budget` candidates.

    `hyperband` cycles through its brackets (most aggressive first) until the budget is used;
    `successive_halving` repeats its most aggressive bracket. The last bracket is cut to what is
    left of the budget, its rungs shrinking by eta as usual.
    """
    if method not in ("hyperband", "successive_halving"):
        raise NasError(f"search.estimation: '{method}' is not a multi-fidelity method")
    s_max = max_bracket(min_epochs, max_epochs, eta)
    cycle = (
        hyperband_brackets(min_epochs, max_epochs, eta)
        if method == "hyperband"
        else [bracket(s_max, eta**s_max, min_epochs, max_epochs, eta)]
    )
    brackets: list[Bracket] = []
    left = budget
    while left > 0:
        for full in cycle:
            if left <= 0:
                break
            n = min(full.candidates, left)
            brackets.append(full if n == full.candidates else bracket(full.s, n, min_epochs, max_epochs, eta))
            left -= n
    return brackets


def promote(scores: Iterable[tuple[int, float | None]], keep: int) -> list[int]:
    """The ids of the `keep` best scores (failed ones, `None`, never); ties go to the earlier id."""
    ranked = sorted(((score, ident) for ident, score in scores if score is not None), key=lambda p: (-p[0], p[1]))
    return sorted(ident for _, ident in ranked[: max(0, keep)])
