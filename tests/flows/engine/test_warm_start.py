"""Warm start for real: searches on tiny digits that learn from the earlier ones in the same MLflow store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from flows.engine.setup import set_up_search
from flows.io.artifacts import read_manifest
from flows.io.params import load_params
from flows.prepare import prepare_flow
from flows.search import run_search_stage
from flows.space import space_flow
from nas_core.config import validate_config
from nas_core.errors import NasError
from nas_core.uncertainty import wilson_interval
from tests.conftest import in_directory, write_params

pytestmark = pytest.mark.slow

WARM = {"search": {"max_candidates": 3, "warm_start": True, "reevaluate_top_k": 3}, "train": {"epochs": 1}}


def search_runs(client: MlflowClient) -> list[Any]:
    experiment = client.get_experiment_by_name("nas-test")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], "tags.`nas.kind` = 'search'")
    return sorted(runs, key=lambda r: r.info.start_time)


def trained_keys(client: MlflowClient, search_run_id: str) -> list[str]:
    experiment = client.get_experiment_by_name("nas-test")
    assert experiment is not None
    query = f"tags.`mlflow.parentRunId` = '{search_run_id}' and tags.`nas.kind` = 'candidate'"
    return [r.data.tags["nas.candidate_hash"] for r in client.search_runs([experiment.experiment_id], query)]


@pytest.fixture(scope="module")
def nights(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Three warm-started searches of 3 candidates in a row on the same data, space and seed."""
    root = tmp_path_factory.mktemp("warm")
    with in_directory(root):
        params = str(write_params(root / "params.yaml", WARM))
        prepare_flow(params_path=params)
        space_flow(params_path=params)
        summaries = [run_search_stage(params_path=params) for _ in range(3)]
        winner = json.loads((root / "artifacts/best_architecture.json").read_text())
        client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
        yield {"root": root, "params": params, "summaries": summaries, "winner": winner, "client": client}


def test_no_architecture_is_trained_twice_and_each_night_spends_its_whole_budget(nights: dict[str, Any]) -> None:
    client = nights["client"]
    runs = search_runs(client)
    assert len(runs) == 3
    keys = [trained_keys(client, run.info.run_id) for run in runs]
    assert [len(k) for k in keys] == [3, 3, 3]
    every = [key for night in keys for key in night]
    assert len(set(every)) == 9
    assert [s["candidates"] for s in nights["summaries"]] == [3, 3, 3]
    assert [s["reused_candidates"] for s in nights["summaries"]] == [0, 3, 6]  # counted, not trained
    assert [s["earlier_searches"] for s in nights["summaries"]] == [0, 1, 2]
    assert [s["warm_start"] for s in nights["summaries"]] == ["off", "history", "history"]


def test_each_warm_night_draws_its_own_recorded_seed(nights: dict[str, Any]) -> None:
    runs = search_runs(nights["client"])
    seeds = [run.data.tags["nas.search_seed"] for run in runs]
    assert seeds[0] == "0"  # nothing to learn from yet: search.seed itself
    assert len(set(seeds)) == 3
    assert [s["search_seed"] for s in nights["summaries"]] == [int(s) for s in seeds]
    assert len({run.data.tags["nas.history_key"] for run in runs}) == 1
    assert all(run.data.tags["nas.data_dvc_md5"].endswith(".dir") for run in runs)
    record = nights["client"].download_artifacts(runs[2].info.run_id, "warm_start.json")
    told = json.loads(Path(record).read_text())
    assert told["searches"] == [runs[0].info.run_id, runs[1].info.run_id]
    assert len(told["candidates"]) == 6


def test_the_winner_is_the_best_so_far_across_nights(nights: dict[str, Any]) -> None:
    client, last = nights["client"], nights["summaries"][-1]
    experiment = client.get_experiment_by_name("nas-test")
    assert experiment is not None
    candidates = client.search_runs([experiment.experiment_id], "tags.`nas.kind` = 'candidate'")
    best_low = max(r.data.metrics["val_accuracy_low"] for r in candidates if "val_accuracy_low" in r.data.metrics)
    # The re-scoring starts from the top of the val ranking over every night's candidates ...
    rescored = last["reevaluated"]
    assert wilson_interval(rescored[0]["val_accuracy"], last["val_examples"])[0] == pytest.approx(best_low)
    assert rescored[0]["val_accuracy"] >= max(s["best_val_accuracy"] for s in nights["summaries"][:2])
    # ... and the winner, from whichever night, is the best of them by cross-validation.
    winner = nights["winner"]
    assert last["winner_cv_accuracy"] == max(r["cv_accuracy"] for r in rescored)
    assert winner["key"] in {r["key"] for r in rescored if r["cv_accuracy"] == last["winner_cv_accuracy"]}
    assert winner["search_run_id"] == search_runs(client)[-1].info.run_id  # named by the last night
    trained_by = {r.info.run_id: r for r in candidates}
    if winner["from_history"]:
        run = trained_by[winner["candidate_run_id"]]
        assert run.data.tags["nas.candidate_hash"] == winner["key"]
        assert run.data.tags["mlflow.parentRunId"] == winner["trained_by_search_run_id"]
    assert last["winner_from_history"] is winner["from_history"]


