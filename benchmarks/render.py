"""Render the measured tables of BENCHMARKS.md (and README's sample output) from the results files.

No figure is typed by hand.

    .venv/bin/python -m benchmarks.render           # rewrite every rendered block
    .venv/bin/python -m benchmarks.render --check   # fail if a block differs from its results file (make lint)

A rendered block sits between `<!-- render: NAME -->` and `<!-- /render -->`; NAME picks the
function below and the JSON file it reads from benchmarks/results/. Text around the blocks is
prose: it may say what a table shows, but the numbers live in the blocks.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.rendering.dask import dask_data, dask_memory
from benchmarks.rendering.estimation import estimation
from benchmarks.rendering.keras_tuner import keras_tuner
from benchmarks.rendering.memory import memory
from benchmarks.rendering.results import load_result
from benchmarks.rendering.retrain_ensemble import retrain_ensemble
from benchmarks.rendering.space_kinds import space_kinds
from benchmarks.rendering.tabular import strategies_tabular

REPO = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- render: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /render -->)", re.DOTALL)


def _acc(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def winner_quality(name: str = "winner_quality") -> str:
    data = load_result(name)
    head = (
        "| | " + " | ".join(f"seed {s}" for s in data["seeds"]) + " | median | min | wall median (max) | wall ratio |"
    )
    lines = [head, "|---|" + "---:|" * (len(data["seeds"]) + 4)]
    for variant in data["variants"]:
        tests = " | ".join(_acc(r["test_accuracy"]) for r in variant["runs"])
        wall = f"{variant['median_wall_seconds']:.0f} s ({variant['max_wall_seconds']:.0f} s)"
        lines.append(
            f"| {variant['label']}: test accuracy | {tests} | **{_acc(variant['median_test_accuracy'])}** | "
            f"{_acc(variant['min_test_accuracy'])} | {wall} | {variant['wall_ratio_to_baseline']:.2f} |"
        )
    ours = data["variants"][-1]
    if ensembled(ours):
        firsts = [r["test_accuracy_first_seed"] for r in ours["runs"]]
        lines.append(
            f"| {ours['label']}: the first retrain seed alone | {' | '.join(_acc(v) for v in firsts)} | "
            f"{_acc(statistics.median(firsts))} | {_acc(min(firsts))} | | |"
        )
    for key, label in (("best_val_accuracy", "search val accuracy"), ("promotion_accuracy", "promotion score")):
        if all(r.get(key) is not None for r in ours["runs"]):
            values = " | ".join(_acc(r[key]) for r in ours["runs"])
            median = _acc(statistics.median(r[key] for r in ours["runs"]))
            lines.append(f"| {ours['label']}: {label} | {values} | {median} | | | |")
    if all("test_accuracy_sd" in r for r in ours["runs"]):
        means = [r["test_accuracy_mean"] for r in ours["runs"]]
        lines.append(
            f"| {ours['label']}: test accuracy, mean over retrain seeds | {' | '.join(_acc(m) for m in means)} | "
            f"{_acc(statistics.median(means))} | {_acc(min(means))} | | |"
        )
        spreads = " | ".join(f"± {r['test_accuracy_sd']:.4f}" for r in ours["runs"])
        lines.append(f"| {ours['label']}: sd over retrain seeds | {spreads} | | | | |")
    verdicts = [paired_verdict(data), quality_target(ours)]
    return "\n".join(lines) + "\n\n" + "\n".join(verdicts) + f"\n\nCommand: `{data['command']}`\n"


def ensembled(variant: dict[str, Any]) -> bool:
    """The variant saved its retrain seeds as one model, and recorded the first seed's own score beside it."""
    return all(r.get("ensemble_members", 1) > 1 and "test_accuracy_first_seed" in r for r in variant["runs"])


