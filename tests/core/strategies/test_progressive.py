"""Progressive narrowing: the space shrinks towards good choices, and widens again when used up."""

from __future__ import annotations

from toy_problem import toy_score

from nas_core import make_strategy
from nas_core.space import SearchSpace, sample_key
from nas_core.strategies.progressive import ProgressiveNarrowing


def test_the_space_narrows_to_the_choices_that_score_well(toy_space: SearchSpace) -> None:
    search = ProgressiveNarrowing(toy_space, seed=0, round_size=12, keep_fraction=0.5)
    assert search.subspace().size() == toy_space.size()
    for sample in search.ask(12):
        search.tell(sample, toy_score(sample))

    assert search.subspace().size() < toy_space.size() / 4
    assert search.allowed["act"] == ["relu"]
    assert 64 in search.allowed["width"] and 8 not in search.allowed["width"]
    later = search.ask(20)
    assert all(search.subspace().contains(toy_space.canonical(s)) for s in later)
    assert all(s["act"] == "relu" for s in later)


def test_a_used_up_subspace_widens_again_instead_of_stalling(toy_space: SearchSpace) -> None:
    search = make_strategy("progressive", toy_space, seed=1, round_size=6, keep_fraction=0.3)
    seen = []
    while len(seen) < toy_space.size() and (batch := search.ask(1)):
        seen.extend(batch)
        search.tell(batch[0], toy_score(batch[0]))

    assert len({sample_key(toy_space.canonical(s)) for s in seen}) == toy_space.size()


def test_a_choice_great_in_some_combinations_survives_ranking_by_the_better_half() -> None:
    # "wide" is the best choice with relu and the worst with sigmoid; its plain mean is poor.
    space = SearchSpace.from_choices({"units": ["narrow", "wide"], "act": ["relu", "sigmoid"]})
    scores = {("wide", "relu"): 0.99, ("wide", "sigmoid"): 0.10, ("narrow", "relu"): 0.60, ("narrow", "sigmoid"): 0.55}

    def narrowed(rank_by: str) -> list[str]:
        search = ProgressiveNarrowing(space, round_size=8, keep_fraction=0.5, rank_by=rank_by)
        for units, act in list(scores) * 2:
            search.tell({"units": units, "act": act}, scores[(units, act)])
        return search.allowed["units"]

    assert narrowed("mean") == ["narrow"]  # 0.545 against 0.575: the marginal mean drops the best model's choice
    assert narrowed("top_half") == ["wide"]
    assert narrowed("best") == ["wide"]
