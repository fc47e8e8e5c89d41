"""Matplotlib figures for MLflow artifacts. Figures are built without pyplot, so threads are safe."""

from __future__ import annotations

from matplotlib.figure import Figure

from nas_core.results import CandidateResult


def learning_curve(result: CandidateResult) -> Figure:
    """Loss and accuracy per epoch, train and validation, side by side."""
    figure = Figure(figsize=(8, 3.2), dpi=100)
    loss_axes, acc_axes = figure.subplots(1, 2)
    for axes, metric in ((loss_axes, "loss"), (acc_axes, "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = result.history.get(prefix + metric, [])
            if values:
                axes.plot(range(1, len(values) + 1), values, style, label=(prefix or "train_") + metric)
        axes.set_xlabel("epoch")
        axes.set_title(metric)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    figure.suptitle(f"candidate {result.index} ({result.key}) {result.status}", fontsize=9)
    figure.tight_layout()
    return figure
