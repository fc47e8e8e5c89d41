"""The wrappers every strategy gets: no duplicates, failures become a poor score."""

from __future__ import annotations

from typing import Any

from nas_core.space import Sample, SearchSpace
from nas_core.strategies.base import Strategy
from nas_core.strategies.middleware import Deduplicated, FailureAware, Primed

SPACE = SearchSpace.from_choices({"a": [0, 1, 2]})


class Scripted(Strategy):
    """Proposes a fixed script and records what it is told."""

    def __init__(self, script: list[int]) -> None:
        super().__init__(SPACE, seed=0)
        self.script = list(script)
        self.told: list[tuple[Any, float]] = []

    def ask(self, n: int = 1) -> list[Sample]:
        out = [{"a": self.script.pop(0)} for _ in range(min(n, len(self.script)))]
        return out

    def tell(self, sample: Sample, score: float) -> None:
        self.told.append((sample["a"], score))


def test_a_repeat_of_a_scored_sample_is_skipped_and_told_its_score() -> None:
    inner = Scripted([0, 0, 1])
    strategy = Deduplicated(inner)
    assert strategy.ask(1) == [{"a": 0}]
    strategy.tell({"a": 0}, 0.7)
    assert strategy.ask(1) == [{"a": 1}]
    assert inner.told == [(0, 0.7), (0, 0.7)]


def test_a_repeat_of_a_pending_sample_gets_the_score_when_it_arrives() -> None:
    inner = Scripted([2, 2, 1])
    strategy = Deduplicated(inner)
    assert strategy.ask(2) == [{"a": 2}, {"a": 1}]
    strategy.tell({"a": 2}, 0.4)
    assert inner.told == [(2, 0.4), (2, 0.4)]


def test_failures_are_told_as_the_worst_score_so_far() -> None:
    inner = Scripted([])
    strategy = FailureAware(inner)
    strategy.tell({"a": 0}, None)
    strategy.tell({"a": 1}, 0.8)
    strategy.tell({"a": 2}, 0.3)
    strategy.tell({"a": 0}, None)
    assert inner.told == [(0, 0.0), (1, 0.8), (2, 0.3), (0, 0.3)]


def test_a_replayed_result_is_known_so_it_is_never_proposed_again() -> None:
    strategy = Deduplicated(FailureAware(Scripted([0, 1])))
    strategy.tell({"a": 0}, 0.5)  # a result recovered by a resumed search, told before any ask
    assert strategy.ask(1) == [{"a": 1}]  # 0 is known, so it is skipped


def test_a_remembered_architecture_is_never_proposed_and_reaches_the_strategy() -> None:
    inner = Scripted([0, 1, 2])
    strategy = Deduplicated(FailureAware(inner))
    strategy.remember({"a": 1}, 0.9)  # trained by an earlier search
    strategy.remember({"a": 2}, None)  # failed in an earlier search: a poor score, still known
    assert strategy.ask(3) == [{"a": 0}]
    assert inner.told[:2] == [(1, 0.9), (2, 0.9)]  # FailureAware: the worst score seen so far


def test_primed_architectures_go_first_unless_history_already_holds_them() -> None:
    inner = Scripted([0, 1, 2])
    strategy = Deduplicated(Primed(inner, [{"a": 2}, {"a": 1}]))
    strategy.remember({"a": 1}, 0.5)
    assert strategy.ask(3) == [{"a": 2}, {"a": 0}]  # 1 is known; the script's own 1 and 2 are repeats
