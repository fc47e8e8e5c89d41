"""The search report as one static HTML page that shows the PNGs next to it (no scripts, no network)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from nas_core.architecture import describe
from nas_core.objectives import Objective, ranked_by
from nas_core.pareto import ParetoPoint
from nas_core.results import CandidateResult

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.sub { color: #666; margin-top: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 0.8rem; margin: 1rem 0; }
.card { background: #f4f6f8; border-radius: 8px; padding: 0.6rem 1rem; min-width: 8rem; }
.card b { display: block; font-size: 1.25rem; } .card span { color: #666; font-size: 0.8rem; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.grid img, .wide img { width: 100%; border: 1px solid #ddd; border-radius: 6px; }
.arch { max-width: 560px; }
table { border-collapse: collapse; font-size: 0.85rem; width: 100%; }
th, td { text-align: left; padding: 0.25rem 0.6rem; border-bottom: 1px solid #e5e5e5; }
th { background: #f4f6f8; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.win td { background: #fff4e0; font-weight: 600; } code { font-size: 0.8rem; }
"""


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.{digits}f}"
    return f"{int(value):,}"


def _interval(result: CandidateResult) -> str:
    if result.val_interval is None:
        return "–"
    low, high = result.val_interval
    return f"{low:.3f}–{high:.3f}"


def _card(label: str, value: str) -> str:
    return f'<div class="card"><b>{html.escape(value)}</b><span>{html.escape(label)}</span></div>'


def _figure(files: Mapping[str, str], name: str, alt: str, css: str = "") -> str:
    if name not in files:
        return ""
    return f'<figure class="{css}"><img src="{html.escape(files[name])}" alt="{html.escape(alt)}"></figure>'


def candidate_table(
    results: Sequence[CandidateResult], objective: Objective, winner: CandidateResult | None, limit: int = 10
) -> str:
    ranked = ranked_by(results, objective)
    latency = any(r.latency_ms is not None for r in results)
    rescored = any(r.cv_accuracy is not None for r in results)
    head = "<tr><th>#</th><th>val accuracy</th><th>95% interval</th><th>val loss</th><th>params</th>"
    head += "<th>cross-validated accuracy</th>" if rescored else ""
    head += "<th>latency ms</th>" if latency else ""
    head += "<th>score</th><th>epochs</th><th>train s</th><th>architecture</th></tr>"
    rows = []
    for r in ranked[:limit]:
        css = ' class="win"' if winner is not None and r.index == winner.index else ""
        cells = [
            f"<td>{r.index}</td>",
            f'<td class="num">{_num(r.val_accuracy)}</td>',
            f'<td class="num">{_interval(r)}</td>',
            f'<td class="num">{_num(r.val_loss)}</td>',
            f'<td class="num">{_num(r.params)}</td>',
        ]
        if rescored:
            cells.append(f'<td class="num">{_num(r.cv_accuracy)}</td>')
        if latency:
            cells.append(f'<td class="num">{_num(r.latency_ms, 2)}</td>')
        cells += [
            f'<td class="num">{_num(objective(r))}</td>',
            f'<td class="num">{r.epochs_run}</td>',
            f'<td class="num">{r.train_seconds:.1f}</td>',
            f"<td><code>{html.escape(describe(r.architecture))}</code></td>",
        ]
        rows.append(f"<tr{css}>{''.join(cells)}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def front_table(front: Sequence[ParetoPoint], results: Sequence[CandidateResult]) -> str:
    by_index = {r.index: r for r in results}
    rows = "".join(
        f'<tr><td>{p.index}</td><td class="num">{_num(p.accuracy)}</td><td class="num">{_num(p.cost)}</td>'
        f"<td><code>{html.escape(describe(by_index[p.index].architecture)) if p.index in by_index else ''}</code>"
        "</td></tr>"
        for p in front
    )
    return f"<table><tr><th>#</th><th>val accuracy</th><th>params</th><th>architecture</th></tr>{rows}</table>"


def retrain_section(retrain: Mapping[str, Any] | None) -> str:
    """The winner after its retrain: test with its seed spread, the gap to search val against the noise,
    the promotion score; empty until the retrain stage has run."""
    if not retrain or "test_accuracy" not in retrain:
        return ""
    seeds = int(retrain.get("retrain_seeds", 1))
    test = f"{retrain['test_accuracy']:.4f}"
    if seeds > 1:
        mean, sd = retrain["test_accuracy_mean"], retrain["test_accuracy_sd"]
        if int(retrain.get("ensemble_members", 1)) > 1:
            test += f" (the {seeds} seeds' predictions averaged into one model; each seed alone {mean:.4f} ± {sd:.4f})"
        else:
            test += f" (first of {seeds} seeds; mean {mean:.4f} ± {sd:.4f})"
    rows = [("test accuracy, scored once", test)]
    if "val_test_gap" in retrain:
        verdict = (
            "<b>larger than the noise</b>: the retrained model does not keep what the search measured, "
            "or val flattered the winner"
            if retrain["gap_beyond_noise"]
            else "within the noise"
        )
        rows.append(
            (
                "search val − test",
                f"{retrain['val_test_gap']:+.4f}, {verdict} (±{retrain['gap_noise']:.4f}: 95% of a difference of "
                "two accuracies on their numbers of examples, widened by the seed spread)",
            )
        )
    if "promotion_accuracy" in retrain:
        rows.append(
            (
                "promotion score",
                f"{retrain['promotion_accuracy']:.4f} (cross-validated on train+val; the champion rule compares it, "
                "never test)",
            )
        )
    if "champion" in retrain:
        rows.append(("champion", "took the alias" if retrain["champion"] else "alias stayed on the current champion"))
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<h2>The winner, retrained</h2><p class='sub'>{int(retrain.get('epochs', 0))} epochs on train+val</p>" + (
        f"<table>{cells}</table>"
    )


