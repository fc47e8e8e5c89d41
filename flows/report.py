"""The report of one search: PNG charts plus an HTML page in reports/<run id>/, also logged to the parent run.

The search flow writes it at its end (a failure there only logs a warning); `nas report
[--search RUN_ID]` rebuilds it from MLflow at any time. Charts: accuracy by candidate with the
running best, accuracy against parameters with the Pareto front, the top candidates' learning
curves, the best architecture drawn, and, when the experiment holds several searches, the
strategies compared (best accuracy against candidates spent).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from mlflow import MlflowClient

from flows.report_arch import draw_architecture
from flows.report_html import render_report
from flows.report_plots import (
    SearchCurve,
    accuracy_by_candidate,
    accuracy_vs_params,
    learning_curves,
    strategy_comparison,
)
from nas_core.errors import NasError
from nas_core.objectives import Objective, best_by
from nas_core.pareto import front_of
from nas_core.results import COMPLETED, FAILED, CandidateResult

REPORTS_DIR = Path("reports")
MAX_COMPARED = 8  # the latest searches drawn in the comparison; older ones would only clutter it


@dataclass
class SearchData:
    """Everything a report shows about one search."""

    run_id: str
    strategy: str
    results: list[CandidateResult]
    objective: Objective = field(default_factory=Objective)
    summary: dict[str, Any] = field(default_factory=dict)
    started: str = ""
    input_shape: tuple[int, ...] | None = None
    num_classes: int | None = None


def save(figure: Figure, path: Path) -> None:
    figure.savefig(path)


def write_report(data: SearchData, out_dir: Path, comparison: Sequence[SearchCurve] = ()) -> Path:
    """Write the PNGs, pareto_front.json and index.html into `out_dir`; returns the page's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    winner = best_by(data.results, data.objective)
    front = front_of(data.results)
    files = {
        "accuracy_by_candidate": "accuracy_by_candidate.png",
        "accuracy_vs_params": "accuracy_vs_params.png",
        "learning_curves": "learning_curves.png",
    }
    save(accuracy_by_candidate(data.results, winner), out_dir / files["accuracy_by_candidate"])
    save(accuracy_vs_params(data.results, front, winner), out_dir / files["accuracy_vs_params"])
    save(learning_curves(data.results, data.objective), out_dir / files["learning_curves"])
    if len(comparison) > 1:
        files["strategy_comparison"] = "strategy_comparison.png"
        save(strategy_comparison(comparison), out_dir / files["strategy_comparison"])
    drawer = ""
    if winner is not None:
        files["best_architecture"] = "best_architecture.png"
        drawer = draw_architecture(
            winner.architecture,
            out_dir / files["best_architecture"],
            data.input_shape,
            data.num_classes,
            title=f"candidate #{winner.index}: val accuracy {winner.val_accuracy or 0.0:.4f}, "
            f"{winner.params or 0:,} params",
        )
    (out_dir / "pareto_front.json").write_text(json.dumps([vars(p) for p in front], indent=2) + "\n")
    page = render_report(
        title=f"NAS search {data.run_id[:8]} · {data.strategy}",
        subtitle=f"MLflow run {data.run_id}" + (f" · started {data.started}" if data.started else ""),
        summary=data.summary,
        results=data.results,
        objective=data.objective,
        winner=winner,
        front=front,
        files=files,
        drawer=drawer,
    )
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def write_plot_data(results: Sequence[CandidateResult], objective: Objective, path: Path) -> None:
    """metrics/candidates.csv for `dvc plots show`: one row per completed candidate, in order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    front = {point.index for point in front_of(results)}
    lines = ["index,val_accuracy,best_so_far,params,objective_score,latency_ms,on_pareto_front"]
    best = None
    for r in sorted(results, key=lambda r: r.index):
        if r.score is None:
            continue
        best = r.score if best is None else max(best, r.score)
        latency = "" if r.latency_ms is None else f"{r.latency_ms:.4f}"
        lines.append(
            f"{r.index},{r.score:.6f},{best:.6f},{r.params or 0},{objective(r) or 0.0:.6f},{latency},"
            f"{int(r.index in front)}"
        )
    path.write_text("\n".join(lines) + "\n")


def publish_report(client: MlflowClient, run_id: str, out_dir: Path) -> None:
    """Attach the report to the search's parent run, under `report/`."""
    client.log_artifacts(run_id, str(out_dir), artifact_path="report")


