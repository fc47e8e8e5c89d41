"""The search report's charts, as matplotlib `Figure` objects (no pyplot state, so threads are safe)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from nas_core.architecture import describe
from nas_core.objectives import Score, ranked_by
from nas_core.pareto import ParetoPoint
from nas_core.results import CandidateResult

OK_COLOR, FAIL_COLOR, BEST_COLOR, FRONT_COLOR = "#3b6ea8", "#c0392b", "#e67e22", "#27ae60"


@dataclass(frozen=True)
class NightBest:
    """One search of a warm-started series (the same data and space): when it ran, the best it trained."""

    label: str  # its start date and run id
    own_best: float | None  # None: none of its candidates completed


@dataclass(frozen=True)
class SearchCurve:
    """One search of the experiment for the strategy comparison: accuracy by candidate, in order."""

    label: str
    accuracies: list[float | None]  # None: a failed candidate (it still spent budget)


def known(xs: Iterable[float], ys: Sequence[float | None]) -> tuple[list[float], list[float]]:
    """The points whose y is known (a failed candidate has none), as the two lists matplotlib takes."""
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
    return [x for x, _ in pairs], [y for _, y in pairs]


def running_best(values: Sequence[float | None]) -> list[float | None]:
    best: float | None = None
    out: list[float | None] = []
    for value in values:
        if value is not None and (best is None or value > best):
            best = value
        out.append(best)
    return out


def parameter_axis(axes: Axes, sizes: Sequence[int]) -> None:
    """Parameter counts on x: a log scale over a wide range (over a narrow one it only clutters the ticks)."""
    log = bool(sizes) and max(sizes) >= 10 * min(sizes)
    if log:
        axes.set_xscale("log")
        axes.xaxis.set_minor_formatter(NullFormatter())
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
    axes.set_xlabel("parameters (log scale)" if log else "parameters")


def integer_x(axes: Axes) -> None:
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def accuracy_by_candidate(results: Sequence[CandidateResult], winner: CandidateResult | None) -> Figure:
    """Each candidate's val accuracy in the order it was proposed, its 95% interval, and the running best."""
    ordered = sorted(results, key=lambda r: r.index)
    figure = Figure(figsize=(7, 3.6), dpi=110)
    axes = figure.subplots()
    ok = [r for r in ordered if r.score is not None]
    axes.scatter(
        [r.index for r in ok], [r.val_accuracy or 0.0 for r in ok], s=22, color=OK_COLOR, label="candidate", zorder=3
    )
    sized = [(r, interval) for r in ok if (interval := r.val_interval) is not None]
    if sized:  # the 95% interval from the number of val examples: overlapping bars are not told apart
        axes.errorbar(
            [r.index for r, _ in sized],
            [r.val_accuracy or 0.0 for r, _ in sized],
            yerr=[
                [(r.val_accuracy or 0.0) - low for r, (low, _) in sized],
                [high - (r.val_accuracy or 0.0) for r, (_, high) in sized],
            ],
            fmt="none",
            ecolor=OK_COLOR,
            alpha=0.45,
            capsize=2,
            label="95% interval",
            zorder=2,
        )
    failures = [r for r in ordered if r.score is None]
    if failures:
        floor = min((r.val_accuracy or 0.0 for r in ok), default=0.0)
        axes.scatter(
            [r.index for r in failures], [floor] * len(failures), marker="x", color=FAIL_COLOR, label="failed", zorder=3
        )
    best = running_best([r.score for r in ordered])
    xs, ys = known([r.index for r in ordered], best)
    if xs:
        axes.step(xs, ys, where="post", color=BEST_COLOR, label="best so far")
    if winner is not None:
        axes.scatter(
            [winner.index], [winner.val_accuracy or 0.0], marker="*", s=220, color=BEST_COLOR, label="winner", zorder=4
        )
    integer_x(axes)
    axes.set_xlabel("candidate (order proposed)")
    axes.set_ylabel("val accuracy")
    axes.set_title("Accuracy by candidate")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    figure.tight_layout()
    return figure


