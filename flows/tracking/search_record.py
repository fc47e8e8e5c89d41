"""A search read back from MLflow, and its report written and attached to the search's parent run.

`nas report [--search RUN_ID]` rebuilds a report from here at any time; the search flow calls
`report_after_search` as its last step.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from flows.io.paths import REPORTS_DIR, project_root
from flows.reports.charts import NightBest, SearchCurve
from flows.reports.page import SearchData, write_report
from flows.tracking.schema import (
    CANDIDATE_HASH_TAG,
    CANDIDATE_INDEX_TAG,
    CHAMPION_TAG,
    ERROR_TAG,
    HISTORY_TAG,
    KIND_CANDIDATE,
    KIND_RETRAIN,
    KIND_SEARCH,
    KIND_TAG,
    PARENT_TAG,
    STATUS_TAG,
    STRATEGY_TAG,
)
from nas_core.errors import NasError
from nas_core.objectives import Objective, ranked_by
from nas_core.results import COMPLETED, FAILED, CandidateResult

MAX_COMPARED = 8  # the latest searches drawn in the comparison; older ones would only clutter it


def publish_report(client: MlflowClient, run_id: str, out_dir: Path) -> None:
    """Attach the report to the search's parent run, under `report/`."""
    client.log_artifacts(run_id, str(out_dir), artifact_path="report")


