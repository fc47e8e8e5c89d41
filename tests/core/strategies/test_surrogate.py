"""Surrogate-guided local search: seeded, one-hot encoded, never repeats itself, learns from history."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_tpe import best_after
from toy_problem import make_planted_space, toy_score

from nas_core import NasError, make_strategy
from nas_core.space import SearchSpace, sample_key
from nas_core.strategies.surrogate import SurrogateSearch, one_hot


def drive(strategy: SurrogateSearch, steps: int) -> list[dict]:
    seen = []
    for _ in range(steps):
        sample = strategy.ask(1)[0]
        strategy.tell(sample, toy_score(sample))
        seen.append(sample)
    return seen


def test_one_hot_marks_one_choice_per_active_dimension_and_none_for_an_inactive_one(toy_space: SearchSpace) -> None:
    shallow = {"depth": 1, "width": 16, "act": "tanh", "extra": 2}  # extra is inactive at depth 1
    deep = {"depth": 3, "width": 16, "act": "tanh", "extra": 2}
    encoded = one_hot(toy_space, [shallow, deep])
    assert encoded.shape == (2, 3 + 4 + 2 + 3)
    assert encoded.sum(axis=1).tolist() == [3, 4]
    assert encoded[0, -3:].tolist() == [0, 0, 0] and encoded[1, -3:].tolist() == [0, 0, 1]


def test_the_same_seed_gives_the_same_proposals_and_another_seed_others(toy_space: SearchSpace) -> None:
    first = drive(SurrogateSearch(toy_space, seed=5, n_random=4), 25)
    assert drive(SurrogateSearch(toy_space, seed=5, n_random=4), 25) == first
    assert drive(SurrogateSearch(toy_space, seed=6, n_random=4), 25) != first


def test_it_never_proposes_an_architecture_twice_on_its_own(toy_space: SearchSpace) -> None:
    samples = drive(SurrogateSearch(toy_space, seed=0, n_random=3), 40)
    assert all(toy_space.contains(s) for s in samples)
    keys = [sample_key(toy_space.canonical(s)) for s in samples]
    assert len(set(keys)) == len(keys)  # no Deduplicated here: the candidates leave out what was asked


def test_a_batch_asked_ahead_of_its_scores_holds_distinct_architectures(toy_space: SearchSpace) -> None:
    strategy = SurrogateSearch(toy_space, seed=1, n_random=4)
    drive(strategy, 6)
    batch = strategy.ask(4)  # a parallel search asks before the results are in
    assert len({sample_key(toy_space.canonical(s)) for s in batch}) == 4


def test_a_failure_is_left_out_of_the_model_and_never_proposed_again(toy_space: SearchSpace) -> None:
    strategy = SurrogateSearch(toy_space, seed=2, n_random=2)
    first, second = strategy.ask(2)
    strategy.tell(first, None)
    strategy.tell(second, math.nan)
    assert not strategy.scored
    more = drive(strategy, 10)
    assert not {sample_key(toy_space.canonical(s)) for s in more} & {
        sample_key(toy_space.canonical(s)) for s in (first, second)
    }

    wrapped = make_strategy("surrogate", toy_space, seed=2)  # FailureAware: told as the worst score seen
    sample = wrapped.ask(1)[0]
    wrapped.tell(sample, None)
    assert wrapped.ask(1)


def test_history_replaces_the_random_start(toy_space: SearchSpace) -> None:
    rng = np.random.default_rng(0)
    history = [toy_space.sample(rng) for _ in range(12)]
    strategy = SurrogateSearch(toy_space, seed=3, n_random=10)
    for sample in history:
        strategy.remember(sample, toy_score(sample))
    assert strategy.random_asked == 10  # the next proposal is the predictor's
    child = strategy.ask(1)[0]
    assert sample_key(toy_space.canonical(child)) not in {sample_key(toy_space.canonical(s)) for s in history}


def test_handed_over_architectures_go_first_in_place_of_random_ones(toy_space: SearchSpace) -> None:
    handed = [{"depth": 3, "width": 64, "act": "relu", "extra": 2}, {"depth": 1, "width": 8, "act": "tanh", "extra": 0}]
    strategy = make_strategy("surrogate", toy_space, seed=4, first=handed, n_random=3)
    assert strategy.ask(2) == handed
    inner = strategy.inner.inner.inner
    assert isinstance(inner, SurrogateSearch) and inner.random_asked == 2


def test_bad_options_name_the_key(toy_space: SearchSpace) -> None:
    with pytest.raises(NasError, match="acquisition"):
        make_strategy("surrogate", toy_space, acquisition="ei")


def test_finds_a_planted_optimum_sooner_than_random() -> None:
    space = make_planted_space()
    found = {name: best_after(name, space, queries=60, seeds=range(6)) for name in ("surrogate", "random")}
    assert np.mean(found["surrogate"]) > np.mean(found["random"]) + 0.1, found
