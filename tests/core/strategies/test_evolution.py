"""Regularized evolution: aging, tournaments and one-choice mutations."""

from __future__ import annotations

import numpy as np
from toy_problem import toy_score

from nas_core.space import SearchSpace
from nas_core.strategies.evolution import RegularizedEvolution, mutate


def changed(a: dict, b: dict) -> list[str]:
    """Dimensions whose value differs between two full samples."""
    return sorted(k for k in a if a[k] != b[k])


def test_aging_removes_the_oldest_member_not_the_worst(toy_space: SearchSpace) -> None:
    evolution = RegularizedEvolution(toy_space, seed=0, population_size=3)
    members = [toy_space.sample(np.random.default_rng(i)) for i in range(4)]
    for member, score in zip(members, [0.99, 0.10, 0.20, 0.50], strict=True):
        evolution.tell(member, score)

    alive = [(sample, score) for sample, score in evolution.population]
    assert [score for _, score in alive] == [0.10, 0.20, 0.50]  # the best, but oldest, died
    assert alive[0][0] == toy_space.complete(members[1])  # the worst is still there


def test_samples_randomly_until_the_population_is_full(toy_space: SearchSpace) -> None:
    evolution = RegularizedEvolution(toy_space, seed=1, population_size=5)
    first = evolution.ask(5)
    random_rng = np.random.default_rng(1)
    assert first == [toy_space.sample(random_rng) for _ in range(5)]


def test_children_mutate_one_active_choice_of_the_tournament_winner(toy_space: SearchSpace) -> None:
    # sample_size == population_size: the tournament always picks the best member.
    evolution = RegularizedEvolution(toy_space, seed=2, population_size=6, sample_size=6)
    for sample in evolution.ask(6):
        evolution.tell(sample, toy_score(sample))
    best = max(evolution.population, key=lambda member: member[1])[0]

    for child in evolution.ask(20):
        assert len(changed(best, child)) == 1


def test_mutate_never_touches_an_inactive_dimension(toy_space: SearchSpace) -> None:
    rng = np.random.default_rng(0)
    shallow = {"depth": 1, "width": 8, "act": "relu", "extra": 0}  # extra is inactive at depth 1
    for _ in range(50):
        child = mutate(toy_space, shallow, rng)
        assert child != shallow and child["extra"] == 0


def test_crossover_children_mix_two_parents(toy_space: SearchSpace) -> None:
    evolution = RegularizedEvolution(toy_space, seed=3, population_size=8, sample_size=2, crossover_prob=1.0)
    for sample in evolution.ask(8):
        evolution.tell(sample, toy_score(sample))
    members = [m for m, _ in evolution.population]
    children = evolution.ask(30)
    # With crossover a child can be 2+ choices away from every member, which mutation alone never is.
    far = [c for c in children if min(len(changed(c, m)) for m in members) >= 2]
    assert far, "crossover never produced a child beyond one mutation of a member"


def test_history_fills_the_first_population_instead_of_random_samples(toy_space: SearchSpace) -> None:
    members = [toy_space.sample(np.random.default_rng(i)) for i in range(5)]
    evolution = RegularizedEvolution(toy_space, seed=2, population_size=5, sample_size=5)
    for i, member in enumerate(members):
        evolution.remember(member, 0.1 * i)
    child = evolution.ask(1)[0]
    assert len(changed(toy_space.complete(child), toy_space.complete(members[4]))) == 1  # a mutant of the best


def test_handed_over_architectures_are_the_first_population(toy_space: SearchSpace) -> None:
    members = [toy_space.sample(np.random.default_rng(i)) for i in range(2)]
    evolution = RegularizedEvolution(toy_space, seed=3, population_size=4)
    assert evolution.prime(members) == members
    assert len(evolution.ask(2)) == 2  # random members fill the rest of the first population
    for sample, score in zip(members + evolution.ask(0), [0.9, 0.8], strict=False):
        evolution.tell(sample, score)
    assert evolution.random_asked == 4  # so the next proposal is a mutant, not another random one
