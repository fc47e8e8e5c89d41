"""`search.strategy: graph` through the real search and retrain flows: layer graphs grown by edits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from flows.prepare import prepare_flow
from flows.retrain import retrain_flow
from flows.search import run_search_stage
from nas_core.config import SpaceConfig
from nas_core.graph_space import graph_space_from_config, structure_problem
from tests.conftest import in_directory, write_params

pytestmark = pytest.mark.slow

OVERRIDES = {
    "space": {"conv_blocks": [1, 2], "filters": [8, 16], "kernel_size": [3], "pooling": ["max"], "dense_layers": [0]},
    "search": {"strategy": "graph", "max_candidates": 5, "seed": 1, "strategy_options": {"max_edits": 2}},
    "train": {"epochs": 2},
    "retrain": {"epochs": 2},
}


@pytest.fixture(scope="module")
def graph_run(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with in_directory(tmp_path_factory.mktemp("graph")) as root:
        params = str(write_params(root / "params.yaml", OVERRIDES))
        prepare_flow(params_path=params)
        run_search_stage(params_path=params)
        retrain_flow(params_path=params)
        yield root


def test_the_graph_space_comes_from_params_space() -> None:
    space = graph_space_from_config(SpaceConfig(**OVERRIDES["space"]))  # type: ignore[arg-type]
    assert space.ops == ("conv3x3-8", "conv3x3-16", "maxpool", "identity")
    assert space.max_nodes == 4  # a conv and a pool per block, two blocks


def test_graph_search_trains_distinct_valid_graphs_grown_from_the_smallest(graph_run: Path) -> None:
    results = json.loads((graph_run / "artifacts/search_results.json").read_text())
    assert len(results) == 5 and all(r["status"] == "COMPLETED" for r in results)
    graphs = [r["architecture"] for r in sorted(results, key=lambda r: r["index"])]  # file order = finish order
    assert all(structure_problem(g) is None for g in graphs)
    assert graphs[0] == {"nodes": ["input", "conv3x3-8", "output"], "edges": [[0, 1], [1, 2]]}  # NASH's start
    assert len({json.dumps(g, sort_keys=True) for g in graphs}) == 5  # no graph trained twice
    assert max(len(g["nodes"]) for g in graphs) > 3  # edits grew the network


def test_the_winning_graph_is_retrained_and_logged(graph_run: Path) -> None:
    winner = json.loads((graph_run / "artifacts/best_architecture.json").read_text())
    assert "nodes" in winner["architecture"]
    test = json.loads((graph_run / "metrics/test.json").read_text())
    assert 0.0 < test["test_accuracy"] <= 1.0
    client = MlflowClient(tracking_uri=f"sqlite:///{graph_run / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("nas-test")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], filter_string="tags.`nas.kind` = 'candidate'")
    assert len(runs) == 5
    assert all(r.data.tags["nas.status"] == "COMPLETED" for r in runs)


def test_graph_with_a_parameter_limit_is_refused_before_training(tmp_path: Path) -> None:
    from flows.io.params import load_params
    from nas_core.errors import NasError

    params = write_params(tmp_path / "params.yaml", {"search": {"strategy": "graph", "max_params": 1000}})
    with pytest.raises(NasError, match=r"search: max_params: not available with strategy 'graph'"):
        load_params(params)


def test_the_report_draws_the_winning_graph(graph_run: Path) -> None:
    from flows.reports.architecture import layer_boxes

    assert list((graph_run / "reports").glob("*/index.html"))
    graph = {"nodes": ["input", "conv3x3-8", "maxpool", "output"], "edges": [[0, 1], [0, 2], [1, 2], [2, 3]]}
    texts = [box.text for box in layer_boxes(graph, [8, 8, 1], 10)]
    assert texts[2] == "#2 maxpool  ←  #0 + #1"  # the skip edge 0 -> 2 is shown
    assert texts[-1].startswith("Global avg pool · Dense 10")
