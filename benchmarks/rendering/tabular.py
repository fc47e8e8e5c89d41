"""The "Strategies on a tabular benchmark" block of BENCHMARKS.md: the table, every strategy against random.

Computed from benchmarks/results/tabular_digits.json (the table, benchmarks/tabular/make_table.py)
and benchmarks/results/strategies_tabular.json (the runs, benchmarks/tabular/run_strategies.py).
The seed-by-seed comparison with evolution is its own block, `strategies_vs_evolution`.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from benchmarks.rendering.results import load_result

BASELINE = "random"
INTERACTION = ("activation", "dense_units")  # the pair whose interaction misled progressive's plain-mean ranking


def strategies_tabular() -> str:
    return tabular_text(load_result("tabular_digits"), load_result("strategies_tabular"))


def tabular_text(table: dict[str, Any], runs: dict[str, Any]) -> str:
    """The markdown inside `<!-- render: strategies_tabular -->`, from the table and the strategies' results."""
    parts = [
        table_text(table, runs["metadata"]),
        method_text(runs["metadata"]),
        results_table(runs["summary"], runs["metadata"]),
        reproduce_text(runs["metadata"]),
        "\n".join(findings(table, runs)),
        interaction_table(table),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def table_text(table: dict[str, Any], meta: dict[str, Any]) -> str:
    """What the table is, how it was made, and the floor a search on validation cannot go below."""
    info, rows = table["metadata"], table["rows"]
    training, split = info["training"], info["split"]
    tests = [r["test_accuracy"] for r in rows]
    best_test, of_best_val = meta["best_test_accuracy"], meta["test_accuracy_of_best_val"]
    kind = "stratified " if split.get("stratified") else ""
    return (
        f"Table: every one of the {len(rows)} architectures of a small CNN/MLP space, trained on scikit-learn's "
        f"digits ({training['epochs']} epochs, seeds {training['seeds']}, mean accuracy over seeds; fixed {kind}split "
        f"of {split['train']} / {split['val']} / {split['test']} examples for train / val / test), made by "
        f"`{info['command'].strip()}` in {info['wall_seconds'] / 60:.0f} min on {info['date'][:10]} "
        f"(`benchmarks/results/tabular_digits.json`). Test accuracy ranges from {min(tests):.3f} to "
        f"{max(tests):.3f} (median {statistics.median(tests):.3f}); the best-by-validation architecture scores "
        f"{of_best_val:.4f} on test, so a perfect search on validation still has a regret of "
        f"{best_test - of_best_val:.4f}."
    )


def method_text(meta: dict[str, Any]) -> str:
    return (
        f"Each strategy searches on validation accuracy with {meta['seeds']} seeds; we report the test accuracy of "
        "its best-by-validation pick and the regret (best test accuracy in the table minus that). Δ is the "
        f"difference in mean test accuracy from {BASELINE} search, with a bootstrap 95% CI and a Welch t-test p-value."
    )


def results_table(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        f"| strategy | queries | test acc. (mean ± std) | regret (mean ± std) | Δ vs {BASELINE} [95% CI] | p (Welch) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in sorted(summary, key=lambda n: (n != BASELINE, n)):
        for budget in meta["budgets"]:
            e = summary[name][str(budget)]
            delta, p = "—", "—"
            if "diff_vs_random" in e:
                lo, hi = e["diff_ci95"]
                delta = f"{e['diff_vs_random']:+.4f} [{lo:+.4f}, {hi:+.4f}]"
                p = f"{e['welch_p']:.2g}"
            lines.append(
                f"| {name} | {budget} | {e['test_accuracy_mean']:.4f} ± {e['test_accuracy_std']:.4f} | "
                f"{e['regret_mean']:.4f} ± {e['regret_std']:.4f} | {delta} | {p} |"
            )
    for name, why in meta["skipped"].items():
        lines.append(f"| {name} | — | not run: {why} | | | |")
    return "\n".join(lines)


def reproduce_text(meta: dict[str, Any]) -> str:
    options = "" if not meta["options"] else " except " + json.dumps(meta["options"])
    return (
        f"Options: defaults{options}. Reproduce with `{meta['command']}` "
        "(results: `benchmarks/results/strategies_tabular.json`)."
    )


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def against_baseline(entries: dict[str, Any], budgets: list[int]) -> str:
    """Where a strategy's 95% CI of Δ lies, budget by budget: above 0, below 0, or across it."""
    groups: dict[str, list[str]] = {"higher": [], "lower": [], "no clear difference": []}
    for budget in budgets:
        lo, hi = entries[str(budget)]["diff_ci95"]
        side = "higher" if lo > 0 else "lower" if hi < 0 else "no clear difference"
        groups[side].append(str(budget))
    return "; ".join(f"{side} at {_join(group)} queries" for side, group in groups.items() if group)


def findings(table: dict[str, Any], runs: dict[str, Any]) -> list[str]:
    """Bullets the prose below the block relies on: each strategy against random, the scale of the gains, time."""
    meta, summary = runs["metadata"], runs["summary"]
    budgets, top = meta["budgets"], str(max(meta["budgets"]))
    floor = meta["best_test_accuracy"] - meta["test_accuracy_of_best_val"]
    lines = [
        f"- **{name}** against {BASELINE}, by the 95% CI of Δ: {against_baseline(summary[name], budgets)}. Mean "
        f"regret at {top} queries: {summary[name][top]['regret_mean']:.4f} (floor {floor:.4f})."
        for name in sorted(summary)
        if name != BASELINE
    ]
    gains = [100 * e[top]["diff_vs_random"] for n, e in summary.items() if n != BASELINE and e[top]["diff_ci95"][0] > 0]
    share = int(top) / len(table["rows"])
    if gains:
        lines.append(
            f"- At {top} queries a strategy has seen {share:.0%} of the {len(table['rows'])} architectures; the "
            f"gains over {BASELINE} whose CI excludes 0 there range from {min(gains):+.2f} to {max(gains):+.2f} "
            "accuracy points."
        )
    seconds = meta.get("strategy_seconds", {})
    if seconds:
        per_seed = ", ".join(f"{n} {s / meta['seeds']:.2g} s" for n, s in sorted(seconds.items(), key=lambda i: i[1]))
        lines.append(
            f"- Time per {top}-query seed (each strategy's seconds summed over its worker processes, over "
            f"{meta['seeds']} seeds): {per_seed}."
        )
    return lines


def interaction_table(table: dict[str, Any]) -> str:
    """Mean val accuracy by activation and dense width: a marginal mean hides that they interact."""
    first, second = INTERACTION
    rows = [r for r in table["rows"] if first in r["arch"] and second in r["arch"]]
    if not rows:
        return ""
    firsts = sorted({r["arch"][first] for r in rows})
    seconds = sorted({r["arch"][second] for r in rows})

    def mean(keep: Any) -> str:
        values = [r["val_accuracy"] for r in rows if keep(r["arch"])]
        return f"{statistics.mean(values):.3f}" if values else "–"

    lines = [
        f"Mean val accuracy over the table's architectures, by `{first}` and `{second}`:",
        "",
        f"| {first} | " + " | ".join(f"{second} {v}" for v in seconds) + " |",
        "| --- |" + " ---: |" * len(seconds),
    ]
    for a in firsts:
        cells = [mean(lambda arch, a=a, b=b: arch[first] == a and arch[second] == b) for b in seconds]
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    lines.append("| all | " + " | ".join(mean(lambda arch, b=b: arch[second] == b) for b in seconds) + " |")
    ranked = sorted(table["rows"], key=lambda r: -r["val_accuracy"])
    value = ranked[0]["arch"].get(second)
    run = next((i for i, r in enumerate(ranked) if r["arch"].get(second) != value), len(ranked))
    lines += ["", f"The {run} best architectures by val accuracy all have `{second}: {value}`."]
    return "\n".join(lines)
