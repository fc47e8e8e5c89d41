"""Architectures as directed acyclic graphs of layers, edited one step at a time.

A sample is plain JSON: {"nodes": ["input", op, ..., "output"], "edges": [[i, j], ...]}. Nodes are
kept in topological order and every edge goes forward (i < j), so any graph that can be written
down is acyclic by construction; an edit only has to keep every node on a path from input to output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nas_core.errors import NasError

if TYPE_CHECKING:  # a type only: nas_core.config imports the strategies, which import this module
    from nas_core.config import SpaceConfig

Graph = dict[str, Any]
DEFAULT_OPS = ("conv3x3-16", "conv3x3-32", "conv5x5-16", "maxpool", "avgpool", "identity")


def make_graph(ops: list[str], edges: list[tuple[int, int]] | list[list[int]]) -> Graph:
    """A graph sample from its inner ops and its edges (0 is the input, len(ops) + 1 the output)."""
    return {"nodes": ["input", *ops, "output"], "edges": sorted([int(i), int(j)] for i, j in edges)}


@dataclass(frozen=True)
class GraphSpace:
    """Which ops a node may hold, and how many inner nodes a graph may have.

    It offers the part of `SearchSpace` the strategy wrappers use (`canonical`, `contains`,
    `sample`), so `make_strategy("graph", GraphSpace())` is deduplicated like any other search.
    """

    ops: tuple[str, ...] = DEFAULT_OPS
    max_nodes: int = 6

    def __post_init__(self) -> None:
        if not self.ops or self.max_nodes < 1:
            raise NasError("space: a graph space needs at least one op and max_nodes >= 1")
        unknown = [op for op in self.ops if parse_op(op) is None]
        if unknown:
            raise NasError(f"space: unknown graph ops {unknown}; use convKxK-F, dense-U, maxpool, avgpool, identity")

    def initial(self) -> Graph:
        """The smallest network: input -> first op -> output (network morphisms grow it from here)."""
        return make_graph([self.ops[0]], [(0, 1), (1, 2)])

    def canonical(self, sample: Mapping[str, Any]) -> Graph:
        return make_graph(list(sample["nodes"][1:-1]), [tuple(e) for e in sample["edges"]])

    def contains(self, sample: Mapping[str, Any]) -> bool:
        try:
            return self.problem(sample) is None
        except (KeyError, TypeError, ValueError):
            return False

    def problem(self, sample: Mapping[str, Any]) -> str | None:
        """Why `sample` is not a valid graph of this space, or None if it is."""
        if len(sample["nodes"]) - 2 > self.max_nodes:
            return f"more than {self.max_nodes} inner nodes"
        if any(op not in self.ops for op in sample["nodes"][1:-1]):
            return "an op outside the space"
        return structure_problem(sample)

    def sample(self, rng: np.random.Generator, edits: int = 8) -> Graph:
        """A random graph: a random walk of edits from the initial one."""
        graph = self.initial()
        for _ in range(int(rng.integers(edits + 1))):
            graph = random_edit(self, graph, rng)
        return graph

    def to_dict(self) -> dict[str, Any]:
        return {"ops": list(self.ops), "max_nodes": self.max_nodes}


def graph_space_from_config(cfg: SpaceConfig) -> GraphSpace:
    """The params.yaml `space` as a graph space, for `search.strategy: graph`.

    Ops: a convolution for every kernel_size x filters pair, each pooling other than 'none', a
    per-position dense layer for every `units` choice, and identity. At most
    2 * max(conv_blocks) + max(dense_layers) inner nodes: as deep as the deepest CNN of the space
    with a pool after every block. (Graph nodes use ReLU and 'same' padding; the activation,
    padding, dropout and batch-norm choices of the space do not apply to them.)
    """
    ops = [f"conv{k}x{k}-{f}" for k in cfg.kernel_size for f in cfg.filters]
    ops += [f"{kind}pool" for kind in ("max", "avg") if kind in cfg.pooling]
    ops += [f"dense-{u}" for u in cfg.units if max(cfg.dense_layers) > 0]
    ops.append("identity")
    return GraphSpace(tuple(dict.fromkeys(ops)), 2 * max(cfg.conv_blocks) + max(cfg.dense_layers))


def is_graph(arch: Mapping[str, Any]) -> bool:
    """A graph sample ({"nodes", "edges"}) rather than a CNN architecture of fixed dimensions."""
    return "nodes" in arch and "edges" in arch


def describe_graph(arch: Mapping[str, Any]) -> str:
    """One line: the inner ops in order, and the skip edges (those that jump over a node)."""
    nodes = list(arch["nodes"])
    skips = [f"{i}>{j}" for i, j in arch["edges"] if j > i + 1]
    return "graph " + " ".join(nodes[1:-1] or ["(empty)"]) + (" | skips " + " ".join(skips) if skips else "")


def structure_problem(sample: Mapping[str, Any]) -> str | None:
    """Why `sample` is not a well-formed graph (whatever its ops), or None if it is."""
    nodes, edges = list(sample["nodes"]), [tuple(e) for e in sample["edges"]]
    if len(nodes) < 2 or nodes[0] != "input" or nodes[-1] != "output":
        return "nodes must start with 'input' and end with 'output'"
    if len(set(edges)) != len(edges) or any(not 0 <= i < j < len(nodes) for i, j in edges):
        return "edges must be unique and go forward (i < j)"
    if not is_acyclic(len(nodes), edges):
        return "the graph has a cycle"
    for k in range(len(nodes)):
        if k > 0 and not any(j == k for _, j in edges):
            return f"node {k} has no input"
        if k < len(nodes) - 1 and not any(i == k for i, _ in edges):
            return f"node {k} has no output"
    return None


def is_acyclic(n_nodes: int, edges: list[tuple[int, int]]) -> bool:
    """Kahn's algorithm: independent of the i < j convention, so tests can trust it."""
    indegree = [0] * n_nodes
    for _, j in edges:
        indegree[j] += 1
    ready = [k for k in range(n_nodes) if indegree[k] == 0]
    seen = 0
    while ready:
        k = ready.pop()
        seen += 1
        for i, j in edges:
            if i == k:
                indegree[j] -= 1
                if indegree[j] == 0:
                    ready.append(j)
    return seen == n_nodes


