"""Re-score the search's top candidates by cross-validation on train+val before naming the winner.

A small val split saturates: on digits (269 val images) several candidates score 1.0 or one
image short, and which of them the val ranking puts first is close to chance. So the top
`search.reevaluate_top_k` candidates of that ranking are scored again by `retrain.folds`-fold
cross-validation of the retrain recipe on train+val: every example scored once, by a model that
did not train on it. The same winner rule (objective, then loss, then size) on those scores
names the winner, and the winner's score is its promotion score, which the retrain stage then
reuses instead of computing it again (flows/retrain.py). Each fold trains in a worker process,
as a Prefect task on the search's task runner (threads or Dask), like a candidate.

The evidence for the rule, on tuning seeds only, is in BENCHMARKS.md ("A winner you can trust").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from prefect import task
from prefect.cache_policies import NONE
from prefect.futures import PrefectFuture, as_completed

from flows.runtime.dask_runner import raise_if_cluster_lost
from flows.runtime.dask_workers import on_this_worker
from nas_core.config import NasConfig
from nas_core.cross_validation import CrossValidation, FoldScore, combine_folds
from nas_core.isolation import IsolatedTrainer
from nas_core.objectives import Objective, ranked_by
from nas_core.results import CandidateResult
from nas_core.train_settings import retrain_settings
from nas_core.worker import FoldRequest, score_fold_request

Logger = logging.Logger | logging.LoggerAdapter[Any]


@task(name="cross-validate-fold", cache_policy=NONE)
def score_fold_task(request: FoldRequest, trainer: IsolatedTrainer | None) -> FoldScore | str:
    """On threads: one fold in a recycled worker process. On a Dask worker: right there, on its copy of the data."""
    if trainer is None:
        return score_fold_request(on_this_worker(request))
    return trainer.score_fold(request)


@dataclass(frozen=True)
class Reevaluation:
    """The re-scored candidates (best of the val ranking first), the winner among them, and its promotion score."""

    rescored: list[CandidateResult]
    winner: CandidateResult
    promotion: CrossValidation
    folds: int
    data_seed: int
    epochs: int  # the retrain recipe's epochs for the winner: what the retrain must match to reuse the score

    def promotion_record(self) -> dict[str, Any]:
        """For artifacts/best_architecture.json: the winner's cross-validation and what it was computed with."""
        return self.promotion.to_dict() | {"folds": self.folds, "data_seed": self.data_seed, "epochs": self.epochs}

    def summary(self) -> dict[str, Any]:
        """For metrics/search.json: each re-scored candidate, and whether the val ranking's first lost."""
        return {
            "reevaluated": [
                {"candidate": r.index, "key": r.key, "val_accuracy": r.val_accuracy, "cv_accuracy": r.cv_accuracy}
                for r in self.rescored
            ],
            "reevaluation_folds": self.folds,
            "winner_cv_accuracy": self.winner.cv_accuracy,
            "winner_changed_by_reevaluation": self.winner.key != self.rescored[0].key,
        }


def collected(future: PrefectFuture[FoldScore | str]) -> FoldScore | str:
    """A fold's outcome; a task that broke (not the training) is one failed fold, unless the cluster is gone."""
    try:
        return future.result()
    except Exception as error:
        raise_if_cluster_lost(error)
        return f"task failed: {error}"


def as_cv_scored(result: CandidateResult) -> CandidateResult:
    """The candidate with its cross-validated accuracy and loss in place of val's, for the same winner rule."""
    return replace(result, val_accuracy=result.cv_accuracy, val_loss=result.cv_loss)


def reevaluate(
    cfg: NasConfig,
    objective: Objective,
    contenders: Sequence[CandidateResult],
    trainer: IsolatedTrainer | None,
    data: str,
    num_classes: int,
    logger: Logger,
) -> Reevaluation | None:
    """Cross-validate the top `search.reevaluate_top_k` contenders and name the best; None when off or impossible.

    A candidate whose folds do not all train keeps only its val score and cannot win here; if no
    candidate could be re-scored, the val ranking's winner stands (None).
    """
    top = ranked_by(contenders, objective)[: cfg.search.reevaluate_top_k]
    if len(top) < 2:
        return None
    folds = cfg.retrain.folds
    logger.info(
        "re-scoring the top %d candidates by %d-fold cross-validation on train+val (%d trainings)",
        len(top),
        folds,
        len(top) * folds,
    )
    recipes = {result.key: retrain_settings(cfg, result.best_epoch) for result in top}
    pending = {
        score_fold_task.with_options(task_run_name=f"cv-candidate-{result.index:03d}-fold-{fold}").submit(
            FoldRequest(
                key=result.key,
                architecture=result.architecture,
                data_dir=data,
                settings=recipes[result.key],
                num_classes=num_classes,
                folds=folds,
                fold=fold,
                seed=cfg.data.seed,
            ),
            trainer,
        ): (result.key, fold)
        for result in top
        for fold in range(folds)
    }
    by_fold: dict[str, dict[int, FoldScore | str]] = {result.key: {} for result in top}
    while pending:  # read as they finish, and let go of each: a Dask worker keeps a result until the flow does
        future = next(as_completed(list(pending)))
        key, fold = pending.pop(future)
        by_fold[key][fold] = collected(future)
    rescored, scores = [], {}
    for result in top:
        outcomes = [by_fold[result.key][fold] for fold in range(folds)]
        errors = [outcome for outcome in outcomes if isinstance(outcome, str)]
        if errors:
            logger.warning("candidate %d could not be re-scored: %s", result.index, errors[0])
            rescored.append(result)
            continue
        cv = combine_folds([outcome for outcome in outcomes if isinstance(outcome, FoldScore)])
        scores[result.key] = cv
        rescored.append(replace(result, cv_accuracy=cv.accuracy, cv_loss=cv.loss))
        logger.info(
            "candidate %d: val accuracy %.4f, cross-validated %.4f (loss %.4f)",
            result.index,
            result.val_accuracy or 0.0,
            cv.accuracy,
            cv.loss,
        )
    ranked = ranked_by([as_cv_scored(r) for r in rescored if r.key in scores], objective)
    if not ranked:
        return None
    winner = next(r for r in rescored if r.key == ranked[0].key)
    return Reevaluation(rescored, winner, scores[winner.key], folds, cfg.data.seed, recipes[winner.key].epochs)
