"""The champion rule: a new model version takes the `champion` alias only if its test accuracy is better.

Every retrain registers a new version, but serving follows the alias, so a worse nightly run
must not take it. The same rule applies to manual runs: one rule is simpler to reason about,
and a hand-started run that loses is still registered and can be promoted by hand
(`MlflowClient().set_registered_model_alias(name, "champion", version)`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

CHAMPION = "champion"
METRIC = "test_accuracy"


@dataclass(frozen=True)
class Champion:
    """The version holding the alias, and the test accuracy its retrain run recorded (None if it has none)."""

    version: str
    test_accuracy: float | None


def current_champion(client: MlflowClient, model_name: str) -> Champion | None:
    """None when the registered model or its alias does not exist yet."""
    try:
        model = client.get_registered_model(model_name)
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    version = (model.aliases or {}).get(CHAMPION)
    if version is None:
        return None
    run_id = client.get_model_version(model_name, str(version)).run_id
    accuracy = client.get_run(run_id).data.metrics.get(METRIC) if run_id else None
    return Champion(str(version), accuracy)


def is_better(test_accuracy: float, champion: Champion | None) -> bool:
    """Strictly better takes the title; a tie keeps the current champion. A champion with no recorded accuracy
    (an alias set by hand on a foreign version) cannot be compared, so the new version replaces it."""
    return champion is None or champion.test_accuracy is None or test_accuracy > champion.test_accuracy


def crown_if_better(client: MlflowClient, model_name: str, version: str, test_accuracy: float) -> dict[str, Any]:
    """Move the alias to `version` if it beats the current champion; what happened, for metrics/test.json."""
    previous = current_champion(client, model_name)
    crowned = is_better(test_accuracy, previous)
    if crowned:
        client.set_registered_model_alias(model_name, CHAMPION, version)
    return {
        "champion": crowned,
        "champion_version": version if crowned or previous is None else previous.version,
        "previous_champion_version": previous.version if previous else None,
        "previous_champion_accuracy": previous.test_accuracy if previous else None,
    }
