"""The Pareto front of accuracy against parameter count."""

from __future__ import annotations

import numpy as np

from nas_core.pareto import ParetoFront, ParetoPoint, pareto_front, point_of
from nas_core.results import COMPLETED, CandidateResult, failed


def brute_force_front(points: list[ParetoPoint]) -> set[tuple[float, float]]:
    return {(p.accuracy, p.cost) for p in points if not any(q.dominates(p) for q in points)}


def test_front_keeps_exactly_the_non_dominated_points_cheapest_first() -> None:
    points = [
        ParetoPoint(0, 0.90, 5_000),
        ParetoPoint(1, 0.95, 50_000),
        ParetoPoint(2, 0.91, 60_000),  # dominated by 1: less accurate and bigger
        ParetoPoint(3, 0.97, 400_000),
        ParetoPoint(4, 0.90, 7_000),  # dominated by 0: as accurate, bigger
    ]
    assert [p.index for p in pareto_front(points)] == [0, 1, 3]


def test_front_matches_a_brute_force_definition_on_random_points() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        # Rounded values make ties (same accuracy or same size) common, the tricky part.
        points = [
            ParetoPoint(i, round(float(rng.uniform(0.5, 1.0)), 1), float(rng.integers(1, 8)))
            for i in range(int(rng.integers(1, 15)))
        ]
        front = pareto_front(points)
        assert {(p.accuracy, p.cost) for p in front} == brute_force_front(points)
        assert [p.cost for p in front] == sorted(p.cost for p in front)


def test_identical_points_keep_the_earlier_candidate() -> None:
    assert [p.index for p in pareto_front([ParetoPoint(5, 0.9, 10), ParetoPoint(2, 0.9, 10)])] == [2]


def test_incremental_front_equals_the_batch_front_and_ignores_failures() -> None:
    rng = np.random.default_rng(1)
    front = ParetoFront()
    results = []
    for i in range(40):
        if i % 7 == 3:
            results.append(failed(f"k{i}", {}, "boom", i))
        else:
            accuracy, params = float(rng.uniform(0.5, 1.0)), int(rng.integers(100, 100_000))
            results.append(CandidateResult(f"k{i}", {}, COMPLETED, val_accuracy=accuracy, params=params, index=i))
        joined = front.add_result(results[-1])
        assert joined == (i in front.indices())
    batch = pareto_front(p for r in results if (p := point_of(r)) is not None)
    assert front.points == batch
    assert all(results[i].ok for i in front.indices())
    assert front.to_list()[0] == {"index": batch[0].index, "accuracy": batch[0].accuracy, "cost": batch[0].cost}
