"""The champion rule on a real MLflow registry: promotion scores decide, test accuracy never does."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from flows.tracking.champion import CHAMPION, Champion, Promotion, crown_if_better, is_better
from flows.tracking.schema import DATASET_HASH_TAG

MODEL = "nas-champion-test"


@pytest.fixture
def client(tmp_path: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")


def register(client: MlflowClient, *, test: float, promotion: float | None, loss: float = 0.1, data: str = "h1") -> str:
    """A retrain run with its metrics, registered as a new version of MODEL (as flows/retrain.py records one)."""
    experiment = client.get_experiment_by_name("champion") or client.get_experiment(
        client.create_experiment("champion")
    )
    run = client.create_run(experiment.experiment_id, tags={DATASET_HASH_TAG: data})
    client.log_metric(run.info.run_id, "test_accuracy", test)
    if promotion is not None:
        client.log_metric(run.info.run_id, "promotion_accuracy", promotion)
        client.log_metric(run.info.run_id, "promotion_loss", loss)
    try:
        client.get_registered_model(MODEL)
    except Exception:
        client.create_registered_model(MODEL)
    version = client.create_model_version(MODEL, f"{run.info.artifact_uri}/model", run.info.run_id)
    return str(version.version)


def never_rescore(champion: Champion) -> Promotion | None:
    raise AssertionError(f"v{champion.version} was scored on the same data and must not be re-scored")


def test_a_better_test_score_with_a_worse_promotion_score_does_not_take_the_alias(client: MlflowClient) -> None:
    first = register(client, test=0.95, promotion=0.97)
    assert crown_if_better(client, MODEL, first, Promotion(0.97, 0.1), "h1", never_rescore)["champion"] is True
    challenger = register(client, test=0.99, promotion=0.96)  # better on test, worse where the rule looks
    outcome = crown_if_better(client, MODEL, challenger, Promotion(0.96, 0.1), "h1", never_rescore)
    assert outcome["champion"] is False and outcome["champion_version"] == first
    assert outcome["previous_champion_promotion_accuracy"] == pytest.approx(0.97)
    assert str(client.get_model_version_by_alias(MODEL, CHAMPION).version) == first


def test_a_better_promotion_score_takes_the_alias_even_with_a_worse_test_score(client: MlflowClient) -> None:
    first = register(client, test=0.99, promotion=0.95)
    crown_if_better(client, MODEL, first, Promotion(0.95, 0.2), "h1", never_rescore)
    challenger = register(client, test=0.90, promotion=0.96)
    assert crown_if_better(client, MODEL, challenger, Promotion(0.96, 0.2), "h1", never_rescore)["champion"] is True
    assert str(client.get_model_version_by_alias(MODEL, CHAMPION).version) == challenger


def test_a_tie_goes_to_the_lower_loss_and_an_exact_tie_keeps_the_champion() -> None:
    champion = Champion("1", "r", Promotion(0.97, 0.10), "h")
    assert is_better(Promotion(0.97, 0.09), champion)
    assert not is_better(Promotion(0.97, 0.10), champion)
    assert not is_better(Promotion(0.97, 0.11), champion)
    assert is_better(Promotion(0.10, 9.0), None)  # no champion yet
    assert is_better(Promotion(0.10, 9.0), Champion("1", None, None, None))  # a hand-set alias with no score


def test_a_champion_scored_on_other_data_is_rescored_on_this_data_first(client: MlflowClient) -> None:
    first = register(client, test=0.9, promotion=0.99, data="old")
    crown_if_better(client, MODEL, first, Promotion(0.99, 0.1), "old", never_rescore)
    seen: list[str] = []

    def rescore(champion: Champion) -> Promotion:
        seen.append(champion.version)
        return Promotion(0.90, 0.3)  # on the new data the old champion does worse than it did on its own

    challenger = register(client, test=0.9, promotion=0.95, data="new")
    outcome = crown_if_better(client, MODEL, challenger, Promotion(0.95, 0.2), "new", rescore)
    assert seen == [first]  # 0.99 recorded on the old data is not compared with 0.95 on the new data
    assert outcome["champion"] is True and outcome["previous_champion_rescored"] is True
    assert outcome["previous_champion_promotion_accuracy"] == pytest.approx(0.90)


def test_a_champion_that_cannot_be_rescored_gives_way(client: MlflowClient) -> None:
    first = register(client, test=0.9, promotion=0.99, data="old")
    crown_if_better(client, MODEL, first, Promotion(0.99, 0.1), "old", never_rescore)
    challenger = register(client, test=0.9, promotion=0.5, data="new")
    outcome = crown_if_better(client, MODEL, challenger, Promotion(0.5, 1.0), "new", lambda champion: None)
    assert outcome["champion"] is True  # trained for other inputs: nothing to compare on this data
