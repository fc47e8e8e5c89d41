"""Graph search by network-morphism-style edits, after Elsken et al. 2018, "Simple and Efficient
Architecture Search for Convolutional Neural Networks" (NASH, ICLR workshop).

NASH starts from a small network and hill-climbs: it applies a few random morphisms (deeper,
wider, a skip connection) to the best network so far, trains the children and keeps the best.
We do the same on `GraphSpace` samples with the edits of `nas_core.graph_space`: add or remove a
node, add or remove an edge, change an op. Unlike NASH we do not inherit weights (the runner
trains each child from scratch), so only the search order, not the training trick, is kept.
"""

from __future__ import annotations

from nas_core.errors import NasError
from nas_core.graph_space import Graph, GraphSpace, random_edit
from nas_core.space import Sample
from nas_core.strategies.base import Strategy
from nas_core.strategies.registry import register


@register("graph")
class GraphSearch(Strategy):
    """Hill climbing over DAGs: each child is 1..`max_edits` random edits of a top-`n_parents` graph.

    It needs a `GraphSpace` as its space (a `SearchSpace` of fixed dimensions has no graphs to
    edit), and its samples are JSON dicts {"nodes": [...], "edges": [[i, j], ...]} that
    `graph_to_keras` builds.

    Options (params.yaml `search.strategy_options`):
      max_edits: most edits between a parent and its child (1 is the strictest local search).
      n_parents: how many of the best graphs so far may be a parent (1 is NASH's pure hill climb).
    """

    def __init__(self, space: GraphSpace, seed: int = 0, max_edits: int = 2, n_parents: int = 3) -> None:
        if not isinstance(space, GraphSpace):
            raise NasError(
                "search.strategy: 'graph' searches a GraphSpace of layer graphs, not a space of fixed dimensions; "
                "pass nas_core.graph_space.GraphSpace(...) as the space"
            )
        if max_edits < 1 or n_parents < 1:
            raise NasError("search.strategy_options: max_edits and n_parents must be at least 1")
        # The base class only stores the space; the wrappers call canonical(), which GraphSpace has.
        super().__init__(space, seed)  # type: ignore[arg-type]
        self.graph_space = space
        self.max_edits = max_edits
        self.n_parents = n_parents
        self.top: list[tuple[Graph, float]] = []  # best first
        self.asked_initial = False

    def ask(self, n: int = 1) -> list[Sample]:
        return [self._propose() for _ in range(n)]

    def _propose(self) -> Graph:
        if not self.asked_initial:
            self.asked_initial = True
            return self.graph_space.initial()
        parent = self.top[int(self.rng.integers(len(self.top)))][0] if self.top else self.graph_space.initial()
        child = parent
        for _ in range(int(self.rng.integers(1, self.max_edits + 1))):
            child = random_edit(self.graph_space, child, self.rng)
        return child

    def tell(self, sample: Sample, score: float) -> None:
        graph = self.graph_space.canonical(sample)
        self.top.append((graph, float(score)))
        self.top.sort(key=lambda member: -member[1])  # stable: earlier graphs win ties
        del self.top[self.n_parents :]
