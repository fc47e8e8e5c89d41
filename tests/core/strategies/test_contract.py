"""Every registered strategy honours the ask/tell contract on a toy space (NNI's sanity test idea)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from toy_problem import make_toy_space, toy_score

from nas_core import available_strategies, make_strategy
from nas_core.graph_space import GraphSpace
from nas_core.space import sample_key
from nas_core.strategies import Wrapper

STEPS = 30


def space_for(name: str) -> Any:
    """The graph strategy searches graphs; every other strategy searches the toy space."""
    return GraphSpace(max_nodes=4) if name == "graph" else make_toy_space()


def options_for(name: str, space: Any) -> dict[str, Any]:
    """The fixed strategy replays a given list: give it 40 distinct samples of the toy space."""
    if name != "fixed":
        return {}
    import numpy as np

    rng, found = np.random.default_rng(0), {}
    while len(found) < 40:
        sample = space.sample(rng)
        found.setdefault(sample_key(space.canonical(sample)), sample)
    return {"architectures": list(found.values())}


def score_of(name: str, sample: dict[str, Any]) -> float:
    if name == "graph":
        return len(sample["nodes"]) + 0.1 * len(sample["edges"])
    return toy_score(sample)


def run(strategy: Wrapper, name: str, steps: int, start: int = 0) -> list[dict[str, Any]]:
    """Ask two at a time (as a parallel loop would) and tell both, until `steps` samples."""
    seen: list[dict[str, Any]] = []
    while len(seen) < steps:
        batch = strategy.ask(min(2, steps - len(seen)))
        if not batch:
            break
        for sample in batch:
            strategy.tell(sample, score_of(name, sample))
        seen.extend(batch)
    return seen


@pytest.mark.parametrize("name", available_strategies())
def test_samples_are_valid_new_and_seeded(name: str) -> None:
    space = space_for(name)
    samples = run(make_strategy(name, space, seed=3, **options_for(name, space)), name, STEPS)

    assert len(samples) == STEPS
    assert all(space.contains(s) for s in samples)
    keys = [sample_key(space.canonical(s)) for s in samples]
    assert len(set(keys)) == len(keys), "make_strategy must never propose an architecture twice"
    assert run(make_strategy(name, space, seed=3, **options_for(name, space)), name, STEPS) == samples
    if name not in ("grid", "fixed"):  # their order is fixed by design
        assert run(make_strategy(name, space, seed=4, **options_for(name, space)), name, STEPS) != samples


@pytest.mark.parametrize("name", available_strategies())
def test_a_resumed_strategy_is_told_the_replayed_results_and_proposes_none_of_them_again(name: str) -> None:
    """How a killed search resumes (`nas_core.search_loop.tell_replay`): the same seed, told what was recorded."""
    space = space_for(name)
    recorded = run(make_strategy(name, space, seed=7, **options_for(name, space)), name, 10)

    resumed = make_strategy(name, space, seed=7, **options_for(name, space))
    for sample in recorded:  # what tell_replay does with the results read back from MLflow
        resumed.tell(sample, score_of(name, sample))
    more = run(resumed, name, 12)

    assert len(more) == 12 and all(space.contains(s) for s in more)
    known = {sample_key(space.canonical(s)) for s in recorded}
    assert not known & {sample_key(space.canonical(s)) for s in more}


def test_strategies_other_than_reinforce_never_import_tensorflow() -> None:
    code = f"""
import sys
sys.path.insert(0, {str(__file__.rsplit("/", 1)[0])!r})
from test_contract import options_for, run
from toy_problem import make_toy_space
from nas_core import available_strategies, make_strategy
from nas_core.graph_space import GraphSpace
for name in available_strategies():
    if name != "reinforce":
        space = GraphSpace() if name == "graph" else make_toy_space()
        assert len(run(make_strategy(name, space, seed=0, **options_for(name, space)), name, 30)) == 30, name
assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "TensorFlow was imported"
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
