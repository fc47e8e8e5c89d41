"""The two charts of `nas compare`: both searches on one plot, A in blue circles, B in orange squares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure

from flows.reports.charts import integer_x, known, parameter_axis, running_best
from flows.reports.page import SearchData
from nas_core.objectives import best_by

COLORS = ("#3b6ea8", "#e67e22")  # A, B: the same in both charts and in the header
MARKERS = ("o", "s")  # so the two searches are told apart without colour too
# A is drawn wide and B narrow on top of it, so two searches that found the same thing both stay visible.
LINE_WIDTHS, DOT_SIZES, STAR_SIZES = (3.4, 1.6), (34, 30), (320, 150)


def best_so_far(searches: Sequence[tuple[str, SearchData]]) -> Figure:
    """Best val accuracy against candidates spent, both searches on one plot, with each winner's 95% interval."""
    figure = Figure(figsize=(7, 3.8), dpi=110)
    axes = figure.subplots()
    for k, (label, data) in enumerate(searches):
        color, ordered = COLORS[k], sorted(data.results, key=lambda r: r.index)
        scores = [r.score for r in ordered]
        spent = range(1, len(scores) + 1)
        xs, ys = known(spent, scores)
        if xs:
            axes.scatter(xs, ys, s=DOT_SIZES[k], marker=MARKERS[k], alpha=0.45, zorder=2, **_filled(k))
        xs, ys = known(spent, running_best(scores))
        if xs:
            axes.step(xs, ys, where="post", color=color, linewidth=LINE_WIDTHS[k], alpha=0.9, label=label, zorder=3)
        winner = best_by(ordered, data.objective)
        if winner is not None and (interval := winner.val_interval) is not None:
            x, y = ordered.index(winner) + 1 + (0.06 if k else -0.06), winner.val_accuracy or 0.0
            axes.errorbar(
                [x], [y], yerr=[[y - interval[0]], [interval[1] - y]], fmt="none", ecolor=color, capsize=4, zorder=4
            )
            axes.scatter([x], [y], marker="*", s=STAR_SIZES[k], color=color, edgecolors="#333", zorder=4)
    integer_x(axes)
    axes.set_xlabel("candidates spent")
    axes.set_ylabel("best val accuracy so far")
    axes.set_title("Best so far (★ each winner, with its 95% interval)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    figure.tight_layout()
    return figure


def accuracy_vs_size(searches: Sequence[tuple[str, SearchData]]) -> Figure:
    """Every completed candidate of both searches: val accuracy against parameter count, winners starred."""
    figure = Figure(figsize=(7, 3.8), dpi=110)
    axes = figure.subplots()
    sizes: list[int] = []
    for k, (label, data) in enumerate(searches):
        ok = [r for r in data.results if r.score is not None and r.params]
        sizes += [r.params or 1 for r in ok]
        xs, ys = [r.params or 0 for r in ok], [r.val_accuracy or 0.0 for r in ok]
        axes.scatter(xs, ys, s=DOT_SIZES[k] + 6, marker=MARKERS[k], alpha=0.8, label=label, zorder=3, **_filled(k))
        winner = best_by(data.results, data.objective)
        if winner is not None and winner.params:
            axes.scatter(
                [winner.params], [winner.val_accuracy or 0.0], marker="*", s=STAR_SIZES[k], color=COLORS[k],
                edgecolors="#333", linewidths=0.8, zorder=4,
            )  # fmt: skip
    parameter_axis(axes, sizes)
    axes.set_ylabel("val accuracy")
    axes.set_title("Accuracy against size (★ the winners)")
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=8, loc="best")
    figure.tight_layout()
    return figure


def _filled(k: int) -> dict[str, Any]:
    """A's points filled, B's hollow: where both searches trained the same architecture, both marks show."""
    if k == 0:
        return {"color": COLORS[0]}
    return {"facecolors": "none", "edgecolors": COLORS[1], "linewidths": 1.4}
