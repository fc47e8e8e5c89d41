"""Stage 4, retrain: train the winner on train+val, score it once on test, save, log and register it.

    python -m flows.retrain [--params params.yaml]

Writes models/winner.keras and metrics/test.json. The MLflow run is a child of the search's
parent run, holds the logged model, and registers it under `retrain.model_name`. The new version
takes the alias `champion` only if its test accuracy beats the current champion's (flows/tracking/champion.py).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from mlflow.entities import Metric, RunStatus
from prefect import flow, get_run_logger, task

from flows.io.artifacts import read_manifest, read_winner, write_json
from flows.io.params import load_params
from flows.io.paths import PREPARED_DIR, TEST_METRICS, WINNER_MODEL
from flows.reports.learning_curve import FAST_PNG, learning_curve
from flows.runtime.entry import run_stage
from flows.tracking.champion import CHAMPION, crown_if_better
from flows.tracking.schema import CANDIDATE_HASH_TAG, CHAMPION_TAG, KIND_TAG, PARENT_TAG, TRIGGER_TAG
from flows.tracking.tracker import MlflowTracker
from nas_core.config import NasConfig
from nas_core.prepared import load_split
from nas_core.results import COMPLETED, CandidateResult
from nas_core.search_loop import candidate_seed
from nas_core.training import TrainSettings, fit_final_model


def retrain_preflight(cfg: NasConfig) -> None:
    read_manifest()
    read_winner()
    MlflowTracker(cfg.tracking.uri, cfg.tracking.experiment)


def use_all_cores() -> None:
    """Retraining is one model, so it may use every core (only possible before TF's first op)."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(os.cpu_count() or 1)
    except RuntimeError:
        pass  # TF already ran an op in this process (e.g. under pytest); its settings stay


@task(name="retrain-winner")
def retrain_winner(cfg: NasConfig, winner: dict[str, Any], data_dir: Path) -> tuple[Any, dict[str, Any]]:
    use_all_cores()
    x_train, y_train = load_split(data_dir / "train.npz")
    x_val, y_val = load_split(data_dir / "val.npz")
    x_test, y_test = load_split(data_dir / "test.npz")
    settings = TrainSettings(
        epochs=cfg.retrain.epochs, batch_size=cfg.train.batch_size, learning_rate=cfg.train.learning_rate
    )
    started = time.perf_counter()
    model, history = fit_final_model(
        winner["architecture"],
        np.concatenate([x_train, x_val]),
        np.concatenate([y_train, y_val]),
        int(winner["num_classes"]),
        settings,
        seed=candidate_seed(cfg.search.seed, winner["key"]),
    )
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    metrics = {
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "params": int(model.count_params()),
        "epochs": settings.epochs,
        "train_seconds": round(time.perf_counter() - started, 2),
        "search_val_accuracy": winner["val_accuracy"],
    }
    return (model, history), metrics


def log_to_mlflow(
    cfg: NasConfig,
    winner: dict[str, Any],
    model: Any,
    history: dict[str, list[float]],
    metrics: dict[str, Any],
    trigger: str = "manual",
) -> dict[str, Any]:
    """A retrain run under the search's parent run, with the model logged and registered; it takes the
    `champion` alias only if its test accuracy beats the current champion's (flows/tracking/champion.py)."""
    tracker = MlflowTracker(cfg.tracking.uri, cfg.tracking.experiment)
    client = tracker.client
    tags = {PARENT_TAG: winner["search_run_id"], KIND_TAG: "retrain", CANDIDATE_HASH_TAG: winner["key"]}
    tags[TRIGGER_TAG] = trigger
    run_id = client.create_run(tracker.experiment_id, tags=tags, run_name="retrain-winner").info.run_id
    tracker.log_params(run_id, winner["architecture"] | {"retrain.epochs": cfg.retrain.epochs})
    stamp = int(time.time() * 1000)
    series = [Metric(k, v, stamp, step) for k, vals in history.items() for step, v in enumerate(vals, start=1)]
    finals = [Metric(k, float(v), stamp, 0) for k, v in metrics.items() if isinstance(v, int | float)]
    client.log_batch(run_id, metrics=series + finals)
    curve = CandidateResult(key=winner["key"], architecture=winner["architecture"], status=COMPLETED, history=history)
    client.log_figure(run_id, learning_curve(curve), "learning_curve.png", save_kwargs=FAST_PNG)
    client.log_dict(run_id, winner, "architecture.json")
    # log_model has no client-level twin; the fluent call is pinned to this run id explicitly.
    mlflow.set_tracking_uri(tracker.uri)
    with mlflow.start_run(run_id=run_id):
        info = mlflow.keras.log_model(
            model,
            name="model",
            registered_model_name=cfg.retrain.model_name,
            pip_requirements=["tensorflow-cpu~=2.21.0", "keras~=3.15"],
        )
    version = str(info.registered_model_version)
    crown = crown_if_better(client, cfg.retrain.model_name, version, metrics["test_accuracy"])
    client.set_tag(run_id, CHAMPION_TAG, str(crown["champion"]).lower())
    client.set_terminated(run_id, status=RunStatus.to_string(RunStatus.FINISHED))
    return {"mlflow_run_id": run_id, "registered_model": cfg.retrain.model_name, "model_version": version} | crown


@flow(name="nas-retrain")
def retrain_flow(
    params_path: str = "params.yaml", data_dir: str = str(PREPARED_DIR), scheduled: bool = False
) -> dict[str, Any]:
    cfg = load_params(params_path)
    retrain_preflight(cfg)
    winner = read_winner()
    (model, history), metrics = retrain_winner(cfg, winner, Path(data_dir))
    WINNER_MODEL.parent.mkdir(parents=True, exist_ok=True)
    model_path = WINNER_MODEL
    partial_path = WINNER_MODEL.with_name(
        ".winner.partial.keras"
    )  # Keras wants the suffix; a kill leaves only this one
    model.save(partial_path)
    partial_path.replace(model_path)  # atomic: winner.keras is the old model or the new one, never half of one
    metrics |= log_to_mlflow(cfg, winner, model, history, metrics, "scheduled" if scheduled else "manual")
    write_json(TEST_METRICS, metrics)
    get_run_logger().info(
        "winner retrained: test accuracy %.4f, saved to %s, registered as %s v%s; %s",
        metrics["test_accuracy"],
        model_path,
        cfg.retrain.model_name,
        metrics["model_version"],
        f"alias {CHAMPION} moved to it"
        if metrics["champion"]
        else f"alias {CHAMPION} stays on v{metrics['champion_version']} "
        f"(test accuracy {metrics['previous_champion_accuracy']:.4f}, not beaten)",
    )
    return metrics


if __name__ == "__main__":
    sys.exit(run_stage(retrain_flow, __doc__ or "", preflight=retrain_preflight))
