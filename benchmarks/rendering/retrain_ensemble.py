"""The "retrain ensemble" block of BENCHMARKS.md, from benchmarks/retrain_ensemble.py's results file.

The verdict counts a difference as real only when the Wilcoxon signed-rank test over the paired
candidates gives p < 0.05; the test split's grain (one image) is shown beside it.
"""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.rendering.results import load_result


def _acc(value: float) -> str:
    return f"{value:.4f}"


def _paired(rows: list[dict[str, Any]], pick: str) -> str:
    """Ensemble minus `pick` (the first retrain, or the mean of the retrains) per candidate, and its summary."""
    from scipy.stats import wilcoxon

    first = [r["single"][0] if pick == "first" else statistics.mean(r["single"]) for r in rows]
    differences = [r["ensemble"] - f for r, f in zip(rows, first, strict=True)]
    better = sum(d > 1e-9 for d in differences)
    worse = sum(d < -1e-9 for d in differences)
    nonzero = [d for d in differences if abs(d) > 1e-9]
    p = float(wilcoxon(nonzero).pvalue) if len(nonzero) >= 2 else 1.0
    verdict = "beyond the noise (p < 0.05)" if p < 0.05 else "inside the noise"
    return (
        f"{100 * statistics.mean(differences):+.2f} points on average; higher on {better}, tied on "
        f"{len(rows) - better - worse}, lower on {worse}; Wilcoxon signed-rank p = {p:.3f}, {verdict}"
    )


def retrain_ensemble() -> str:
    data = load_result("retrain_ensemble")
    rows = data["candidates"]
    n_seeds = len(data["retrain_seeds"])
    lines = [
        f"| tuning seed | candidate | winner by the current rule | first retrain | mean of {n_seeds} retrains "
        f"| ensemble of {n_seeds} |",
        "|---:|---:|:---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['seed']} | {r['index']} | {'yes' if r['winner'] else ''} | {_acc(r['single'][0])} "
            f"| {_acc(statistics.mean(r['single']))} | {_acc(r['ensemble'])} |"
        )
    winners = [r for r in rows if r["winner"]]
    test_examples = rows[0]["test_examples"]
    lines += [
        "",
        f"Over all {len(rows)} candidates (test splits of {test_examples} images; one image is "
        f"{100 / test_examples:.2f} points):",
    ]
    for pick, label in (
        ("first", "the first retrain (what the pipeline saved before)"),
        ("mean", "the mean of the retrains"),
    ):
        lines.append(f"- the ensemble against {label}: {_paired(rows, pick)}.")
    if winners:
        first = statistics.median(r["single"][0] for r in winners)
        ensemble = statistics.median(r["ensemble"] for r in winners)
        lines.append(
            f"- the {len(winners)} winners (one per tuning seed): median test accuracy {_acc(first)} for the first "
            f"retrain, {_acc(ensemble)} for the ensemble."
        )
    lines += ["", f"Command: `{data['command']}` (commit {data['commit']}, {data['wall_seconds']:.0f} s)."]
    return "\n".join(lines) + "\n"