def applicable_edits(space: GraphSpace, graph: Graph) -> list[str]:
    """The edits that can change `graph` without leaving the space."""
    n, edges = len(graph["nodes"]), {tuple(e) for e in graph["edges"]}
    found = []
    if n - 2 < space.max_nodes:
        found.append("add_node")
    if any((i, j) not in edges for i in range(n) for j in range(i + 1, n)):
        found.append("add_edge")
    if n > 3:
        found.append("remove_node")
    if _removable_edges(graph):
        found.append("remove_edge")
    if n > 2 and len(space.ops) > 1:
        found.append("change_op")
    return found


def random_edit(space: GraphSpace, graph: Graph, rng: np.random.Generator) -> Graph:
    """One random applicable edit (a network-morphism-style step); the input graph is not changed."""
    edits = applicable_edits(space, graph)
    if not edits:
        return graph
    edit = edits[int(rng.integers(len(edits)))]
    nodes, edges = list(graph["nodes"]), [tuple(e) for e in graph["edges"]]
    pick = lambda items: items[int(rng.integers(len(items)))]  # noqa: E731
    if edit == "add_node":  # deepen: i -> j becomes i -> new -> j
        i, j = pick(edges)
        shift = lambda k: k + 1 if k >= j else k  # noqa: E731
        edges = [(shift(a), shift(b)) for a, b in edges if (a, b) != (i, j)] + [(i, j), (j, j + 1)]
        nodes.insert(j, pick(space.ops))
    elif edit == "add_edge":  # a skip connection
        n, present = len(nodes), set(edges)
        edges.append(pick([(i, j) for i in range(n) for j in range(i + 1, n) if (i, j) not in present]))
    elif edit == "remove_node":  # its inputs now feed its outputs directly
        k = int(rng.integers(1, len(nodes) - 1))
        before = [a for a, b in edges if b == k]
        after = [b for a, b in edges if a == k]
        kept = {(a, b) for a, b in edges if k not in (a, b)} | {(a, b) for a in before for b in after}
        edges = [(a - (a > k), b - (b > k)) for a, b in kept]
        del nodes[k]
    elif edit == "remove_edge":
        removed = pick(_removable_edges(graph))
        edges = [e for e in edges if e != removed]
    else:  # change_op
        k = int(rng.integers(1, len(nodes) - 1))
        nodes[k] = pick([op for op in space.ops if op != nodes[k]])
    return make_graph(nodes[1:-1], edges)