def test_a_manual_search_without_warm_start_repeats_itself(nights: dict[str, Any]) -> None:
    """What the nightly default prevents: the same params and seed propose the same candidates."""
    root, client = nights["root"], nights["client"]
    cold = write_params(root / "cold.yaml", WARM | {"search": {"max_candidates": 3, "warm_start": False}})
    with in_directory(root):
        summary = run_search_stage(params_path=str(cold))
    assert summary["warm_start"] == "off" and summary["reused_candidates"] == 0
    first, *_, latest = search_runs(client)
    assert sorted(trained_keys(client, latest.info.run_id)) == sorted(trained_keys(client, first.info.run_id))


def test_transfer_hands_the_best_architectures_of_another_search_over_first(
    nights: dict[str, Any], tmp_path: Path
) -> None:
    """Other data (another digits subset), warm-started from the experiment of the nights above."""
    root = nights["root"]
    source = search_runs(nights["client"])[-1]
    other = {
        "data": {"source": "digits", "limit": 300, "seed": 1},
        "search": {
            "max_candidates": 3,
            "strategy": "evolution",
            "warm_start": {"enabled": True, "from": "nas-test", "top_k": 2},
        },
        "train": {"epochs": 1},
        "tracking": {"uri": f"sqlite:///{root / 'mlflow.db'}", "experiment": "nas-transfer"},
    }
    with in_directory(tmp_path):
        params = str(write_params(tmp_path / "params.yaml", other))
        prepare_flow(params_path=params)
        space_flow(params_path=params)
        summary = run_search_stage(params_path=params)
    assert summary["warm_start"] == "transfer" and summary["transferred_architectures"] == 2
    client = nights["client"]
    experiment = client.get_experiment_by_name("nas-transfer")
    assert experiment is not None
    (search,) = client.search_runs([experiment.experiment_id], "tags.`nas.kind` = 'search'")
    record = json.loads(Path(client.download_artifacts(search.info.run_id, "warm_start.json")).read_text())
    # The latest finished search of experiment nas-test, its two best by val accuracy, best first.
    source_query = f"tags.`mlflow.parentRunId` = '{source.info.run_id}'"
    source_runs = client.search_runs([source.info.experiment_id], source_query)
    accuracy = {r.data.tags["nas.sample"]: r.data.metrics["val_accuracy"] for r in source_runs}
    handed = [accuracy[json.dumps(sample)] for sample in record["transferred"]]
    assert len(handed) == 2 and handed[0] >= handed[1]
    assert handed[1] >= max(v for k, v in accuracy.items() if json.loads(k) not in record["transferred"])
    query = f"tags.`mlflow.parentRunId` = '{search.info.run_id}'"
    runs = client.search_runs([experiment.experiment_id], query)
    firsts = sorted(runs, key=lambda r: int(r.data.tags["nas.candidate_index"]))
    proposed = [json.loads(r.data.tags["nas.sample"]) for r in firsts[:2]]
    assert proposed == record["transferred"]


def test_a_warm_start_that_cannot_apply_names_its_key() -> None:
    with pytest.raises(NasError, match=r"search: warm_start: not available with search\.estimation 'oneshot'"):
        validate_config({"search": {"estimation": "oneshot", "warm_start": True}})
    assert validate_config({"search": {"estimation": "darts"}}).search.warm_start.applies(True, "darts") is False


def test_the_report_plots_the_best_so_far_night_by_night(nights: dict[str, Any]) -> None:
    last = search_runs(nights["client"])[2]
    report = nights["root"] / "reports" / last.info.run_id
    assert (report / "best_so_far_by_night.png").stat().st_size > 10_000
    page = (report / "index.html").read_text()
    assert "6 architectures trained by 2 earlier searches" in page
    assert "best_so_far_by_night.png" in page
    first = nights["root"] / "reports" / search_runs(nights["client"])[0].info.run_id
    assert not (first / "best_so_far_by_night.png").exists()  # one search is no series yet


def test_a_night_replays_from_its_recorded_seed_and_history(nights: dict[str, Any]) -> None:
    """The record alone (nas.search_seed, warm_start.json) gives back the candidates the night proposed."""
    client = nights["client"]
    night = search_runs(client)[2]
    told = json.loads(Path(client.download_artifacts(night.info.run_id, "warm_start.json")).read_text())
    cfg = load_params(nights["params"])
    with in_directory(nights["root"]):
        manifest = read_manifest(Path("data/prepared"))
    setup = set_up_search(cfg, manifest)
    strategy = setup.strategy(int(night.data.tags["nas.search_seed"]))
    for entry in told["candidates"]:
        sample = json.loads(client.get_run(entry["run_id"]).data.tags["nas.sample"])
        strategy.remember(sample, entry["score"])
    query = f"tags.`mlflow.parentRunId` = '{night.info.run_id}'"
    runs = client.search_runs([night.info.experiment_id], query)
    recorded = sorted(runs, key=lambda r: int(r.data.tags["nas.candidate_index"]))
    assert strategy.ask(3) == [json.loads(r.data.tags["nas.sample"]) for r in recorded]