# --- reading searches back from MLflow -------------------------------------------------------------


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
    query = f"tags.`mlflow.parentRunId` = '{parent_id}' and tags.`nas.kind` = 'candidate'"
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
    status = tags.get("nas.status", FAILED)
    error = tags.get("nas.error")
    if status not in (COMPLETED, FAILED):
        status, error = FAILED, "did not finish (the search was interrupted)"
    return CandidateResult(
        key=tags.get("nas.candidate_hash", ""),
        architecture={k: parse_param(v) for k, v in run.data.params.items()},
        status=status,
        val_accuracy=final[-1] if final else None,
        val_loss=metrics.get("val_loss"),
        params=int(metrics["params"]) if "params" in metrics else None,
        train_seconds=float(metrics.get("train_seconds", 0.0)),
        epochs_run=int(metrics.get("epochs_run", 0)),
        history=history,
        error=error,
        index=int(tags.get("nas.candidate_index", -1)),
        latency_ms=metrics.get("latency_ms"),
    )


def search_runs(client: MlflowClient, experiment_id: str) -> list[Any]:
    """Every search's parent run in the experiment, newest first."""
    query = "tags.`nas.kind` = 'search'"
    return list(client.search_runs([experiment_id], filter_string=query, order_by=["start_time DESC"]))


def load_search(client: MlflowClient, run_id: str, manifest: dict[str, Any] | None = None) -> SearchData:
    """One search as its report needs it, from its parent run and candidate runs."""
    try:
        parent = client.get_run(run_id)
    except Exception as error:
        raise NasError(f"--search: no MLflow run {run_id!r} in the tracking store ({type(error).__name__})") from None
    if parent.data.tags.get("nas.kind") != "search":
        raise NasError(f"--search: run {run_id} is not a search's parent run (tag nas.kind is not 'search')")
    params = parent.data.params
    objective = Objective(
        params.get("search.objective", "accuracy"),
        float(params.get("search.objective_weight", 0.07)),
        parse_param(params.get("search.objective_target", "None")),
    )
    runs = _candidate_runs(client, parent.info.experiment_id, run_id)
    results = [_result_of(client, run) for run in runs]
    top = {r.index for r in sorted(results, key=lambda r: -(objective(r) or -1.0))[:5]}
    results = [_result_of(client, run, True) if r.index in top else r for run, r in zip(runs, results, strict=True)]
    same_data = manifest is not None and manifest.get("content_hash") == params.get("dataset_hash")
    return SearchData(
        run_id=run_id,
        strategy=parent.data.tags.get("nas.strategy", "?"),
        results=sorted(results, key=lambda r: r.index),
        objective=objective,
        summary=dict(parent.data.metrics),
        started=started_at(parent.info.start_time),
        input_shape=tuple(manifest["input_shape"]) if manifest and same_data else None,
        num_classes=int(manifest["num_classes"]) if manifest and same_data else None,
    )


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
    index = write_report(data, out_dir, experiment_curves(client, experiment_id))
    publish_report(client, run_id, out_dir)
    return index


def report_after_search(
    client: MlflowClient,
    experiment_id: str,
    data: SearchData,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    out_root: Path = REPORTS_DIR,
) -> Path | None:
    """The search flow's last step. The search is done whatever happens here: a failure only warns."""
    try:
        if not data.started:
            data.started = started_at(client.get_run(data.run_id).info.start_time)
        out_dir = out_root / data.run_id
        index = write_report(data, out_dir, experiment_curves(client, experiment_id))
        publish_report(client, data.run_id, out_dir)
        logger.info("search report: %s", index)
        return index
    except Exception as error:
        logger.warning(
            "could not write the search report (the search itself is fine): %s: %s", type(error).__name__, error
        )
        return None