def sign_test(pairs: list[tuple[float, float]]) -> tuple[int, int, int, float]:
    """Higher, tied, lower, and the two-sided sign test's p over the untied pairs."""
    higher = sum(a > b for a, b in pairs)
    lower = sum(a < b for a, b in pairs)
    untied = higher + lower
    tail = sum(math.comb(untied, k) for k in range(min(higher, lower) + 1)) / 2**untied if untied else 1.0
    return higher, len(pairs) - untied, lower, min(1.0, 2 * tail)


def paired_verdict(data: dict[str, Any]) -> str:
    """Ours against the baseline, seed by seed: how often higher, tied, lower, and a two-sided sign test.

    With one variant that ensembles, the baseline is its own first retrain seed: the model the
    pipeline saved before the ensemble, from the very same search, so the pairs differ in nothing else.
    """
    base, ours = data["variants"][0], data["variants"][-1]
    if base is ours and ensembled(ours):
        pairs = [(r["test_accuracy"], r["test_accuracy_first_seed"]) for r in ours["runs"]]
        against = "the first retrain seed alone (the model saved before), in the same runs"
    else:
        pairs = [(o["test_accuracy"], b["test_accuracy"]) for o, b in zip(ours["runs"], base["runs"], strict=True)]
        against = base["label"]
    higher, tied, lower, p = sign_test(pairs)
    return (
        f"{ours['label']} against {against}, seed by seed: higher on {higher}, tied on {tied}, lower on {lower}; "
        f"two-sided sign test over the untied seeds p = {p:.2f}."
    )


def quality_target(variant: dict[str, Any]) -> str:
    """Issue 26's target on the default split: median test accuracy at least 0.98, no seed below 0.97."""
    median, low = variant["median_test_accuracy"], variant["min_test_accuracy"]
    met = median >= 0.98 and low >= 0.97
    return (
        f"**Target** (issue 26: median test accuracy ≥ 0.98, none below 0.97): {variant['label']}, median "
        f"{_acc(median)}, min {_acc(low)}, **{'met' if met else 'missed'}**."
    )


def seed_example() -> str:
    data = load_result("seed_example")
    seeds = data["seeds"]
    lines = [
        "| | " + " | ".join(f"seed {s}" for s in seeds) + " | median |",
        "|---|" + "---:|" * (len(seeds) + 1),
    ]
    for side, label in (("plain", "plain tutorial loop"), ("ours", "ours, full pipeline")):
        values = [r[side]["test_accuracy"] for r in data["runs"]]
        known = [v for v in values if v is not None]
        median = statistics.median(known) if known else None
        lines.append(f"| {label}: test accuracy | {' | '.join(_acc(v) for v in values)} | **{_acc(median)}** |")
    for side, label in (("plain", "plain"), ("ours", "ours")):
        vals = " | ".join(_acc(r[side].get("best_val_accuracy")) for r in data["runs"])
        lines.append(f"| {label}: best val accuracy | {vals} | |")
    skipped = " | ".join(str(r["plain"]["skipped"]) for r in data["runs"])
    lines.append(f"| plain: impossible models (skipped) | {skipped} | |")
    failed = " | ".join(str(r["ours"]["failed"]) for r in data["runs"])
    lines.append(f"| ours: impossible candidates (recorded FAILED) | {failed} | |")
    return "\n".join(lines) + f"\n\nDataset: {data['dataset']}. Command: `{data['command']}`\n"


def recipes(schedule: str) -> dict[str, str]:
    rate = "constant rate" if schedule == "constant" else "cosine schedule"
    return {
        "cosine30": "30 epochs, cosine to zero (the old retrain)",
        "best_epoch": f"the search's {rate}, its best epoch",
    }


def selection_table(name: str) -> str:
    data = load_result(name)
    seeds, labels = data["seeds"], recipes(data["search_schedule"])
    lines = [
        f"Search schedule: {data['search_schedule']}.",
        "",
        "| retrain recipe | selection rule | " + " | ".join(f"seed {s}" for s in seeds) + " | median | mean |",
        "|---|---|" + "---:|" * (len(seeds) + 2),
    ]
    for key, row in data["rules"].items():
        recipe, rule = (part.strip() for part in key.split("|", 1))
        per_seed = " | ".join(_acc(v) for v in row["per_seed"])
        lines.append(f"| {labels[recipe]} | {rule} | {per_seed} | {_acc(row['median'])} | {_acc(row['mean'])} |")
    return "\n".join(lines) + "\n\n" + recipe_comparison(data["candidates"], labels) + "\n"


