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
import re
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
BLOCK = re.compile(r"(<!-- render: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /render -->)", re.DOTALL)


def _load(name: str) -> Any:
    return json.loads((RESULTS / f"{name}.json").read_text())


def _acc(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def winner_quality() -> str:
    data = _load("winner_quality")
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
    for key, label in (("best_val_accuracy", "search val accuracy"), ("promotion_accuracy", "promotion score")):
        if all(r.get(key) is not None for r in ours["runs"]):
            values = " | ".join(_acc(r[key]) for r in ours["runs"])
            median = _acc(statistics.median(r[key] for r in ours["runs"]))
            lines.append(f"| {ours['label']}: {label} | {values} | {median} | | | |")
    if all("test_accuracy_sd" in r for r in ours["runs"]):
        spreads = " | ".join(f"± {r['test_accuracy_sd']:.4f}" for r in ours["runs"])
        lines.append(f"| {ours['label']}: sd over retrain seeds | {spreads} | | | | |")
    return "\n".join(lines) + f"\n\nCommand: `{data['command']}`\n"


def seed_example() -> str:
    data = _load("seed_example")
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
        walls = " | ".join(f"{r[side]['wall_seconds']:.0f} s" for r in data["runs"])
        lines.append(f"| {label}: wall | {walls} | |")
    failed = " | ".join(str(r["ours"]["failed"]) for r in data["runs"])
    lines.append(f"| ours: impossible candidates (recorded FAILED) | {failed} | |")
    return "\n".join(lines) + f"\n\nDataset: {data['dataset']}. Command: `{data['command']}`\n"


RECIPES = {
    "cosine30": "30 epochs, cosine to zero (the old retrain)",
    "best_epoch": "the search's constant rate, its best epoch",
}


def winner_selection() -> str:
    data = _load("winner_selection")
    seeds = data["seeds"]
    lines = [
        "| retrain recipe | selection rule | " + " | ".join(f"seed {s}" for s in seeds) + " | median | mean |",
        "|---|---|" + "---:|" * (len(seeds) + 2),
    ]
    for key, row in data["rules"].items():
        recipe, rule = (part.strip() for part in key.split("|", 1))
        recipe = RECIPES.get(recipe, recipe)
        per_seed = " | ".join(_acc(v) for v in row["per_seed"])
        lines.append(f"| {recipe} | {rule} | {per_seed} | {_acc(row['median'])} | {_acc(row['mean'])} |")
    means = data["mean_over_all_candidates"]
    everyone = ", ".join(f"{RECIPES.get(recipe, recipe)}: {_acc(value)}" for recipe, value in means.items())
    return (
        "\n".join(lines)
        + f"\n\nMean test accuracy over all {len(data['candidates'])} completed candidates: {everyone}.\n"
    )


def make_run_output() -> str:
    """What `make run` printed at its end in the benchmark's run of the default params (search seed 0)."""
    data = _load("winner_quality")
    ours = data["variants"][-1]
    run = next(r for r in ours["runs"] if r["seed"] == 0)
    return "```\n" + "\n".join(run["printed"]) + "\n```\n"


RENDERERS: dict[str, Callable[[], str]] = {
    "make_run_output": make_run_output,
    "winner_quality": winner_quality,
    "seed_example": seed_example,
    "winner_selection": winner_selection,
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
    parser.add_argument("files", nargs="*", type=Path, default=[REPO / "BENCHMARKS.md", REPO / "README.md"])
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
