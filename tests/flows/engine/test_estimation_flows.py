"""Each cheaper estimation method run for real through `run_search_stage` on tiny digits, and what it records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from flows.prepare import prepare_flow
from flows.search import run_search_stage
from nas_core.objectives import Objective
from tests.conftest import in_directory, write_params

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def root(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One prepared tiny digits for every method; each test has its own experiment."""
    with in_directory(tmp_path_factory.mktemp("estimation")) as root:
        prepare_flow(params_path=str(write_params(root / "params.yaml")))
        yield root


def search(root: Path, experiment: str, overrides: dict[str, Any]) -> tuple[dict[str, Any], MlflowClient, list[Any]]:
    """Run the search stage; return its summary, the MLflow client and the runs of `experiment`."""
    params = write_params(root / f"{experiment}.yaml", overrides | {"tracking": {"experiment": experiment}})
    summary = run_search_stage(params_path=str(params))
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    return summary, client, client.search_runs([found.experiment_id])


def of_kind(runs: list[Any], kind: str) -> list[Any]:
    return [r for r in runs if r.data.tags.get("nas.kind") == kind]


def test_hyperband_promotes_resumes_and_logs_rungs(root: Path) -> None:
    summary, client, runs = search(
        root,
        "hyperband",
        {
            "search": {"estimation": "hyperband", "max_candidates": 4, "hyperband": {"min_epochs": 1, "eta": 2}},
            "train": {"epochs": 4, "patience": 4},  # one bracket: 4 candidates x 1 epoch, 2 x 2, 1 x 4
        },
    )
    results = json.loads((root / "artifacts/search_results.json").read_text())
    assert summary["candidates"] == 4 and summary["completed"] == 4
    assert sorted(r["epochs_run"] for r in results) == [1, 1, 2, 4]
    assert sorted(r["rung"] for r in results) == [0, 0, 1, 2]
    assert sum(r["epochs_run"] for r in results) == 8  # promoted candidates resumed: 4x1 + 2x1 + 1x2, not 4+4+4+...
    assert [r["stopped_early"] for r in sorted(results, key=lambda r: r["rung"])] == [True, True, True, False]
    assert not list((root / "artifacts/checkpoints").glob("*.keras"))  # cleaned up once each candidate is done

    children = of_kind(runs, "candidate")
    assert len(children) == 4  # one child run per candidate, updated across its rungs
    top = next(c for c in children if c.data.tags["nas.rung"] == "2")
    assert "nas.stopped_early" not in top.data.tags
    assert [m.step for m in client.get_metric_history(top.info.run_id, "rung_val_accuracy")] == [1, 2, 4]
    assert sorted(m.step for m in client.get_metric_history(top.info.run_id, "val_accuracy")) == [0, 1, 2, 3, 4]
    stopped = [c for c in children if c.data.tags.get("nas.stopped_early") == "true"]
    assert sorted(c.data.tags["nas.rung"] for c in stopped) == ["0", "0", "1"]


def test_median_stopping_stops_candidates_below_the_median(root: Path) -> None:
    summary, _, runs = search(
        root,
        "median",
        {
            "search": {
                "max_candidates": 5,
                "parallelism": 1,  # every candidate sees all the earlier ones
                "median_stop": {"enabled": True, "min_epochs": 1, "min_candidates": 1},
            },
            "train": {"epochs": 3, "patience": 3},
        },
    )
    results = json.loads((root / "artifacts/search_results.json").read_text())
    stopped = [r for r in results if r["stopped_early"]]
    assert summary["completed"] == 5 and stopped  # stopped candidates still count, with their val accuracy
    assert all(r["status"] == "COMPLETED" and r["epochs_run"] < 3 and r["val_accuracy"] for r in stopped)
    assert not results[0]["stopped_early"]  # the first candidate has no one to compare with
    tagged = {
        c.data.tags["nas.candidate_hash"] for c in of_kind(runs, "candidate") if "nas.stopped_early" in c.data.tags
    }
    assert tagged == {r["key"] for r in stopped}


def test_oneshot_scores_with_inherited_weights_and_retrains_the_top_k(root: Path) -> None:
    # The 16 paths of this space have 994 to 7,482 parameters; 10 of them are within the limit.
    max_params = 3500
    summary, client, runs = search(
        root,
        "oneshot",
        {
            "space": {"kernel_size": [3, 5]},
            "search": {
                "estimation": "oneshot",
                "strategy": "evolution",
                "oneshot": {"epochs": 2, "evaluations": 8, "top_k": 2},
                "objective": "accuracy_params",
                "max_params": max_params,
            },
        },
    )
    assert summary["method"] == "oneshot" and summary["evaluations"] == 8 and summary["candidates"] == 2
    (supernet,) = of_kind(runs, "supernet")
    assert [m.step for m in client.get_metric_history(supernet.info.run_id, "loss")] == [1, 2]
    assert len(client.get_metric_history(supernet.info.run_id, "oneshot_score")) == 8
    scored = json.loads((root / "artifacts/oneshot_scores.json").read_text())
    # The supernet's scoring honours the search's limit and objective, not only the stand-alone training.
    assert summary["paths_over_max_params"] > 0 and all(r["params"] <= max_params for r in scored)
    objective = Objective("accuracy_params")
    assert [r["score"] for r in scored] == [pytest.approx(objective.trade(r["accuracy"], r["params"])) for r in scored]
    best_two = sorted(scored, key=lambda r: -r["score"])[:2]
    children = of_kind(runs, "candidate")
    assert {c.data.tags["nas.candidate_hash"] for c in children} == {r["key"] for r in best_two}
    assert all("nas.oneshot_score" in c.data.tags for c in children)
    winner = json.loads((root / "artifacts/best_architecture.json").read_text())
    assert (
        winner["key"] in {r["key"] for r in best_two}
        and winner["search_run_id"] == supernet.data.tags["mlflow.parentRunId"]
    )
    assert summary["objective"] == "accuracy_params"
    best_score = max(children, key=lambda c: c.data.metrics["objective_score"])
    assert winner["key"] == best_score.data.tags["nas.candidate_hash"]  # by the objective, not raw val accuracy


def test_darts_logs_converging_architecture_weights_and_retrains_the_argmax(root: Path) -> None:
    summary, client, runs = search(
        root,
        "darts",
        {"space": {"kernel_size": [3, 5]}, "search": {"estimation": "darts", "darts": {"epochs": 3}}},
    )
    assert summary["method"] == "darts" and summary["candidates"] == 1 and summary["completed"] == 1
    (supernet,) = of_kind(runs, "supernet")
    alphas = sorted(k for k in supernet.data.metrics if k.startswith("alpha."))
    assert len(alphas) == 2 * 2 * 2  # 2 blocks x (2 filters x 2 kernels)
    curve = [m.value for m in client.get_metric_history(supernet.info.run_id, alphas[0])]
    assert len(curve) == 3 and curve[0] != curve[-1]
    (child,) = of_kind(runs, "candidate")
    assert child.data.tags["nas.derived_by"] == "darts" and child.data.tags["nas.status"] == "COMPLETED"
    derived = json.loads(
        Path(client.download_artifacts(supernet.info.run_id, "derived_architecture.json", str(root))).read_text()
    )
    assert json.loads((root / "artifacts/best_architecture.json").read_text())["architecture"] == derived