def winner_selection() -> str:
    return selection_table("winner_selection")


def winner_selection_cosine() -> str:
    return selection_table("winner_selection_cosine")


def recipe_comparison(candidates: list[dict[str, Any]], labels: dict[str, str]) -> str:
    """The two retrain recipes on every completed candidate, paired: each candidate trained both ways."""
    from scipy.stats import wilcoxon

    cosine = [c["test"]["cosine30"][0] for c in candidates]
    constant = [statistics.mean(c["test"]["best_epoch"]) for c in candidates]
    differences = [a - b for a, b in zip(cosine, constant, strict=True)]
    p = float(wilcoxon(cosine, constant).pvalue)
    p_text = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    return (
        f"Over all {len(candidates)} completed candidates, each retrained both ways: "
        f"{labels['cosine30']} {_acc(statistics.mean(cosine))}, "
        f"{labels['best_epoch']} {_acc(statistics.mean(constant))} (mean of its two seeds); "
        f"paired difference {100 * statistics.mean(differences):+.2f} points, Wilcoxon signed-rank {p_text}."
    )


def make_run_table(name: str) -> str:
    """A benchmarks/make_run.py result: each variant's repeats, median, spread and ratio to the first."""
    data = load_result(name)
    lines = ["| variant | seconds (each repeat) | median | spread | ratio |", "|---|---|---:|---:|---:|"]
    for v in data["variants"]:
        repeats = ", ".join(f"{t:.2f}" for t in v["seconds"])
        lines.append(
            f"| {v['label']} | {repeats} | {v['median_seconds']:.2f} | {v['spread_seconds']:.2f} | "
            f"{v['ratio_to_baseline']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def make_run_against_target(name: str, target_seconds: float = 180.0) -> str:
    """The make_run table with issue 26's verdict: the median of each variant against 3 minutes."""
    verdicts = [
        f"**Target** (issue 26: `make run` within {target_seconds / 60:.0f} minutes after setup): {v['label']}, "
        f"median {v['median_seconds']:.0f} s, **{'met' if v['median_seconds'] <= target_seconds else 'missed'}**."
        for v in load_result(name)["variants"]
    ]
    return make_run_table(name) + "\n" + "\n".join(verdicts) + "\n"


def make_run_output() -> str:
    """What `make run` printed at its end: the committed metrics/ are a fresh clone's run (the lock refresh)."""
    from flows.summary import results_lines

    test, search = (json.loads((REPO / "metrics" / f"{name}.json").read_text()) for name in ("test", "search"))
    return "```\n" + "\n".join(results_lines(test, search)) + "\n```\n"


def nightly() -> str:
    """benchmarks/nightly.py: each seed's nights, then the single search of the same total budget."""
    data = load_result("nightly")
    lines = [
        "| seed | night | trained | of them trained before | remembered | best val so far "
        "| champion's promotion score | champion's test accuracy |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in data["seeds"]:
        for row in run["nights"]:
            lines.append(
                f"| {run['seed']} | {row['night']} | {row['trained']} | {row['trained_before']} | {row['reused']} | "
                f"{_acc(row['best_val_accuracy_so_far'])} | {_acc(row['champion_promotion_accuracy'])} | "
                f"{_acc(row['champion_test_accuracy'])} |"
            )
        single, final = run["single"], run["final"]
        verdict = "within noise" if final["within_noise"] else "beyond noise"
        lines.append(
            f"| {run['seed']} | one search of {single['candidates']} | {single['candidates']} | | | "
            f"{_acc(single['best_val_accuracy'])} | {_acc(single['promotion_accuracy'])} | "
            f"{_acc(single['test_accuracy'])} |"
        )
        lines.append(
            f"| {run['seed']} | nights − single | | | | | {final['difference'] + 0.0:+.4f} "
            f"(noise ±{final['noise']:.4f}, {verdict}) | |"
        )
    lines.append("")
    lines.append(
        f"Architectures trained twice, all seeds and nights: **{data['trained_twice']}**. "
        f"Promotion-score difference, nights − single, median over seeds: {data['median_difference'] + 0.0:+.4f}; "
        f"within noise on {data['within_noise']} of {len(data['seeds'])} seeds."
    )
    lines.append("")
    lines.append(f"As run: `{data['command']}`.")
    return "\n".join(lines) + "\n"


def transfer() -> str:
    """benchmarks/transfer.py: best val accuracy after k candidates, median over seeds, warm and cold."""
    data = load_result("transfer")
    curves = data["median_curve"]
    count = len(curves["cold"])
    lines = [
        "| start | " + " | ".join(f"after {k + 1}" for k in range(count)) + " | final: median (min–max) |",
        "|---|" + "---:|" * (count + 1),
    ]
    for variant, label in (("cold", "cold"), ("warm", "warm from digits (top 5)")):
        final = data["final"][variant]
        lines.append(
            f"| {label} | "
            + " | ".join(_acc(v) for v in curves[variant][:count])
            + f" | {_acc(final['median'])} ({_acc(final['min'])}–{_acc(final['max'])}) |"
        )
    lines.append("")
    lines.append(
        f"Seeds {', '.join(map(str, data['seeds']))}: warm ended higher on {data['warm_better_seeds']}, "
        f"level on {data['ties']}, lower on {len(data['seeds']) - data['warm_better_seeds'] - data['ties']}. "
        f"The digits source search's best val accuracy: {_acc(data['source_best_val_accuracy'])}."
    )
    return "\n".join(lines) + "\n"


def _p(value: float) -> str:
    return "< 0.0001" if value < 1e-4 else f"{value:.2g}"


def _vs(entry: dict[str, Any] | None) -> tuple[str, str, str]:
    """Ratio of medians, better / tied / worse seeds, and the p-value against the reference; dashes for it."""
    if entry is None:
        return "reference", "", ""
    ratio = "–" if entry["median_ratio"] is None else f"{entry['median_ratio']:.2f}"
    return ratio, f"{entry['better']} / {entry['tied']} / {entry['worse']}", _p(entry["wilcoxon_p"])


def vs_evolution_text(data: dict[str, Any]) -> str:
    """benchmarks/tabular/run_strategies.py: every strategy against regularized evolution, seed by seed."""
    meta, summary, goal = data["metadata"], data["summary"], data["target"]
    reference = goal["reference"]
    first = meta.get("first_seed", 0)
    names = [reference, *sorted(n for n in summary if n != reference)]
    lines = [
        f"Seeds {first}-{first + meta['seeds'] - 1}, each strategy against {reference} on the same seed. "
        "Better / tied / worse: seeds where its regret is lower / equal / higher; p: Wilcoxon signed-rank, "
        "two-sided, tied seeds left out.",
        "",
        f"| strategy | queries | median regret | regret (mean ± std) | median ÷ {reference}'s | "
        "better / tied / worse | p |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in names:
        for budget in meta["budgets"]:
            e = summary[name][str(budget)]
            ratio, counts, p = _vs(e.get("vs_evolution"))
            lines.append(
                f"| {name} | {budget} | {e['regret_median']:.4f} | {e['regret_mean']:.4f} ± {e['regret_std']:.4f} | "
                f"{ratio} | {counts} | {p} |"
            )
    budget = max(meta["budgets"])
    if all("to_best_val" in summary[n] for n in names):
        lines += [
            "",
            "Queries until the pick is the best-by-validation architecture, the one a perfect search on validation "
            f"ends with ({budget + 1} when a seed did not find it within {budget}):",
            "",
            f"| strategy | median | mean | found within {budget} | median ÷ {reference}'s | "
            "better / tied / worse | p |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name in names:
            e = summary[name]["to_best_val"]
            ratio, counts, p = _vs(e.get("vs_evolution"))
            lines.append(
                f"| {name} | {e['median']:.0f} | {e['mean']:.1f} | {e['found']} of {meta['seeds']} | {ratio} | "
                f"{counts} | {p} |"
            )
    verdict = "met" if goal["met"] else "not met"
    lines += [
        "",
        f"**Target** (issue 23: the best strategy's median regret at {goal['budget']} queries at most half of "
        f"{reference}'s): **{verdict}**. The lowest median (ties: the lower mean) is {goal['best']}'s, "
        f"{goal['best_median']:.4f}, against "
        f"{reference}'s {goal['reference_median']:.4f}, so the threshold is {goal['threshold']:.4f} "
        f"(p = {_p(goal['best_wilcoxon_p'])}).",
    ]
    if not goal["met"] and goal["threshold"] < goal["floor"] - 1e-9:
        lines[-1] += (
            f" The threshold lies below the floor, {goal['floor']:.4f}: the regret of the best-by-validation "
            "architecture itself, where a perfect search on validation ends: no strategy that picks by validation "
            "can meet it on this table."
        )
        found = summary[reference].get("to_best_val", {}).get("found")
        if found is not None:
            lines[-1] += (
                f" {reference} ends on that architecture on {found} of {meta['seeds']} seeds; what is left to gain "
                "is how soon, in the second table."
            )
    return "\n".join(lines) + "\n"


def strategies_vs_evolution() -> str:
    return vs_evolution_text(load_result("strategies_tabular"))


OVERHEAD_TARGETS = {"digits": 1.10, "mnist": 1.03}  # issue 8: ours / bare, wall time from process start to exit


def overhead() -> str:
    """benchmarks/overhead.py, one row per dataset: both sides' medians, the ratio, and whether it is noise."""
    lines = [
        "| dataset | candidates × epochs | workers recycled | bare (median) | ours (median) | ours / bare "
        "| per repeat | bare's own range | training: bare → ours | rest of the wall time: bare → ours "
        "| target | measured |",
        "|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for dataset in ("digits", "mnist"):
        data = load_result(f"overhead_{dataset}")
        bare, ours = data["bare_seconds"], data["ours_seconds"]
        ratio = data["ratio_ours_over_bare"]
        spread = (max(bare) - min(bare)) / statistics.median(bare)
        noise = "inside the noise" if abs(ratio - 1) <= spread else "beyond the noise"
        target = OVERHEAD_TARGETS[dataset]
        verdict = f"≤ {target:.2f} ({'met' if ratio <= target else 'missed'}, {noise})"
        recycled = (
            f"every {data['recycle_after']} (the default)"
            if "recycle_after" in data
            else "never (the old run kept one worker)"
        )
        when = f"{data['started']}, commit {data['commit']}" if "commit" in data else f"{data['started']}, older code"
        per_repeat = ", ".join(f"{r:.2f}" for r in data["ratio_per_repeat"])
        lines.append(
            f"| {dataset} | {data['candidates']} × {data['epochs']} | {recycled} | {statistics.median(bare):.1f} s "
            f"| {statistics.median(ours):.1f} s | **{ratio:.2f}** | {per_repeat} | {100 * spread:.0f} % "
            f"| {statistics.median(data['bare_training_seconds']):.1f} s → "
            f"{statistics.median(data['ours_training_seconds']):.1f} s "
            f"| {data['bare_rest_median']:.1f} s → {data['ours_rest_median']:.1f} s | {verdict} | {when} |"
        )
    commands = [load_result(f"overhead_{d}").get("command") for d in ("digits", "mnist")]
    shown = "; ".join(f"`{c}`" for c in commands if c)
    return "\n".join(lines) + (f"\n\nCommand: {shown}\n" if shown else "\n")


def parallel_speedup(name: str) -> str:
    """benchmarks/parallel_speedup.py: parallelism 1 against 2 on the same candidates, each repeat and the median."""
    data = load_result(name)
    one, two = data["seconds_parallelism_1"], data["seconds_parallelism_2"]
    per_repeat = data.get("speedup_per_repeat") or [a / b for a, b in zip(one, two, strict=True)]
    recycled = f"every {data['recycle_after']} candidates" if "recycle_after" in data else "never (older code)"
    lines = [
        "| parallelism 1 (median; each repeat) | parallelism 2 (median; each repeat) | speedup | per repeat "
        "| workers recycled | limit |",
        "|---:|---:|---:|---|---|---:|",
        f"| {statistics.median(one):.1f} s ({', '.join(f'{t:.1f}' for t in one)}) "
        f"| {statistics.median(two):.1f} s ({', '.join(f'{t:.1f}' for t in two)}) "
        f"| **{data['speedup_median']:.2f}×** | {', '.join(f'{r:.2f}' for r in per_repeat)} | {recycled} "
        f"| {data['limit']:.1f} |",
    ]
    footer = f"\n\n{data['candidates']} {data['dataset']} candidates × {data['epochs']} epochs"
    if data.get("tf_threads_per_worker"):
        footer += f", {data['tf_threads_per_worker']} TensorFlow thread(s) per worker on both sides"
    if "command" in data:
        footer += f", commit {data['commit']}. Command: `{data['command']}`"
    return "\n".join(lines) + footer + "\n"


RENDERERS: dict[str, Callable[[], str]] = {
    "estimation_digits": lambda: estimation("digits"),
    "estimation_mnist": lambda: estimation("mnist"),
    "strategies_tabular": strategies_tabular,
    "memory": memory,
    "keras_tuner": keras_tuner,
    "parallel_speedup": lambda: parallel_speedup("parallel_speedup"),
    "dask_speedup": lambda: parallel_speedup("dask_speedup"),
    "dask_speedup_equal_threads": lambda: parallel_speedup("dask_speedup_equal_threads"),
    "dask_data": dask_data,
    "dask_memory": dask_memory,
    "space_kinds_tabular": lambda: space_kinds("tabular"),
    "space_kinds_text": lambda: space_kinds("text"),
    "overhead": overhead,
    "strategies_vs_evolution": strategies_vs_evolution,
    "nightly": nightly,
    "transfer": transfer,
    "make_run_early_start": lambda: make_run_table("make_run_early_start"),
    "make_run": lambda: make_run_table("make_run"),
    "make_run_current": lambda: make_run_against_target("make_run_current"),
    "make_run_output": make_run_output,
    "winner_quality": winner_quality,
    "winner_quality_reevaluate": lambda: winner_quality("winner_quality_reevaluate"),
    "seed_example": seed_example,
    "winner_selection": winner_selection,
    "winner_selection_cosine": winner_selection_cosine,
    "retrain_ensemble": retrain_ensemble,
}


def render(text: str) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in RENDERERS:
            raise SystemExit(f"BENCHMARKS.md: no renderer named {name!r}; known: {', '.join(RENDERERS)}")
        return f"{match[1]}{RENDERERS[name]()}{match[4]}"

    return BLOCK.sub(fill, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if a block is stale")
    pages = [REPO / "BENCHMARKS.md", REPO / "README.md", REPO / "docs" / "benchmarks.md"]
    parser.add_argument("files", nargs="*", type=Path, default=pages)
    args = parser.parse_args(argv)
    stale = []
    for path in args.files:
        text = path.read_text()
        rendered = render(text)
        if rendered != text:
            stale.append(path)
            if not args.check:
                path.write_text(rendered)
    if args.check and stale:
        names = ", ".join(str(p) for p in stale)
        print(f"{names}: rendered blocks differ from benchmarks/results; run python -m benchmarks.render")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