def _removable_edges(graph: Graph) -> list[tuple[int, int]]:
    """Edges whose source keeps another output and whose target keeps another input."""
    edges = [tuple(e) for e in graph["edges"]]
    out_degree = {i: sum(1 for a, _ in edges if a == i) for i, _ in edges}
    in_degree = {j: sum(1 for _, b in edges if b == j) for _, j in edges}
    return [(i, j) for i, j in edges if out_degree[i] > 1 and in_degree[j] > 1]


def parse_op(op: str) -> tuple[str, int, int] | None:
    """("conv", kernel, filters), ("dense", 0, units), (pool or identity, 0, 0), or None if unknown."""
    if op in ("maxpool", "avgpool", "identity"):
        return op, 0, 0
    kind, _, size = op.partition("-")
    if kind == "dense" and size.isdigit():
        return "dense", 0, int(size)
    if kind.startswith("conv") and size.isdigit():
        k1, _, k2 = kind.removeprefix("conv").partition("x")
        if k1.isdigit() and k1 == k2:
            return "conv", int(k1), int(size)
    return None


def graph_to_keras(
    sample: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int, merge: str = "add"
) -> Any:
    """Build any valid graph into a `keras.Model` ending in global pooling and a softmax.

    Several inputs to a node are brought to the smallest spatial size (2x2 max-pooling, as the
    graph's own pools do) and then added (with 1x1 projections where channels differ) or
    concatenated. Pools are skipped on a 1x1 map, so deep graphs stay buildable on tiny images.
    Flat or 2-D inputs are reshaped to images (1x1xN or HxWx1).
    """
    import keras

    if merge not in ("add", "concat"):
        raise NasError(f"merge must be 'add' or 'concat', got {merge!r}")
    problem = structure_problem(sample) or next(
        (f"unknown op {op!r}" for op in sample["nodes"][1:-1] if parse_op(op) is None), None
    )
    if problem:
        raise NasError(f"graph: {problem}")
    layers = keras.layers
    inputs = keras.Input(input_shape)
    x = inputs
    if len(input_shape) == 1:
        x = layers.Reshape((1, 1, input_shape[0]))(x)
    elif len(input_shape) == 2:
        x = layers.Reshape((*input_shape, 1))(x)
    nodes, edges = sample["nodes"], [tuple(e) for e in sample["edges"]]
    outputs: dict[int, Any] = {0: x}
    for k in range(1, len(nodes)):
        merged = _merge(layers, [outputs[i] for i, j in edges if j == k], merge)
        outputs[k] = merged if k == len(nodes) - 1 else _apply_op(layers, nodes[k], merged)
    x = layers.GlobalAveragePooling2D()(outputs[len(nodes) - 1])
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))


def _apply_op(layers: Any, op: str, x: Any) -> Any:
    kind, kernel, width = parse_op(op) or ("identity", 0, 0)
    if kind == "conv":
        return layers.Conv2D(width, kernel, padding="same", activation="relu")(x)
    if kind == "dense":  # per-position dense layer, i.e. a 1x1 convolution
        return layers.Dense(width, activation="relu")(x)
    if kind in ("maxpool", "avgpool"):
        return _pool(layers, x, kind)
    return x


def _pool(layers: Any, x: Any, kind: str = "maxpool") -> Any:
    if x.shape[1] == 1 and x.shape[2] == 1:
        return x  # nothing left to pool
    pool = layers.MaxPooling2D if kind == "maxpool" else layers.AveragePooling2D
    return pool(2, padding="same")(x)


def _merge(layers: Any, tensors: list[Any], merge: str) -> Any:
    if len(tensors) == 1:
        return tensors[0]
    # Every spatial size is the input's halved (rounding up) some number of times, so pooling
    # the larger maps by 2 always lands exactly on the smallest one.
    target = min(t.shape[1] for t in tensors), min(t.shape[2] for t in tensors)
    resized = []
    for t in tensors:
        while (t.shape[1], t.shape[2]) != target:
            t = _pool(layers, t)
        resized.append(t)
    if merge == "concat":
        return layers.Concatenate()(resized)
    channels = max(t.shape[-1] for t in resized)
    projected = [t if t.shape[-1] == channels else layers.Conv2D(channels, 1)(t) for t in resized]
    return layers.Add()(projected)
