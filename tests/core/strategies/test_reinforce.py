"""The REINFORCE controller learns: rewarded choices become likelier, conditioned on earlier ones."""

from __future__ import annotations

from nas_core.space import SearchSpace
from nas_core.strategies.reinforce import Reinforce


def test_the_probability_of_a_rewarded_choice_rises() -> None:
    space = SearchSpace.from_choices({"op": ["conv", "pool", "skip"], "width": [8, 16]})
    controller = Reinforce(space, seed=0, batch_size=4)
    before = controller.step_probabilities({"op": "conv", "width": 8})[0][1]
    for _ in range(10):
        for sample in controller.ask(4):
            controller.tell(sample, 1.0 if sample["op"] == "pool" else 0.0)
    after = controller.step_probabilities({"op": "conv", "width": 8})[0][1]

    assert abs(before - 1 / 3) < 0.01  # Zoph & Le's small uniform init: a near-uniform start
    assert after > 0.8
    assert after <= 1 - controller.uniform_mix + controller.uniform_mix / 3 + 1e-6  # the exploration floor holds


def test_later_choices_are_conditioned_on_earlier_ones() -> None:
    # Rewarded only when the second choice matches the first: no marginal policy can learn this.
    space = SearchSpace.from_choices({"first": ["a", "b"], "second": ["a", "b"]})
    controller = Reinforce(space, seed=1, batch_size=4)
    for _ in range(25):
        for sample in controller.ask(4):
            controller.tell(sample, 1.0 if sample["first"] == sample["second"] else 0.0)

    after_a = controller.step_probabilities({"first": "a", "second": "a"})[1]
    after_b = controller.step_probabilities({"first": "b", "second": "a"})[1]
    assert after_a[0] > 0.7 and after_b[1] > 0.7
