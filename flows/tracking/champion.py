"""The champion rule: a new model version takes the `champion` alias only if its promotion score is better.

Every retrain registers a new version, but serving follows the alias, so a worse nightly run must
not take it. The rule never reads test: test is the once-only report of each winner, and a split
that decides which model serves is a selection set, whose score stops being an honest estimate
over many nights. The promotion score is the k-fold cross-validated accuracy of the retrain recipe
on train+val (`nas_core.retraining.cross_validate`, val loss breaking ties), which no search and
no earlier promotion ranked on test data.

Two scores compare only on the same data. When the champion was scored on another dataset
(its retrain run's `nas.dataset_hash` differs), its architecture is cross-validated again on the
current data before the comparison, so both sides do equal work on equal folds. The same rule
applies to manual runs; a version that loses is still registered and can be promoted by hand
(`MlflowClient().set_registered_model_alias(name, "champion", version)`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from flows.tracking.schema import DATASET_HASH_TAG

CHAMPION = "champion"
ACCURACY = "promotion_accuracy"
LOSS = "promotion_loss"


@dataclass(frozen=True)
class Promotion:
    """A cross-validated score of one retrain recipe: higher accuracy wins, lower loss breaks a tie."""

    accuracy: float
    loss: float

    def beats(self, other: Promotion) -> bool:
        return (self.accuracy, -self.loss) > (other.accuracy, -other.loss)


@dataclass(frozen=True)
class Champion:
    """The version holding the alias, its retrain run, and the promotion score that run recorded."""

    version: str
    run_id: str | None
    score: Promotion | None
    dataset_hash: str | None


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
    if not run_id:
        return Champion(str(version), None, None, None)
    run = client.get_run(run_id)
    metrics = run.data.metrics
    score = Promotion(metrics[ACCURACY], metrics[LOSS]) if ACCURACY in metrics and LOSS in metrics else None
    return Champion(str(version), run_id, score, run.data.tags.get(DATASET_HASH_TAG))


def is_better(challenger: Promotion, champion: Champion | None) -> bool:
    """Strictly better takes the title; a tie keeps the current champion. A champion with no promotion
    score (an alias set by hand on a foreign version, or one from before this rule) cannot be compared,
    so the new version replaces it."""
    return champion is None or champion.score is None or challenger.beats(champion.score)


def crown_if_better(
    client: MlflowClient,
    model_name: str,
    version: str,
    score: Promotion,
    dataset_hash: str,
    rescore: Callable[[Champion], Promotion | None],
) -> dict[str, Any]:
    """Move the alias to `version` if it beats the current champion; what happened, for metrics/test.json.

    `rescore` cross-validates the champion's architecture on the current data; it is called only
    when the champion was scored on other data, and returns None when that is impossible.
    """
    previous = current_champion(client, model_name)
    rescored = False
    if previous is not None and previous.score is not None and previous.dataset_hash != dataset_hash:
        previous = Champion(previous.version, previous.run_id, rescore(previous), dataset_hash)
        rescored = True
    crowned = is_better(score, previous)
    if crowned:
        client.set_registered_model_alias(model_name, CHAMPION, version)
    return {
        "champion": crowned,
        "champion_version": version if crowned or previous is None else previous.version,
        "previous_champion_version": previous.version if previous else None,
        "previous_champion_promotion_accuracy": previous.score.accuracy if previous and previous.score else None,
        "previous_champion_rescored": rescored,
    }
