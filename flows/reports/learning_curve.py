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
    # Fixed margins: tight_layout() measured every label again, a third of this figure's cost,
    # paid in the flow's process while the next candidate trains.
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.84, wspace=0.22)
    return figure


# PNG compression barely shrinks a line plot; its default level cost a quarter of the saving time.
FAST_PNG = {"pil_kwargs": {"compress_level": 1}}
