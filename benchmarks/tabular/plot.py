"""The regret-against-queries plot of the strategy benchmark (benchmarks/results/regret_vs_queries.png).

An image cannot live in a rendered block, so benchmarks/tabular/run_strategies.py draws it when it
writes the results; the numbers in BENCHMARKS.md come from `python -m benchmarks.render`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from benchmarks.tabular.run_strategies import Table


def plot(table: Table, curves: dict[str, np.ndarray], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    queries = np.arange(1, next(iter(curves.values())).shape[1] + 1)
    for name, curve in sorted(curves.items()):
        regret = table.best_test - curve
        mean, sem = regret.mean(axis=0), regret.std(axis=0, ddof=1) / np.sqrt(len(regret))
        ax.plot(queries, mean, label=name, lw=2 if name == "random" else 1.5, ls="--" if name == "random" else "-")
        ax.fill_between(queries, mean - sem, mean + sem, alpha=0.2)
    floor = table.best_test - table.test_of_best_val
    ax.axhline(floor, color="grey", lw=0.8, ls=":", label="floor: best-by-val of the whole table")
    ax.set(xlabel="queries", ylabel="test regret (best test acc. − test acc. of pick)", yscale="log")
    ax.set_title(f"Digits table ({len(table.rows)} architectures), mean ± s.e.m. over {len(curve)} seeds")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