def parse_param(text: str) -> Any:
    """MLflow stores params as strings; the architecture needs its ints, floats and bools back."""
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def started_at(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _candidate_runs(client: MlflowClient, experiment_id: str, parent_id: str) -> list[Any]:
    query = f"tags.`{PARENT_TAG}` = '{parent_id}' and tags.`{KIND_TAG}` = '{KIND_CANDIDATE}'"
    return list(client.search_runs([experiment_id], filter_string=query, max_results=10_000))


def _result_of(client: MlflowClient, run: Any, with_train_curve: bool = False) -> CandidateResult:
    """A candidate's record rebuilt from its MLflow run (the final val accuracy is the step-0 value)."""
    tags, metrics = run.data.tags, run.data.metrics
    val = client.get_metric_history(run.info.run_id, "val_accuracy")
    final = [m.value for m in val if m.step == 0]
    history = {"val_accuracy": [m.value for m in sorted(val, key=lambda m: m.step) if m.step >= 1]}
    if with_train_curve:
        train = client.get_metric_history(run.info.run_id, "accuracy")
        history["accuracy"] = [m.value for m in sorted(train, key=lambda m: m.step) if m.step >= 1]
    status = tags.get(STATUS_TAG, FAILED)
    error = tags.get(ERROR_TAG)
    if status not in (COMPLETED, FAILED):
        status, error = FAILED, "did not finish (the search was interrupted)"
    return CandidateResult(
        key=tags.get(CANDIDATE_HASH_TAG, ""),
        architecture={k: parse_param(v) for k, v in run.data.params.items()},
        status=status,
        val_accuracy=final[-1] if final else None,
        val_loss=metrics.get("val_loss"),
        params=int(metrics["params"]) if "params" in metrics else None,
        train_seconds=float(metrics.get("train_seconds", 0.0)),
        epochs_run=int(metrics.get("epochs_run", 0)),
        history=history,
        error=error,
        index=int(tags.get(CANDIDATE_INDEX_TAG, -1)),
        latency_ms=metrics.get("latency_ms"),
        val_examples=int(metrics["val_examples"]) if "val_examples" in metrics else None,
        cv_accuracy=metrics.get("cv_accuracy"),
        cv_loss=metrics.get("cv_loss"),
    )


def search_runs(client: MlflowClient, experiment_id: str) -> list[Any]:
    """Every search's parent run in the experiment, newest first."""
    query = f"tags.`{KIND_TAG}` = '{KIND_SEARCH}'"
    return list(client.search_runs([experiment_id], filter_string=query, order_by=["start_time DESC"]))


def latest_retrain(client: MlflowClient, experiment_id: str, parent_id: str) -> dict[str, Any] | None:
    """The numbers of the newest finished retrain of this search's winner, or None before any."""
    query = f"tags.`{PARENT_TAG}` = '{parent_id}' and tags.`{KIND_TAG}` = '{KIND_RETRAIN}'"
    runs = client.search_runs([experiment_id], filter_string=query, order_by=["start_time DESC"], max_results=5)
    for run in runs:
        if run.info.status == "FINISHED":
            numbers: dict[str, Any] = dict(run.data.metrics)
            if CHAMPION_TAG in run.data.tags:
                numbers["champion"] = run.data.tags[CHAMPION_TAG] == "true"
            return numbers
    return None


def load_search(client: MlflowClient, run_id: str, manifest: dict[str, Any] | None = None) -> SearchData:
    """One search as its report needs it, from its parent run and candidate runs."""
    try:
        parent = client.get_run(run_id)
    except Exception as error:
        raise NasError(f"--search: no MLflow run {run_id!r} in the tracking store ({type(error).__name__})") from None
    if parent.data.tags.get(KIND_TAG) != KIND_SEARCH:
        raise NasError(f"--search: run {run_id} is not a search's parent run (tag nas.kind is not 'search')")
    params = parent.data.params
    objective = Objective(
        params.get("search.objective", "accuracy"),
        float(params.get("search.objective_weight", 0.07)),
        parse_param(params.get("search.objective_target", "None")),
    )
    runs = _candidate_runs(client, parent.info.experiment_id, run_id)
    results = [_result_of(client, run) for run in runs]
    top = {r.index for r in ranked_by(results, objective)[:5]}  # the curves the report draws
    results = [_result_of(client, run, True) if r.index in top else r for run, r in zip(runs, results, strict=True)]
    same_data = manifest is not None and manifest.get("content_hash") == params.get("dataset_hash")
    return SearchData(
        run_id=run_id,
        strategy=parent.data.tags.get(STRATEGY_TAG, "?"),
        results=sorted(results, key=lambda r: r.index),
        objective=objective,
        summary=dict(parent.data.metrics),
        started=started_at(parent.info.start_time),
        input_shape=tuple(manifest["input_shape"]) if manifest and same_data else None,
        num_classes=int(manifest["num_classes"]) if manifest and same_data else None,
        retrain=latest_retrain(client, parent.info.experiment_id, run_id),
    )


def history_nights(client: MlflowClient, run_id: str) -> list[NightBest]:
    """The searches that share this one's history key (the same data and space), up to it, oldest first."""
    parent = client.get_run(run_id)
    key = parent.data.tags.get(HISTORY_TAG)
    if key is None:
        return []
    query = f"tags.`{HISTORY_TAG}` = '{key}' and tags.`{KIND_TAG}` = '{KIND_SEARCH}'"
    runs = client.search_runs([parent.info.experiment_id], filter_string=query, order_by=["start_time ASC"])
    nights = []
    for run in runs:
        if run.info.start_time > parent.info.start_time or run.info.status not in ("FINISHED", "RUNNING"):
            continue
        metrics = run.data.metrics
        own = metrics.get("this_search_best_val_accuracy", metrics.get("best_val_accuracy"))
        nights.append(NightBest(f"{started_at(run.info.start_time)} {run.info.run_id[:6]}", own))
    return nights


def experiment_curves(client: MlflowClient, experiment_id: str, limit: int = MAX_COMPARED) -> list[SearchCurve]:
    """Accuracy by candidate for the latest `limit` searches, for the strategy comparison."""
    curves = []
    for parent in search_runs(client, experiment_id)[:limit]:
        results = sorted(
            (_result_of(client, run) for run in _candidate_runs(client, experiment_id, parent.info.run_id)),
            key=lambda r: r.index,
        )
        if results:
            label = f"{parent.data.tags.get('nas.strategy', '?')} ({parent.info.run_id[:6]})"
            curves.append(SearchCurve(label, [r.score for r in results]))
    return curves


def report_search(
    client: MlflowClient,
    experiment_id: str,
    run_id: str | None = None,
    out_root: Path = REPORTS_DIR,
    manifest: dict[str, Any] | None = None,
) -> Path:
    """`nas report`: rebuild one search's report (default: the latest) from MLflow and attach it to its run."""
    if run_id is None:
        parents = search_runs(client, experiment_id)
        if not parents:
            raise NasError("tracking.experiment: no search recorded yet; run `nas search` first")
        run_id = str(parents[0].info.run_id)
    data = load_search(client, run_id, manifest)
    out_dir = out_root / run_id
    index = write_report(data, out_dir, experiment_curves(client, experiment_id), history_nights(client, run_id))
    publish_report(client, run_id, out_dir)
    return index


def report_after_search(
    client: MlflowClient,
    experiment_id: str,
    data: SearchData,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    out_root: Path | None = None,
) -> Path | None:
    """The search flow's last step. The search is done whatever happens here: a failure only warns.

    The page goes to `reports/` in the project (`project_root`), even from a DVC experiment's temporary copy.
    """
    out_root = project_root() / REPORTS_DIR if out_root is None else out_root
    try:
        if not data.started:
            data.started = started_at(client.get_run(data.run_id).info.start_time)
        out_dir = out_root / data.run_id
        curves, nights = experiment_curves(client, experiment_id), history_nights(client, data.run_id)
        index = write_report(data, out_dir, curves, nights)
        publish_report(client, data.run_id, out_dir)
        logger.info("search report: %s", index)
        return index
    except Exception as error:
        logger.warning(
            "could not write the search report (the search itself is fine): %s: %s", type(error).__name__, error
        )
        return None


def report_after_retrain(
    client: MlflowClient,
    experiment_id: str,
    run_id: str,
    manifest: dict[str, Any],
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> Path | None:
    """The retrain stage's last step: the search's report again, now with the retrained winner's section.

    The model is saved and registered whatever happens here: a failure only warns.
    """
    try:
        index = report_search(client, experiment_id, run_id, project_root() / REPORTS_DIR, manifest)
        logger.info("search report, with the retrained winner: %s", index)
        return index
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        logger.warning("could not update the search report (the retrain itself is fine): %s", reason)
        return None
