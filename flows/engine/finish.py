"""The end of every search, whatever its estimation method: one winner rule, the same files, the same records.

Full training, median stopping, successive halving, Hyperband, one-shot and DARTS all end here:
the winner is `SearchObjective.winner` (the objective, then val loss, then size) over this
search's candidates and, when it was warm-started, every one earlier searches trained on the same
data and space (the best so far). Full training, median stopping and the multi-fidelity
schedules first re-score the top of that ranking by cross-validation (flows/engine/reevaluate.py).
The stage writes metrics/search.json, metrics/candidates.csv, artifacts/search_results.json and
artifacts/best_architecture.json, closes the parent run and attaches the report.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flows.engine.objective import SearchObjective
from flows.engine.reevaluate import Reevaluation
from flows.engine.warm_start import WarmStart
from flows.io.artifacts import write_json
from flows.io.paths import BEST_ARCHITECTURE, CANDIDATES_CSV, SEARCH_METRICS, SEARCH_RESULTS
from flows.reports.page import SearchData, write_plot_data
from flows.tracking.history import History, Known
from flows.tracking.search_record import report_after_search
from flows.tracking.tracker import MlflowTracker
from nas_core.errors import SearchAborted
from nas_core.results import CandidateResult
from nas_core.search_loop import describe_budget


def summarize(
    results: Sequence[CandidateResult],
    wall_seconds: float,
    space_size: int | None,
    best: CandidateResult | None,
    contenders: Sequence[CandidateResult] | None = None,
) -> dict[str, Any]:
    """This search's counts and time; the winner's figures among `contenders` (default: `results`)."""
    summary: dict[str, Any] = describe_budget(results)
    summary |= {
        "best_val_accuracy": best.val_accuracy if best else None,
        "best_val_accuracy_interval": list(best.val_interval) if best and best.val_interval else None,
        "best_val_loss": best.val_loss if best else None,
        "val_examples": best.val_examples if best else None,
        "candidates_within_noise_of_best": within_noise_of(best, contenders or results) if best else None,
        "best_params": best.params if best else None,
        "best_candidate": best.index if best else None,
        "total_train_seconds": round(sum(r.train_seconds for r in results), 2),
        "wall_seconds": round(wall_seconds, 2),
        "space_size": space_size,
    }
    return summary


def within_noise_of(best: CandidateResult, results: Sequence[CandidateResult]) -> int | None:
    """How many other completed candidates val cannot tell from the winner: their 95% intervals overlap.

    Many means val saturated, and the tie-break (val loss) or chance picked among them.
    """
    if best.val_interval is None:
        return None
    low = best.val_interval[0]
    return sum(
        1
        for r in results
        if r.key != best.key and r.score is not None and (interval := r.val_interval) is not None and interval[1] >= low
    )


def with_cv_scores(results: Sequence[CandidateResult], rescored: Sequence[CandidateResult]) -> list[CandidateResult]:
    """This search's results, the re-scored ones replaced by their copies with a cross-validated score."""
    by_index = {r.index: r for r in rescored if r.cv_accuracy is not None}
    return [by_index[r.index] if r.index in by_index and by_index[r.index].key == r.key else r for r in results]


def winner_record(
    best: CandidateResult, manifest: Mapping[str, Any], parent_id: str, origin: Known | None = None
) -> dict[str, Any]:
    """artifacts/best_architecture.json: what the retrain stage trains, and where it came from.

    A winner from history (`origin`) also names the earlier search and candidate run that trained it.
    """
    return {
        "architecture": best.architecture,
        "key": best.key,
        "candidate_index": best.index,
        "val_accuracy": best.val_accuracy,
        "val_accuracy_interval": list(best.val_interval) if best.val_interval else None,
        "val_examples": best.val_examples,
        "val_loss": best.val_loss,
        "params": best.params,
        "epochs_run": best.epochs_run,
        "best_epoch": best.best_epoch,
        "search_run_id": parent_id,  # the search that named it: the retrain run is its child
        "from_history": origin is not None,
        "trained_by_search_run_id": origin.search_run_id if origin else parent_id,
        "candidate_run_id": origin.run_id if origin else None,
        "input_shape": list(manifest["input_shape"]),
        "num_classes": manifest["num_classes"],
    }


def finish_search(
    tracker: MlflowTracker,
    objective: SearchObjective,
    results: list[CandidateResult],
    *,
    strategy: str,
    manifest: Mapping[str, Any],
    started: float,
    space_size: int | None,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    extra: Mapping[str, Any] | None = None,
    warm: WarmStart | None = None,
    reevaluate: Callable[..., Reevaluation | None] | None = None,
) -> dict[str, Any]:
    """Name the winner, write the stage's outputs and close the parent run; `SearchAborted` if all failed.

    `reevaluate(contenders, num_classes=, logger=)` (flows/engine/reevaluate.py) re-scores the top
    candidates by cross-validation and names the winner among them; without it, val alone does.
    """
    parent_id = tracker.parent_run_id or ""
    history = warm.history if warm else History()
    contenders = results + history.results  # a warm start's winner is the best so far on this data and space
    rescored = None
    if reevaluate is not None and any(r.ok for r in results):
        rescored = reevaluate(contenders, num_classes=int(manifest["num_classes"]), logger=logger)
    if rescored is not None:
        results = with_cv_scores(results, rescored.rescored)
        tracker.log_cv_scores([r for r in rescored.rescored if history.origin(r) is None])
    best = rescored.winner if rescored is not None else objective.winner(contenders)
    summary = summarize(results, time.perf_counter() - started, space_size, best, contenders)
    summary |= objective.summary(contenders, best) | (warm.summary() if warm else {})
    summary |= rescored.summary() if rescored is not None else {}
    if history.known:
        own_best = objective.winner(results)
        summary["this_search_best_val_accuracy"] = own_best.val_accuracy if own_best else None
        summary["winner_from_history"] = best is not None and history.origin(best) is not None
    summary |= dict(extra or {})
    write_json(SEARCH_METRICS, summary)
    write_plot_data(results, objective.objective, CANDIDATES_CSV)
    write_json(SEARCH_RESULTS, [r.to_dict() | {"summary": None} for r in results])
    if best is None or (results and not any(r.ok for r in results)):  # history alone does not make a night
        BEST_ARCHITECTURE.unlink(missing_ok=True)
        tracker.finish_search(summary, failed=True)
        reasons = sorted({r.error or "unknown" for r in results})
        raise SearchAborted(
            f"all {len(results)} candidates failed, so there is no winner; reasons: {'; '.join(reasons[:3])}"
        )
    record = winner_record(best, manifest, parent_id, history.origin(best))
    if rescored is not None:  # the retrain reuses it as the promotion score
        record["promotion"] = rescored.promotion_record()
    write_json(BEST_ARCHITECTURE, record)
    tracker.finish_search(summary)
    logger.info(
        "best%s: candidate %d, val accuracy %.4f, %s params (%d of %d candidates failed)",
        " so far (trained by an earlier search)" if history.origin(best) else "",
        best.index,
        best.val_accuracy or 0.0,
        f"{best.params:,}",
        summary["failed"],
        summary["candidates"],
    )
    data = SearchData(parent_id, strategy, results, objective.objective, summary)
    data.input_shape, data.num_classes = tuple(manifest["input_shape"]), manifest["num_classes"]
    report_after_search(tracker.client, tracker.experiment_id, data, logger)  # never fails the search
    return summary