def winner_rule(summary: Mapping[str, Any], results: Sequence[CandidateResult]) -> str:
    """How the winner was named: by val alone, or by the cross-validation of the top of the val ranking."""
    rescored = sum(r.cv_accuracy is not None for r in results)
    folds = summary.get("reevaluation_folds")
    if summary.get("winner_cv_accuracy") is None or not rescored or folds is None:
        return "highest score among the trained candidates"
    return (
        f"highest score after the top {rescored} by val were re-scored by {int(folds)}-fold cross-validation "
        "on train+val"
    )


def history_note(summary: Mapping[str, Any]) -> str:
    """A warm-started search: what it started from, and whether the winner it named came from history."""
    reused = int(summary.get("reused_candidates") or 0)
    if not reused:
        return ""
    searches = int(summary.get("earlier_searches") or 0)
    note = (
        f"<p><b>Warm start:</b> {reused} architectures trained by {searches} earlier "
        f"search{'es' if searches != 1 else ''} on the same data and space were remembered, not trained again. "
    )
    if summary.get("winner_from_history"):
        best = _num(summary.get("best_val_accuracy"))
        note += f"The winner it named, the best so far (val accuracy {best}), was trained by an earlier search."
    else:
        note += "The winner it named, the best so far, is one of its own candidates."
    return note + "</p>"


def render_report(
    *,
    title: str,
    subtitle: str,
    summary: Mapping[str, Any],
    results: Sequence[CandidateResult],
    objective: Objective,
    winner: CandidateResult | None,
    front: Sequence[ParetoPoint],
    files: Mapping[str, str],
    drawer: str,
    retrain: Mapping[str, Any] | None = None,
) -> str:
    """The page: headline numbers, the charts, the top candidates and the Pareto front."""
    failed = sum(not r.ok for r in results)
    cards = [
        _card("candidates trained", str(len(results))),
        _card("failed", str(failed)),
        _card("skipped (over max_params)", _num(summary.get("skipped_over_max_params", 0))),
        _card("winner's val accuracy", _num(winner.val_accuracy if winner else None)),
        _card("winner's parameters", _num(winner.params if winner else None)),
        _card("wall time", f"{float(summary.get('wall_seconds') or 0):.0f} s"),
    ]
    if winner is not None and winner.cv_accuracy is not None:  # re-scored: what named it, beside val
        cards.insert(4, _card("winner's cross-validated accuracy", _num(winner.cv_accuracy)))
    winner_line = "no candidate completed"
    if winner is not None:
        winner_line = f"candidate #{winner.index}: <code>{html.escape(describe(winner.architecture))}</code>"
    drawn_by = "Graphviz" if drawer == "graphviz" else "matplotlib (Graphviz not installed)"
    sections = [
        f"<h1>{html.escape(title)}</h1><p class='sub'>{html.escape(subtitle)}</p>",
        f"<div class='cards'>{''.join(cards)}</div>",
        f"<p><b>Objective:</b> {html.escape(objective.name)} (score = {html.escape(objective.describe())}). "
        f"<b>Winner</b> ({html.escape(winner_rule(summary, results))}): {winner_line}</p>",
        history_note(summary),
        "<div class='grid'>",
        _figure(files, "accuracy_by_candidate", "accuracy by candidate"),
        _figure(files, "accuracy_vs_params", "accuracy against parameter count"),
        _figure(files, "learning_curves", "learning curves of the top candidates"),
        _figure(files, "strategy_comparison", "strategies compared"),
        _figure(files, "best_so_far_by_night", "best val accuracy so far, search by search"),
        "</div>",
        retrain_section(retrain),
        f"<h2>Best architecture</h2><p class='sub'>drawn with {drawn_by}</p>",
        _figure(files, "best_architecture", "the best architecture", "arch"),
        "<h2>Top candidates</h2>",
        candidate_table(results, objective, winner),
        "<h2>Pareto front: accuracy against parameters</h2>",
        "<p class='sub'>Each is the most accurate candidate of its size or smaller.</p>",
        front_table(front, results),
    ]
    body = "\n".join(s for s in sections if s)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )
