"""Stage 4, retrain: train the winner on train+val, score it once on test, save, log and register it.

    python -m flows.retrain [--params params.yaml]

Writes models/winner.keras and metrics/test.json. The MLflow run is a child of the search's
parent run, holds the logged model, and registers it under `retrain.model_name`. A k-fold
cross-validation of the same recipe on train+val gives the promotion score: the search's
re-evaluation computed it already when it re-scored its top candidates
(flows/engine/reevaluate.py), otherwise it runs before the retrain.
The new version takes the alias `champion` only if it beats the current champion's
(flows/tracking/champion.py). Test is read once, to report, never to choose.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from mlflow.entities import Metric, RunStatus
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from flows.io.artifacts import read_manifest, read_winner, write_json
from flows.io.dvc_version import directory_md5
from flows.io.params import load_params
from flows.io.paths import PREPARED_DIR, TEST_METRICS, WINNER_MODEL
from flows.reports.learning_curve import FAST_PNG, learning_curve
from flows.runtime.entry import run_stage
from flows.tracking.champion import CHAMPION, Champion, Promotion, crown_if_better
from flows.tracking.dataset_input import log_dataset
from flows.tracking.model_store import log_signed_model
from flows.tracking.schema import (
    CANDIDATE_HASH_TAG,
    CHAMPION_TAG,
    DATASET_HASH_TAG,
    KIND_RETRAIN,
    KIND_TAG,
    PARENT_TAG,
    TRIGGER_TAG,
)
from flows.tracking.search_record import report_after_retrain
from flows.tracking.tracker import MlflowTracker, source_tags
from nas_core.config import NasConfig
from nas_core.cross_validation import CrossValidation, FoldScore, combine_folds
from nas_core.isolation import IsolatedTrainer
from nas_core.prepared import load_split
from nas_core.results import COMPLETED, CandidateResult
from nas_core.search_loop import candidate_seed
from nas_core.spaces import raw_example, with_raw_input
from nas_core.train_settings import TrainSettings, retrain_settings
from nas_core.uncertainty import difference_noise, standard_error
from nas_core.worker import FoldRequest, RetrainRequest

Request = TypeVar("Request")
Result = TypeVar("Result")
SIGNATURE_IMAGES = 8  # the signature is inferred from these; the first few are the input example


def retrain_preflight(cfg: NasConfig) -> None:
    read_manifest()
    read_winner()
    MlflowTracker(cfg.tracking.uri, cfg.tracking.experiment)


def retrain_trainer(cfg: NasConfig) -> IsolatedTrainer:
    """Worker processes for the stage's trainings (promotion folds, seeds), one per core, one TF thread each.

    With several threads TensorFlow's sums may add in a different order from one run to the next:
    the same params and seed then retrained to 0.9851 or 0.9888 on test. One thread per worker gives
    the same model every time, and the cores are used by training seeds and folds side by side.
    """
    trainings = max(cfg.retrain.seeds, cfg.retrain.folds)
    workers = max(1, min(os.cpu_count() or 1, trainings))
    return IsolatedTrainer(workers, recycle_after=trainings, threads=1)


def in_parallel(trainer: IsolatedTrainer, work: Callable[[Request], Result], requests: list[Request]) -> list[Result]:
    """Each request on its own worker, as many at once as the trainer has workers; results in request order."""
    with ThreadPoolExecutor(trainer.parallelism) as threads:
        return list(threads.map(work, requests))


@task(name="cross-validate", cache_policy=NONE)
def promotion_score(
    cfg: NasConfig,
    arch: dict[str, Any],
    settings: TrainSettings,
    num_classes: int,
    data_dir: Path,
    trainer: IsolatedTrainer,
) -> CrossValidation:
    """The champion rule's score: k-fold CV of the recipe on train+val, folds fixed by the data seed."""
    folds = cfg.retrain.folds
    requests = [
        FoldRequest("promotion", arch, str(data_dir.resolve()), settings, num_classes, folds, fold, cfg.data.seed)
        for fold in range(folds)
    ]
    outcomes = in_parallel(trainer, trainer.score_fold, requests)
    errors = [outcome for outcome in outcomes if isinstance(outcome, str)]
    if errors:
        raise RuntimeError(f"the promotion score could not be computed: {errors[0]}")
    return combine_folds([outcome for outcome in outcomes if isinstance(outcome, FoldScore)])


