"""Graph search: edits keep graphs valid DAGs, and every graph it proposes builds and trains."""

from __future__ import annotations

import numpy as np
import pytest

from nas_core import SearchSpace, make_strategy
from nas_core.errors import NasError
from nas_core.graph_space import GraphSpace, applicable_edits, graph_to_keras, is_acyclic, make_graph, random_edit


def test_random_edits_keep_the_graph_a_valid_acyclic_network() -> None:
    space = GraphSpace(max_nodes=5)
    rng = np.random.default_rng(0)
    graph = space.initial()
    sizes, edge_counts = set(), set()
    for _ in range(400):
        graph = random_edit(space, graph, rng)
        assert is_acyclic(len(graph["nodes"]), [tuple(e) for e in graph["edges"]])
        assert space.problem(graph) is None, graph
        sizes.add(len(graph["nodes"]) - 2)
        edge_counts.add(len(graph["edges"]))
    assert sizes == {1, 2, 3, 4, 5}  # nodes were both added and removed, up to max_nodes
    assert len(edge_counts) > 4  # skip connections came and went


def test_each_edit_is_offered_only_when_it_can_apply() -> None:
    space = GraphSpace(max_nodes=2)
    smallest = space.initial()
    assert set(applicable_edits(space, smallest)) == {"add_node", "add_edge", "change_op"}
    full = make_graph(["conv3x3-16", "maxpool"], [(0, 1), (1, 2), (2, 3), (0, 3), (0, 2), (1, 3)])
    assert set(applicable_edits(space, full)) == {"remove_node", "remove_edge", "change_op"}


def test_graph_strategy_needs_a_graph_space() -> None:
    with pytest.raises(NasError, match="GraphSpace"):
        make_strategy("graph", SearchSpace.from_choices({"a": [1, 2]}), seed=0)


def test_searched_graphs_grow_from_the_smallest_network() -> None:
    search = make_strategy("graph", GraphSpace(max_nodes=6), seed=0)
    first = search.ask(1)[0]
    assert first == GraphSpace().initial()
    sizes = []
    for _ in range(30):
        for graph in search.ask(2):
            sizes.append(len(graph["nodes"]) - 2)
            search.tell(graph, float(len(graph["nodes"])))  # bigger is better here
    assert max(sizes[-10:]) > 3  # hill climbing followed the reward towards larger graphs


def test_every_proposed_graph_builds_and_trains_one_step() -> None:
    import keras

    keras.utils.set_random_seed(0)
    search = make_strategy("graph", GraphSpace(max_nodes=5), seed=1, max_edits=3)
    graphs = []
    while len(graphs) < 10:
        for graph in search.ask(2):
            graphs.append(graph)
            search.tell(graph, float(len(graph["edges"])))  # reward skip connections: forces merges
    assert any(sum(1 for _, j in g["edges"] if j == k) > 1 for g in graphs for k in range(len(g["nodes"])))

    x = np.random.default_rng(0).random((8, 8, 8, 1)).astype("float32")
    y = np.arange(8) % 3
    for i, graph in enumerate(graphs):
        model = graph_to_keras(graph, (8, 8, 1), num_classes=3, merge="concat" if i % 3 == 0 else "add")
        # Eager: tracing a graph function per tiny model would cost more than the step itself.
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", run_eagerly=True)
        before = [w.copy() for w in model.get_weights()]
        loss = model.train_on_batch(x, y)
        assert np.isfinite(loss), graph
        assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
        assert tuple(model(x).shape) == (8, 3)


def test_pools_are_skipped_once_the_map_is_1x1_and_flat_inputs_work() -> None:
    deep_pools = make_graph(["maxpool"] * 5 + ["conv3x3-16"], [(k, k + 1) for k in range(7)] + [(0, 7), (2, 6)])
    model = graph_to_keras(deep_pools, (8, 8, 1), num_classes=4)
    assert model.output_shape == (None, 4)
    flat = graph_to_keras(make_graph(["dense-32", "avgpool"], [(0, 1), (1, 2), (2, 3), (0, 3)]), (20,), 2)
    assert tuple(flat(np.zeros((2, 20), "float32")).shape) == (2, 2)


def test_graph_to_keras_rejects_a_backward_edge() -> None:
    with pytest.raises(NasError, match="forward"):
        graph_to_keras({"nodes": ["input", "identity", "output"], "edges": [[0, 1], [1, 2], [2, 1]]}, (8, 8, 1), 2)
