"""The REINFORCE controller learns: rewarded choices become likelier, conditioned on earlier ones."""

from __future__ import annotations

from nas_core.space import SearchSpace
from nas_core.strategies.reinforce import Reinforce


def test_the_probability_of_a_rewarded_choice_rises() -> None:
    space = SearchSpace.from_choices({"op": ["conv", "pool", "skip"], "width": [8, 16]})
    controller = Reinforce(space, seed=0, batch_size=4, learning_rate=0.05, uniform_mix=0.1)
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
    controller = Reinforce(space, seed=1, batch_size=4, learning_rate=0.05, uniform_mix=0.1)
    for _ in range(25):
        for sample in controller.ask(4):
            controller.tell(sample, 1.0 if sample["first"] == sample["second"] else 0.0)

    after_a = controller.step_probabilities({"first": "a", "second": "a"})[1]
    after_b = controller.step_probabilities({"first": "b", "second": "a"})[1]
    assert after_a[0] > 0.7 and after_b[1] > 0.7


def test_numpy_sampling_follows_the_keras_controller() -> None:
    # Sampling runs the LSTM in numpy for speed; it must be the same policy the gradient trains.
    space = SearchSpace.from_choices({"a": [1, 2, 3], "b": ["x", "y"], "c": [0, 1, 2, 3]})
    controller = Reinforce(space, seed=2, batch_size=2, learning_rate=0.1)
    for _ in range(5):  # move the weights away from their near-uniform start
        for sample in controller.ask(2):
            controller.tell(sample, float(sample["a"]) + (sample["b"] == "y"))
    samples = controller.ask(4000)
    for value, expected in zip([1, 2, 3], controller.step_probabilities(samples[0])[0], strict=True):
        assert abs(sum(s["a"] == value for s in samples) / len(samples) - expected) < 0.03
    prefix = {"a": 3, "b": "y", "c": 0}
    after_prefix = [s for s in samples if s["a"] == 3 and s["b"] == "y"]
    expected_c = controller.step_probabilities(prefix)[2]
    for value, expected in zip(range(4), expected_c, strict=True):
        assert abs(sum(s["c"] == value for s in after_prefix) / len(after_prefix) - expected) < 0.06


def test_handed_over_architectures_become_the_starting_distribution() -> None:
    space = SearchSpace.from_choices({"op": ["conv", "pool", "skip"], "width": [8, 16]})
    controller = Reinforce(space, seed=0, uniform_mix=0.1)
    cold = Reinforce(space, seed=0, uniform_mix=0.1)
    assert controller.prime([{"op": "skip", "width": 16}, {"op": "skip", "width": 8}]) == []  # nothing proposed
    primed = controller.step_probabilities({"op": "skip", "width": 8})[0][2]
    assert primed > 0.6 > cold.step_probabilities({"op": "skip", "width": 8})[0][2]
    draws = [s["op"] for s in controller.ask(200)]
    assert draws.count("skip") > 100 and set(draws) == {"conv", "pool", "skip"}  # the uniform floor still explores