def accuracy_vs_params(
    results: Sequence[CandidateResult], front: Sequence[ParetoPoint], winner: CandidateResult | None
) -> Figure:
    """Val accuracy against parameter count (log scale), with the Pareto front drawn as a staircase."""
    figure = Figure(figsize=(7, 3.8), dpi=110)
    axes = figure.subplots()
    ok = [r for r in results if r.score is not None and r.params]
    axes.scatter(
        [r.params or 0 for r in ok],
        [r.val_accuracy or 0.0 for r in ok],
        s=22,
        color=OK_COLOR,
        label="candidate",
        zorder=3,
    )
    if front:
        xs = [p.cost for p in front]
        ys = [p.accuracy for p in front]
        axes.step(xs, ys, where="post", color=FRONT_COLOR, linewidth=1.8, label="Pareto front", zorder=2)
        axes.scatter(xs, ys, s=60, facecolors="none", edgecolors=FRONT_COLOR, linewidths=1.5, zorder=4)
        for point in front:
            axes.annotate(
                f"#{point.index}",
                (point.cost, point.accuracy),
                textcoords="offset points",
                xytext=(4, -11),
                fontsize=7,
                color=FRONT_COLOR,
            )
    if winner is not None and winner.params:
        axes.scatter(
            [winner.params], [winner.val_accuracy or 0.0], marker="*", s=220, color=BEST_COLOR, label="winner", zorder=5
        )
    parameter_axis(axes, [r.params or 1 for r in ok])
    axes.set_ylabel("val accuracy")
    axes.set_title("Accuracy against size")
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=8, loc="best")
    figure.tight_layout()
    return figure


def learning_curves(results: Sequence[CandidateResult], score: Score, top: int = 5) -> Figure:
    """Val accuracy (solid) and train accuracy (dotted) per epoch for the best `top` candidates."""
    ranked = ranked_by([r for r in results if r.history], score)  # the winner rule's order
    figure = Figure(figsize=(7, 3.8), dpi=110)
    axes = figure.subplots()
    colors = ["#3b6ea8", "#e67e22", "#27ae60", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d"]
    for rank, result in enumerate(ranked[:top]):
        color = colors[rank % len(colors)]
        val = result.history.get("val_accuracy", [])
        train = result.history.get("accuracy", [])
        label = f"#{result.index} {describe(result.architecture)}"
        axes.plot(range(1, len(val) + 1), val, "-", color=color, label=label[:60])
        if train:
            axes.plot(range(1, len(train) + 1), train, ":", color=color, alpha=0.7)
    if not ranked:
        axes.text(0.5, 0.5, "no learning curves recorded", ha="center", va="center", transform=axes.transAxes)
    integer_x(axes)
    axes.set_xlabel("epoch")
    axes.set_ylabel("accuracy (val solid, train dotted)")
    axes.set_title(f"Learning curves of the top {min(top, len(ranked))} candidates")
    axes.grid(alpha=0.3)
    if ranked:
        axes.legend(fontsize=7, loc="best")
    figure.tight_layout()
    return figure


def strategy_comparison(curves: Sequence[SearchCurve]) -> Figure:
    """Best val accuracy found against candidates spent, one line per search of the experiment."""
    figure = Figure(figsize=(7, 3.8), dpi=110)
    axes = figure.subplots()
    for curve in curves:
        best = running_best(curve.accuracies)
        xs, ys = known(range(1, len(best) + 1), best)
        if xs:
            axes.step(xs, ys, where="post", label=curve.label, linewidth=1.6)
    integer_x(axes)
    axes.set_xlabel("candidates spent")
    axes.set_ylabel("best val accuracy so far")
    axes.set_title("Strategies compared")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="best")
    figure.tight_layout()
    return figure


def best_so_far_by_night(nights: Sequence[NightBest]) -> Figure:
    """Searches on the same data and space in order: each one's own best, and the best of all so far."""
    figure = Figure(figsize=(7, 3.8), dpi=110)
    axes = figure.subplots()
    xs = list(range(1, len(nights) + 1))
    own = [n.own_best for n in nights]
    so_far = running_best(own)
    px, py = known(xs, so_far)
    if px:
        axes.step(px, py, where="post", color=BEST_COLOR, linewidth=2, label="best so far")
    dx, dy = known(xs, own)
    if dx:
        axes.scatter(dx, dy, color=OK_COLOR, s=24, zorder=3, label="that search's own best")
    axes.set_xticks(xs, [n.label for n in nights], rotation=30, ha="right", fontsize=7)
    axes.set_xlabel("search (oldest first)")
    axes.set_ylabel("best val accuracy")
    axes.set_title("Best so far, search by search (warm start)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    return figure
