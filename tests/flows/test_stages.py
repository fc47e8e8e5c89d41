"""Each stage flow run for real on tiny digits, and what it leaves in files and in MLflow."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from mlflow import MlflowClient

from flows.prepare import prepare_flow
from flows.retrain import retrain_flow
from flows.search import run_search_stage
from flows.space import space_flow
from nas_core.prepared import load_split
from tests.conftest import write_params

pytestmark = pytest.mark.slow

# Two block counts, valid padding with kernel 5: the 2-block ones cannot be built on 8x8 and must be
# recorded FAILED while the search goes on.
OVERRIDES = {
    "space": {"conv_blocks": [1, 2], "kernel_size": [5], "padding": ["valid", "same"], "pooling": ["max"]},
    "search": {"max_candidates": 6, "seed": 3, "reevaluate_top_k": 3},
    # The default recipe: as many epochs as the winner's search training kept, two seeds, a 2-fold promotion score.
    "retrain": {"epochs": None, "seeds": 2, "folds": 2},
}


@pytest.fixture(scope="module")
def pipeline(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("pipeline")
    previous = Path.cwd()
    os.chdir(root)
    try:
        params = str(write_params(root / "params.yaml", OVERRIDES))
        prepared = prepare_flow(params_path=params)
        space_flow(params_path=params)
        search = run_search_stage(params_path=params)
        test = retrain_flow(params_path=params)
        yield {"root": root, "prepared": prepared, "search": search, "test": test}
    finally:
        os.chdir(previous)


@pytest.fixture(scope="module")
def client(pipeline: dict[str, Any]) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{pipeline['root'] / 'mlflow.db'}")


def runs_of_kind(client: MlflowClient, kind: str) -> list[Any]:
    experiment = client.get_experiment_by_name("nas-test")
    assert experiment is not None
    return client.search_runs([experiment.experiment_id], filter_string=f"tags.`nas.kind` = '{kind}'")


def test_prepare_writes_stratified_splits_and_manifest(pipeline: dict[str, Any]) -> None:
    root = pipeline["root"]
    manifest = json.loads((root / "data/prepared/manifest.json").read_text())
    assert manifest == pipeline["prepared"]
    assert manifest["input_shape"] == [8, 8, 1] and manifest["num_classes"] == 10
    x, y = load_split(root / "data/prepared/train.npz")
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    assert set(np.unique(y)) == set(range(10))
    sizes = sum(len(load_split(root / f"data/prepared/{s}.npz")[1]) for s in ("train", "val", "test"))
    assert sizes == 360  # data.limit


def test_search_writes_its_artifacts_and_counts_failures(pipeline: dict[str, Any]) -> None:
    root = pipeline["root"]
    summary = json.loads((root / "metrics/search.json").read_text())
    assert summary["candidates"] == 6
    assert summary["failed"] >= 1  # the 2-block valid-padding candidates
    assert summary["completed"] + summary["failed"] == 6
    best = json.loads((root / "artifacts/best_architecture.json").read_text())
    assert best["val_accuracy"] == summary["best_val_accuracy"]
    low, high = summary["best_val_accuracy_interval"]
    assert low <= summary["best_val_accuracy"] <= high and best["val_accuracy_interval"] == [low, high]
    assert summary["val_examples"] == best["val_examples"] > 0
    assert 0 <= summary["candidates_within_noise_of_best"] <= summary["completed"] - 1
    space = json.loads((root / "artifacts/search_space.json").read_text())
    assert space["size"] > 0 and space["shape_rule"]["rejected"] > 0  # the 2-block valid-padding ones
    results = json.loads((root / "artifacts/search_results.json").read_text())
    failures = [r for r in results if r["status"] == "FAILED"]
    assert all("infeasible architecture" in r["error"] for r in failures)
    assert all(r["architecture"]["conv_blocks"] == 2 and r["architecture"]["padding"] == "valid" for r in failures)


def test_parent_run_holds_config_dataset_hash_and_tags(pipeline: dict[str, Any], client: MlflowClient) -> None:
    (parent,) = runs_of_kind(client, "search")
    assert parent.info.status == "FINISHED"
    assert parent.data.params["search.strategy"] == "random"
    assert parent.data.params["search.max_candidates"] == "6"
    assert parent.data.params["dataset_hash"] == pipeline["prepared"]["content_hash"]
    assert parent.data.tags["nas.strategy"] == "random"
    assert parent.data.tags["mlflow.source.git.commit"]
    assert parent.data.metrics["candidates"] == 6
    logged = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"search_summary.json", "search_space.json"} <= logged  # the space stage's record too


def test_every_candidate_is_a_child_run_with_params_metrics_and_artifacts(
    pipeline: dict[str, Any], client: MlflowClient
) -> None:
    (parent,) = runs_of_kind(client, "search")
    children = runs_of_kind(client, "candidate")
    assert len(children) == 6
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert len({c.data.tags["nas.candidate_hash"] for c in children}) == 6
    for child in children:
        assert "conv_blocks" in child.data.params and "activation" in child.data.params
        status = child.data.tags["nas.status"]
        if status == "COMPLETED":
            assert child.info.status == "FINISHED"
            assert {"val_accuracy", "params", "train_seconds", "loss", "val_loss"} <= set(child.data.metrics)
            metrics = child.data.metrics  # the score's 95% interval, from the number of val examples
            assert metrics["val_examples"] == pipeline["prepared"]["splits"]["val"]["y_shape"][0]
            assert metrics["val_accuracy_low"] <= metrics["val_accuracy"] <= metrics["val_accuracy_high"]
            history = client.get_metric_history(child.info.run_id, "loss")
            assert [m.step for m in history] == list(range(1, len(history) + 1)) and len(history) >= 1
            artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
            assert {"architecture.json", "model_summary.txt", "learning_curve.png"} <= artifacts
        else:
            assert status == "FAILED" and child.info.status == "FAILED"
            assert "infeasible" in child.data.tags["nas.error"]


def test_the_top_candidates_are_rescored_by_cross_validation_and_the_best_of_them_wins(
    pipeline: dict[str, Any], client: MlflowClient
) -> None:
    root = pipeline["root"]
    summary = json.loads((root / "metrics/search.json").read_text())
    best = json.loads((root / "artifacts/best_architecture.json").read_text())
    rescored = summary["reevaluated"]
    # search.reevaluate_top_k as params.yaml sets it: the 3 first of the val ranking, each by 2-fold CV (retrain.folds).
    assert len(rescored) == min(3, summary["completed"]) >= 2 and summary["reevaluation_folds"] == 2
    assert [r["val_accuracy"] for r in rescored] == sorted((r["val_accuracy"] for r in rescored), reverse=True)
    winner = max(rescored, key=lambda r: r["cv_accuracy"])
    assert best["candidate_index"] == summary["best_candidate"] == winner["candidate"]
    assert summary["winner_cv_accuracy"] == winner["cv_accuracy"] == best["promotion"]["promotion_accuracy"]
    assert summary["winner_changed_by_reevaluation"] == (winner["candidate"] != rescored[0]["candidate"])
    # The winner's cross-validation is the retrain recipe's, so the retrain reuses it as the promotion score.
    assert best["promotion"]["folds"] == 2 and best["promotion"]["epochs"] == best["best_epoch"]
    test = json.loads((root / "metrics/test.json").read_text())
    assert test["promotion_fold_accuracies"] == best["promotion"]["promotion_fold_accuracies"]
    # Every re-scored candidate carries its score: in its MLflow run, in search_results.json, in the report.
    on_runs = {
        int(c.data.tags["nas.candidate_index"]): c.data.metrics.get("cv_accuracy")
        for c in runs_of_kind(client, "candidate")
    }
    assert {i: v for i, v in on_runs.items() if v is not None} == {r["candidate"]: r["cv_accuracy"] for r in rescored}
    results = json.loads((root / "artifacts/search_results.json").read_text())
    assert sum(r["cv_accuracy"] is not None for r in results) == len(rescored)
    report = (root / "reports" / best["search_run_id"] / "index.html").read_text()
    assert "cross-validated accuracy" in report and "re-scored by 2-fold cross-validation" in report
    assert "s cross-validated accuracy</span>" in report  # the winner's, in the headline cards


def test_retrain_saves_scores_logs_and_registers_the_winner(pipeline: dict[str, Any], client: MlflowClient) -> None:
    root = pipeline["root"]
    test = json.loads((root / "metrics/test.json").read_text())
    best = json.loads((root / "artifacts/best_architecture.json").read_text())
    assert 0.0 <= test["test_accuracy"] <= 1.0
    assert test["epochs"] == best["best_epoch"] >= 1  # the epoch whose weights the search kept
    # Two seeds, both scored, saved as one model that averages them (retrain.ensemble's default here).
    assert len(test["test_accuracies"]) == 2 and test["test_accuracy_first_seed"] == test["test_accuracies"][0]
    assert test["test_accuracy_mean"] == pytest.approx(np.mean(test["test_accuracies"]))
    assert test["ensemble_members"] == 2
    # The gap between search val and retrained test, against the noise of both.
    assert test["search_val_accuracy"] == best["val_accuracy"]
    assert test["val_test_gap"] == pytest.approx(best["val_accuracy"] - test["test_accuracy"])
    assert test["gap_noise"] > 0.0 and test["gap_beyond_noise"] == (abs(test["val_test_gap"]) > test["gap_noise"])
    # The promotion score: 2-fold CV on train+val, every example held out once.
    n_train_val = sum(len(load_split(root / f"data/prepared/{s}.npz")[1]) for s in ("train", "val"))
    assert test["promotion_examples"] == n_train_val and len(test["promotion_fold_accuracies"]) == 2
    # The search's report, written again after the retrain: every score with its interval, and the gap's verdict.
    report = (root / "reports" / best["search_run_id"] / "index.html").read_text()
    assert "The winner, retrained" in report and "95% interval" in report
    verdict = "larger than the noise" if test["gap_beyond_noise"] else "within the noise"
    assert f"{test['val_test_gap']:+.4f}, {verdict}" in report.replace("<b>", "").replace("</b>", "")
    model = keras.saving.load_model(root / "models/winner.keras", safe_mode=True)
    x, y = load_split(root / "data/prepared/test.npz")
    accuracy = float(np.mean(model.predict(x, verbose=0).argmax(axis=1) == y))
    assert accuracy == pytest.approx(test["test_accuracy"], abs=1e-6)  # the saved ensemble is what was scored
    assert [layer.name for layer in model.layers[1:]] == ["seed_0", "seed_1", "mean_probabilities"]
    assert model.count_params() == test["params"] == 2 * model.get_layer("seed_0").count_params()
    (parent,) = runs_of_kind(client, "search")
    (retrain,) = runs_of_kind(client, "retrain")
    assert retrain.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert retrain.data.metrics["test_accuracy"] == pytest.approx(test["test_accuracy"])
    assert retrain.data.metrics["promotion_accuracy"] == pytest.approx(test["promotion_accuracy"])
    assert retrain.data.tags["nas.dataset_hash"] == pipeline["prepared"]["content_hash"]
    by_seed = client.get_metric_history(retrain.info.run_id, "test_accuracy_by_seed")
    assert [m.value for m in sorted(by_seed, key=lambda m: m.step)] == pytest.approx(test["test_accuracies"])
    champion = client.get_model_version_by_alias("nas-test", "champion")
    assert champion.run_id == retrain.info.run_id
    assert str(champion.version) == test["model_version"]
