"""TPE through Optuna's ask/tell: seeded, define-by-run over conditional choices, failures and history told."""

from __future__ import annotations

import math

import numpy as np
import optuna
from toy_problem import make_planted_space, planted_score, toy_score

from nas_core import make_strategy
from nas_core.space import SearchSpace, sample_key
from nas_core.strategies.tpe import TreeParzen


def drive(strategy: TreeParzen, steps: int) -> list[dict]:
    """The bare strategy, no wrappers: ask one, tell its score."""
    seen = []
    for _ in range(steps):
        sample = strategy.ask(1)[0]
        strategy.tell(sample, toy_score(sample))
        seen.append(sample)
    return seen


def test_the_same_seed_gives_the_same_proposals_and_another_seed_others(toy_space: SearchSpace) -> None:
    first = drive(TreeParzen(toy_space, seed=5, n_startup_trials=4), 20)
    assert drive(TreeParzen(toy_space, seed=5, n_startup_trials=4), 20) == first
    assert drive(TreeParzen(toy_space, seed=6, n_startup_trials=4), 20) != first


def test_an_inactive_dimension_is_never_suggested_and_every_sample_is_in_the_space(toy_space: SearchSpace) -> None:
    strategy = TreeParzen(toy_space, seed=0, n_startup_trials=3)
    samples = drive(strategy, 30)

    assert all(toy_space.contains(s) and set(s) == set(toy_space.names) for s in samples)
    for trial in strategy.study.trials:
        depth = toy_space.dimension("depth").choices[trial.params["depth"]]
        assert ("extra" in trial.params) == (depth >= 2)  # define-by-run: extra only exists at depth 2+


def test_failures_finish_their_trial_as_failed_and_the_search_goes_on(toy_space: SearchSpace) -> None:
    strategy = TreeParzen(toy_space, seed=1, n_startup_trials=2)
    first, second = strategy.ask(2)
    strategy.tell(first, None)  # type: ignore[arg-type]  # what a bare caller may pass for a failure
    strategy.tell(second, math.nan)
    assert [t.state for t in strategy.study.trials] == [optuna.trial.TrialState.FAIL] * 2
    assert len(drive(strategy, 5)) == 5

    wrapped = make_strategy("tpe", toy_space, seed=1)  # FailureAware: a failure is told as the worst score seen
    sample = wrapped.ask(1)[0]
    wrapped.tell(sample, None)
    assert wrapped.ask(1), "a failed candidate must not stop the search"


def test_a_repeat_is_pruned_not_counted_twice_so_tpe_moves_on() -> None:
    space = SearchSpace.from_choices({"a": [0, 1, 2]})
    strategy = TreeParzen(space, seed=2, n_startup_trials=1)
    told: dict[int, float] = {}
    for _ in range(12):  # three architectures: repeats are bound to come
        sample = strategy.ask(1)[0]
        strategy.tell(sample, told.setdefault(sample["a"], 0.1 * sample["a"]))
    states = [t.state for t in strategy.study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == len(told)
    assert states.count(optuna.trial.TrialState.PRUNED) == 12 - len(told)

    strategy.tell({"a": 0}, 0.0)  # a result for a known architecture that no trial of ours is waiting for
    assert len(strategy.study.trials) == 12


def test_history_enters_the_study_and_replaces_the_random_start(toy_space: SearchSpace) -> None:
    rng = np.random.default_rng(0)
    history = {sample_key(toy_space.canonical(s)): s for s in (toy_space.sample(rng) for _ in range(40))}
    strategy = make_strategy("tpe", toy_space, seed=3, n_startup_trials=10)
    for sample in history.values():
        strategy.remember(sample, toy_score(sample))

    inner = strategy.inner.inner
    assert isinstance(inner, TreeParzen)
    assert len(inner.study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == len(history)
    fresh = []
    while len(fresh) < 5:
        batch = strategy.ask(1)
        fresh += batch
        for sample in batch:
            strategy.tell(sample, toy_score(sample))
    assert not {sample_key(toy_space.canonical(s)) for s in fresh} & set(history)  # never trained again


def test_handed_over_architectures_go_first_and_join_the_study(toy_space: SearchSpace) -> None:
    handed = [{"depth": 3, "width": 64, "act": "relu", "extra": 2}, {"depth": 1, "width": 8, "act": "tanh", "extra": 0}]
    strategy = make_strategy("tpe", toy_space, seed=4, first=handed)
    asked = strategy.ask(2)
    assert asked == handed
    for sample in asked:
        strategy.tell(sample, toy_score(sample))
    inner = strategy.inner.inner.inner
    assert isinstance(inner, TreeParzen)
    assert [t.value for t in inner.study.trials] == [toy_score(s) for s in handed]


def test_finds_a_planted_optimum_sooner_than_random() -> None:
    space = make_planted_space()
    found = {name: best_after(name, space, queries=60, seeds=range(6)) for name in ("tpe", "random")}
    assert np.mean(found["tpe"]) > np.mean(found["random"]) + 0.1, found


def best_after(name: str, space: SearchSpace, queries: int, seeds: range) -> list[float]:
    """The best planted score each seed reached within `queries`."""
    bests = []
    for seed in seeds:
        strategy, best = make_strategy(name, space, seed=seed), -1.0
        for _ in range(queries):
            sample = strategy.ask(1)[0]
            strategy.tell(sample, planted_score(sample))
            best = max(best, planted_score(sample))
        bests.append(best)
    return bests
