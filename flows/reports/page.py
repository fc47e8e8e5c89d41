"""The report of one search: PNG charts plus an HTML page in reports/<run id>/ (tracking/search_record.py logs it).

The search flow writes it at its end (a failure there only logs a warning); `nas report
[--search RUN_ID]` rebuilds it from MLflow at any time. Charts: accuracy by candidate with the
running best, accuracy against parameters with the Pareto front, the top candidates' learning
curves, the best architecture drawn, and, when the experiment holds several searches, the
strategies compared (best accuracy against candidates spent) and, for searches that warm-start
each other, the best so far search by search.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from flows.reports.architecture import draw_architecture
from flows.reports.charts import (
    NightBest,
    SearchCurve,
    accuracy_by_candidate,
    accuracy_vs_params,
    best_so_far_by_night,
    learning_curves,
    strategy_comparison,
)
from flows.reports.html import render_report
from nas_core.objectives import Objective, best_by
from nas_core.pareto import front_of
from nas_core.results import CandidateResult


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
    retrain: dict[str, Any] | None = None  # the latest retrain of the winner (metrics/test.json's numbers)


def named_winner(data: SearchData) -> CandidateResult | None:
    """The candidate the search named (`best_candidate`: re-scoring may have put another first than val
    did), or the winner rule's when the record does not say or the winner came from an earlier search."""
    index = data.summary.get("best_candidate")
    if index is not None and not data.summary.get("winner_from_history"):
        named = next((r for r in data.results if r.index == int(index) and r.ok), None)
        if named is not None:
            return named
    return best_by(data.results, data.objective)


def save(figure: Figure, path: Path) -> None:
    figure.savefig(path)


def write_report(
    data: SearchData, out_dir: Path, comparison: Sequence[SearchCurve] = (), nights: Sequence[NightBest] = ()
) -> Path:
    """Write the PNGs, pareto_front.json and index.html into `out_dir`; returns the page's path.

    `nights`: the searches on the same data and space up to this one, oldest first (warm start).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    winner = named_winner(data)
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
    if len(nights) > 1:
        files["best_so_far_by_night"] = "best_so_far_by_night.png"
        save(best_so_far_by_night(nights), out_dir / files["best_so_far_by_night"])
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
        retrain=data.retrain,
    )
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def write_plot_data(results: Sequence[CandidateResult], objective: Objective, path: Path) -> None:
    """metrics/candidates.csv for `dvc plots show`: one row per completed candidate, in order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    front = {point.index for point in front_of(results)}
    lines = [
        "index,val_accuracy,val_accuracy_low,val_accuracy_high,val_loss,best_so_far,params,objective_score,"
        "latency_ms,on_pareto_front"
    ]
    best = None
    for r in sorted(results, key=lambda r: r.index):
        if r.score is None:
            continue
        best = r.score if best is None else max(best, r.score)
        latency = "" if r.latency_ms is None else f"{r.latency_ms:.4f}"
        low, high = (f"{bound:.6f}" for bound in r.val_interval) if r.val_interval else ("", "")
        loss = "" if r.val_loss is None else f"{r.val_loss:.6f}"
        lines.append(
            f"{r.index},{r.score:.6f},{low},{high},{loss},{best:.6f},{r.params or 0},{objective(r) or 0.0:.6f},"
            f"{latency},{int(r.index in front)}"
        )
    path.write_text("\n".join(lines) + "\n")
