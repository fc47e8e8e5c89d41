"""How far an accuracy measured on n examples can be trusted: a 95% Wilson score interval.

A candidate's val accuracy is a proportion of n val examples, so its noise follows from n alone.
Wilson's interval, unlike the plain `p ± 1.96·sqrt(p(1-p)/n)`, stays inside [0, 1] and keeps a
width at p = 1: 269 val images (digits) all right still leave [0.986, 1.0], which is what "val saturates"
means in numbers. Two accuracies whose intervals overlap are not told apart by that data.
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # the two-sided 95% point of the standard normal


def wilson_interval(accuracy: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The 95% interval of an accuracy measured on `n` examples (n > 0)."""
    if n <= 0:
        raise ValueError(f"an accuracy needs at least one example, got n = {n}")
    p = min(1.0, max(0.0, accuracy))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))  # holds p despite rounding


def standard_error(accuracy: float, n: int) -> float:
    """The spread of an accuracy on `n` examples: the Wilson interval's half-width over z.

    Unlike the plain binomial sqrt(p(1-p)/n), it is not zero for a perfect score."""
    low, high = wilson_interval(accuracy, n)
    return (high - low) / (2 * Z95)


def difference_noise(se_a: float, se_b: float, z: float = Z95) -> float:
    """The 95% half-width of the difference of two independent accuracies: a gap beyond it is not noise."""
    return z * math.hypot(se_a, se_b)