def score_from_search(cfg: NasConfig, winner: dict[str, Any], settings: TrainSettings) -> CrossValidation | None:
    """The promotion score the search's re-evaluation computed for this winner, if it used this very recipe
    (the same folds, data seed and epochs): the same cross-validation, not trained twice."""
    record = winner.get("promotion") or {}
    recipe = (record.get("folds"), record.get("data_seed"), record.get("epochs"))
    if recipe != (cfg.retrain.folds, cfg.data.seed, settings.epochs):
        return None
    return CrossValidation.from_dict(record)


@task(name="retrain-winner", cache_policy=NONE)
def retrain_winner(
    cfg: NasConfig, winner: dict[str, Any], settings: TrainSettings, data_dir: Path, trainer: IsolatedTrainer
) -> tuple[Any, dict[str, list[float]], dict[str, Any]]:
    """Train `retrain.seeds` models on train+val side by side, each scored once on test; keep them as one.

    With an ensemble (`retrain.ensemble`, NasConfig.retrain_ensemble) the saved model is the mean of
    all the seeds' predicted probabilities (nas_core/ensemble.py), otherwise the first seed's model.
    Either is fixed before any test score exists, so test chooses nothing; the single scores
    measure how much test accuracy moves with the initialisation alone.
    """
    import keras

    from nas_core.ensemble import average_models, scores

    first_seed = candidate_seed(cfg.search.seed, winner["key"])
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nas-retrain-") as scratch:
        requests = [
            RetrainRequest(
                architecture=winner["architecture"],
                data_dir=str(data_dir.resolve()),
                settings=settings,
                num_classes=int(winner["num_classes"]),
                seed=first_seed + offset,
                save_to=str(Path(scratch) / f"seed-{offset}.keras"),
            )
            for offset in range(cfg.retrain.seeds)
        ]
        retrained = in_parallel(trainer, trainer.retrain, requests)
        kept = retrained[0]
        members = retrained if cfg.retrain_ensemble else [kept]
        model = average_models([keras.saving.load_model(r.path) for r in members])
    if len(members) > 1:
        test_loss, test_accuracy = scores(model, *load_split(data_dir / "test.npz"))
    else:
        test_loss, test_accuracy = kept.test_loss, kept.test_accuracy
    accuracies = [r.test_accuracy for r in retrained]
    metrics = {
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "ensemble_members": len(members),
        "test_accuracy_first_seed": kept.test_accuracy,
        "test_accuracies": accuracies,
        "test_accuracy_mean": float(np.mean(accuracies)),
        "test_accuracy_sd": float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else 0.0,
        "test_examples": kept.test_examples,
        "params": int(model.count_params()),
        "epochs": settings.epochs,
        "retrain_seeds": cfg.retrain.seeds,
        "train_seconds": round(time.perf_counter() - started, 2),
    }
    return model, kept.history, metrics | search_gap(winner, metrics)


