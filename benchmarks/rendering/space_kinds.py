"""The tables and texts blocks of BENCHMARKS.md (issue 24): random against evolution, and the baselines.

Every figure comes from benchmarks/results/space_kinds_<kind>.json (benchmarks/space_kinds.py).
"""

from __future__ import annotations

import statistics

from benchmarks.rendering.results import load_result

BASELINE_NAMES = {
    "logistic_regression": "LogisticRegression",
    "hist_gradient_boosting": "HistGradientBoostingClassifier",
    "tfidf_logistic_regression": "TF-IDF + LogisticRegression",
}


def space_kinds(kind: str) -> str:
    data = load_result(f"space_kinds_{kind}")
    seeds: list[int] = data["seeds"]
    strategies = list(data["median_test_accuracy"])
    lines = [
        "| | " + " | ".join(f"seed {s}" for s in seeds) + " | median |",
        "|---|" + "---:|" * (len(seeds) + 1),
    ]
    for strategy in strategies:
        runs = {r["seed"]: r for r in data["runs"] if r["strategy"] == strategy}
        scores = [runs[s]["test_accuracy"] for s in seeds]
        cells = " | ".join(f"{v:.4f}" for v in scores)
        lines.append(f"| {strategy}: winner's test accuracy | {cells} | **{statistics.median(scores):.4f}** |")
    for name, score in data["baselines"].items():
        blank = " | ".join("" for _ in seeds)
        lines.append(f"| {BASELINE_NAMES.get(name, name)} (same split) | {blank} | **{score:.4f}** |")
    if len(strategies) == 2:
        first, second = (
            {r["seed"]: r["test_accuracy"] for r in data["runs"] if r["strategy"] == s} for s in strategies
        )
        wins = sum(second[s] > first[s] for s in seeds)
        ties = sum(second[s] == first[s] for s in seeds)
        lines += [
            "",
            f"{strategies[1]} against {strategies[0]}, seed by seed: higher on {wins}, tied on {ties},"
            f" lower on {len(seeds) - wins - ties} of {len(seeds)}.",
        ]
    best_nas = max(data["median_test_accuracy"].values())
    best_base_name, best_base = max(data["baselines"].items(), key=lambda item: item[1])
    gap = best_nas - best_base
    verdict = "ahead of" if gap > 0 else "behind"
    lines += [
        "",
        f"{data['candidates']} candidates of {data['epochs']} epochs per search for both strategies (evolution:"
        f" population {data['population']}, sample 3); the best strategy's median is {abs(gap) * 100:.2f} points"
        f" {verdict} the better baseline ({BASELINE_NAMES.get(best_base_name, best_base_name)}).",
        f"Command: `{data['command']}`",
    ]
    if kind == "tabular":
        verdict = "met" if gap >= -0.01 else "missed"
        lines.append(f"**Target** (issue 24: the winner within 1 point of the better baseline): **{verdict}**.")
    return "\n".join(lines) + "\n"