def search_gap(winner: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    """Search val against retrained test, and whether the difference is beyond the noise of both.

    The noise is the 95% half-width of a difference of two accuracies on their numbers of examples
    (Wilson standard errors), widened by the spread over retrain seeds: a gap beyond it means the
    retrain did not keep what the search measured, or val flattered the winner.
    """
    val, n_val = winner.get("val_accuracy"), winner.get("val_examples")
    out: dict[str, Any] = {"search_val_accuracy": val}
    if val is None or not n_val:
        return out
    test, n_test = metrics["test_accuracy"], metrics["test_examples"]
    test_noise = math.hypot(standard_error(test, n_test), metrics["test_accuracy_sd"])
    noise = difference_noise(standard_error(val, n_val), test_noise)
    gap = val - test
    return out | {"val_test_gap": gap, "gap_noise": noise, "gap_beyond_noise": abs(gap) > noise}


def rescore_champion(
    cfg: NasConfig, tracker: MlflowTracker, manifest: dict[str, Any], data_dir: Path, trainer: IsolatedTrainer
) -> Callable[[Champion], Promotion | None]:
    """Cross-validate a champion's architecture on the current data, as its challenger was: equal work."""

    def rescore(champion: Champion) -> Promotion | None:
        if champion.run_id is None:
            return None
        with tempfile.TemporaryDirectory() as scratch:
            try:
                path = tracker.client.download_artifacts(champion.run_id, "architecture.json", scratch)
            except Exception:  # a version logged by hand, with no record of its architecture
                return None
            record = json.loads(Path(path).read_text())
        if list(record.get("input_shape", [])) != list(manifest["input_shape"]):
            return None  # trained for other inputs: no score on this data exists
        epochs = tracker.client.get_run(champion.run_id).data.metrics.get("epochs")
        settings = retrain_settings(cfg, int(epochs) if epochs else record.get("best_epoch"))
        cv = promotion_score(cfg, record["architecture"], settings, int(manifest["num_classes"]), data_dir, trainer)
        return Promotion(cv.accuracy, cv.loss)

    return rescore


def log_to_mlflow(
    cfg: NasConfig,
    tracker: MlflowTracker,
    winner: dict[str, Any],
    model: Any,
    history: dict[str, list[float]],
    metrics: dict[str, Any],
    manifest: dict[str, Any],
    data_dir: Path,
    trainer: IsolatedTrainer,
    trigger: str = "manual",
) -> dict[str, Any]:
    """A retrain run under the search's parent run, with the model logged and registered; it takes the
    `champion` alias only if its promotion score beats the current champion's (flows/tracking/champion.py)."""
    client = tracker.client
    tags = {PARENT_TAG: winner["search_run_id"], KIND_TAG: KIND_RETRAIN, CANDIDATE_HASH_TAG: winner["key"]}
    tags |= {TRIGGER_TAG: trigger, DATASET_HASH_TAG: manifest["content_hash"]} | source_tags("flows.retrain")
    run_id = client.create_run(tracker.experiment_id, tags=tags, run_name="retrain-winner").info.run_id
    log_dataset(client, run_id, cfg.model_dump(mode="json"), data_dir, directory_md5(data_dir), "retrain")
    recipe = {"retrain.epochs": metrics["epochs"], "retrain.seeds": cfg.retrain.seeds}
    recipe |= {"retrain.ensemble": cfg.retrain_ensemble}
    recipe |= {"retrain.folds": cfg.retrain.folds}
    tracker.log_params(run_id, winner["architecture"] | recipe)
    stamp = int(time.time() * 1000)
    series = [Metric(k, v, stamp, step) for k, vals in history.items() for step, v in enumerate(vals, start=1)]
    for name, values in (
        ("test_accuracy_by_seed", metrics["test_accuracies"]),
        ("promotion_fold_accuracy", metrics["promotion_fold_accuracies"]),
    ):
        series += [Metric(name, float(v), stamp, step) for step, v in enumerate(values, start=1)]
    finals = [Metric(k, float(v), stamp, 0) for k, v in metrics.items() if isinstance(v, int | float)]
    client.log_batch(run_id, metrics=series + finals)
    curve = CandidateResult(key=winner["key"], architecture=winner["architecture"], status=COMPLETED, history=history)
    client.log_figure(run_id, learning_curve(curve), "learning_curve.png", save_kwargs=FAST_PNG)
    client.log_dict(run_id, winner, "architecture.json")
    example = raw_example(manifest)  # a few val rows or texts, as the exported model takes them
    if example is None:  # a few val images sign the model; test is read once, to score
        example = load_split(data_dir / "val.npz")[0][:SIGNATURE_IMAGES]
    info = log_signed_model(tracker.uri, run_id, model, example, cfg.retrain.model_name)
    version = str(info.registered_model_version)
    score = Promotion(metrics["promotion_accuracy"], metrics["promotion_loss"])
    rescore = rescore_champion(cfg, tracker, manifest, data_dir, trainer)
    crown = crown_if_better(client, cfg.retrain.model_name, version, score, manifest["content_hash"], rescore)
    client.set_tag(run_id, CHAMPION_TAG, str(crown["champion"]).lower())
    client.set_terminated(run_id, status=RunStatus.to_string(RunStatus.FINISHED))
    return {"mlflow_run_id": run_id, "registered_model": cfg.retrain.model_name, "model_version": version} | crown


def seed_spread(metrics: dict[str, Any]) -> str:
    """What the test accuracy is of, and how the seeds alone scored: " (the mean of 3 seeds' predictions; ...)"."""
    seeds = metrics["retrain_seeds"]
    if seeds == 1:
        return ""
    alone = f"{metrics['test_accuracy_mean']:.4f} ± {metrics['test_accuracy_sd']:.4f}"
    if metrics.get("ensemble_members", 1) > 1:
        return f" (the {seeds} seeds' predictions averaged; each seed alone {alone})"
    return f" (the first of {seeds} seeds; mean {alone})"


def describe_outcome(metrics: dict[str, Any], model_name: str) -> str:
    """The stage's closing line: test accuracy with its seed spread, the gap to search val, the alias."""
    line = f"winner retrained: test accuracy {metrics['test_accuracy']:.4f}{seed_spread(metrics)}"
    if "val_test_gap" in metrics:
        verdict = "beyond" if metrics["gap_beyond_noise"] else "within"
        line += (
            f"; search val {metrics['search_val_accuracy']:.4f}, gap {metrics['val_test_gap']:+.4f}, "
            f"{verdict} the noise (±{metrics['gap_noise']:.4f})"
        )
    folds = len(metrics["promotion_fold_accuracies"])
    line += f"; promotion score {metrics['promotion_accuracy']:.4f} ({folds}-fold CV)"
    line += f"; registered as {model_name} v{metrics['model_version']}, "
    if metrics["champion"]:
        return line + f"alias {CHAMPION} moved to it"
    previous = metrics["previous_champion_promotion_accuracy"]
    kept = metrics["champion_version"]
    return line + f"alias {CHAMPION} stays on v{kept} (promotion score {previous:.4f}, not beaten)"


@flow(name="nas-retrain")
def retrain_flow(
    params_path: str = "params.yaml", data_dir: str = str(PREPARED_DIR), scheduled: bool = False
) -> dict[str, Any]:
    cfg = load_params(params_path)
    retrain_preflight(cfg)
    winner, manifest, data = read_winner(), read_manifest(), Path(data_dir)
    settings = retrain_settings(cfg, winner.get("best_epoch"))
    logger = get_run_logger()
    cv = score_from_search(cfg, winner, settings)
    logger.info(
        "retraining the winner on train+val: %d epochs (%s), %d seeds; its %d-fold cross-validation %s",
        settings.epochs,
        "retrain.epochs" if cfg.retrain.epochs else "the epoch its search training kept",
        cfg.retrain.seeds,
        cfg.retrain.folds,
        "comes from the search's re-evaluation" if cv else "runs first",
    )
    with retrain_trainer(cfg) as trainer:
        trainer.warm_up()
        if cv is None:
            cv = promotion_score(cfg, winner["architecture"], settings, int(manifest["num_classes"]), data, trainer)
        model, history, metrics = retrain_winner(cfg, winner, settings, data, trainer)
        model = with_raw_input(model, manifest)  # a table's or a text's model takes raw rows or strings
        metrics |= cv.to_dict()
        WINNER_MODEL.parent.mkdir(parents=True, exist_ok=True)
        partial_path = WINNER_MODEL.with_name(".winner.partial.keras")  # Keras wants the suffix; a kill leaves this
        model.save(partial_path)
        partial_path.replace(WINNER_MODEL)  # atomic: winner.keras is the old model or the new one, never half of one
        trigger = "scheduled" if scheduled else "manual"
        tracker = MlflowTracker(cfg.tracking.uri, cfg.tracking.experiment)
        metrics |= log_to_mlflow(cfg, tracker, winner, model, history, metrics, manifest, data, trainer, trigger)
    write_json(TEST_METRICS, metrics)
    logger.info("%s", describe_outcome(metrics, cfg.retrain.model_name))
    report_after_retrain(tracker.client, tracker.experiment_id, winner["search_run_id"], manifest, logger)
    return metrics


if __name__ == "__main__":
    sys.exit(run_stage(retrain_flow, __doc__ or "", preflight=retrain_preflight))
