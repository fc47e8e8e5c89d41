"""Run every registered strategy on the digits table, over many seeds, and compare it with random.

The objective a strategy sees is the table's validation accuracy; what we report is the TEST
accuracy of the architecture it would pick (its best by validation), and the regret: the best
test accuracy in the table minus that. Budgets are prefixes of one 100-query run per seed (no
strategy knows its budget, so the first 25 queries are the same whatever the budget).

    .venv/bin/python -m benchmarks.tabular.run_strategies            # ~5 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from nas_core import SearchSpace, available_strategies, make_strategy
from nas_core.space import sample_key

RESULTS = Path(__file__).resolve().parents[1] / "results"
BENCHMARKS_MD = Path(__file__).resolve().parents[2] / "BENCHMARKS.md"
SECTION = "## Strategies on a tabular benchmark"
BUDGETS = (25, 50, 100)
SKIPPED = {"graph": "searches its own GraphSpace of layer graphs, which this table of fixed dimensions cannot score"}


class Table:
    """Validation and test accuracy of every architecture, looked up by canonical sample."""

    def __init__(self, path: Path) -> None:
        data = json.loads(path.read_text())
        self.metadata = data["metadata"]
        self.space = SearchSpace.from_dict(self.metadata["space"])
        self.rows = {row["key"]: row for row in data["rows"]}
        self.best_test = max(row["test_accuracy"] for row in self.rows.values())
        best_val = max(self.rows.values(), key=lambda row: row["val_accuracy"])
        self.test_of_best_val = best_val["test_accuracy"]  # what a perfect search on val would report

    def row(self, sample: dict[str, Any]) -> dict[str, Any]:
        return self.rows[sample_key(self.space.canonical(sample))]


def run_seed(table: Table, name: str, seed: int, budget: int, options: dict[str, Any]) -> list[float]:
    """Test accuracy of the best-by-validation architecture after each query (ties: the first found)."""
    strategy = make_strategy(name, table.space, seed=seed, **options)
    best_val, best_test = -1.0, 0.0
    curve: list[float] = []
    while len(curve) < budget:
        batch = strategy.ask(1)
        if not batch:  # the strategy ran dry (grid on a small space): its pick stands
            curve.extend([best_test] * (budget - len(curve)))
            break
        row = table.row(batch[0])
        strategy.tell(batch[0], row["val_accuracy"])
        if row["val_accuracy"] > best_val:
            best_val, best_test = row["val_accuracy"], row["test_accuracy"]
        curve.append(best_test)
    return curve


def _worker(job: tuple[str, str, list[int], int, dict[str, Any]]) -> tuple[str, list[int], list[list[float]], float]:
    path, name, seeds, budget, options = job
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if name == "reinforce":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    table = Table(Path(path))
    started = time.perf_counter()
    curves = [run_seed(table, name, seed, budget, options) for seed in seeds]
    return name, seeds, curves, time.perf_counter() - started


def run_all(
    path: Path, names: list[str], seeds: int, budget: int, options: dict[str, dict[str, Any]], workers: int
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Curves[name] is a (seeds, budget) array of test accuracies; seeds are split over workers."""
    chunks = np.array_split(np.arange(seeds), workers * 2)
    jobs = [(str(path), n, [int(s) for s in c], budget, options.get(n, {})) for n in names for c in chunks if len(c)]
    curves: dict[str, dict[int, list[float]]] = {n: {} for n in names}
    seconds = dict.fromkeys(names, 0.0)
    with multiprocessing.get_context("spawn").Pool(workers, maxtasksperchild=1) as pool:
        for name, seed_list, result, took in pool.imap_unordered(_worker, jobs):
            curves[name].update(zip(seed_list, result, strict=True))
            seconds[name] += took
            print(f"{name}: {len(curves[name])}/{seeds} seeds", flush=True)
    return {n: np.array([curves[n][s] for s in range(seeds)]) for n in names}, seconds


def summarise(table: Table, curves: dict[str, np.ndarray], seed: int = 0) -> dict[str, Any]:
    """Mean ± std of test accuracy and regret per budget, and the difference from random."""
    rng = np.random.default_rng(seed)
    summary: dict[str, Any] = {}
    for name, curve in curves.items():
        summary[name] = {}
        for budget in BUDGETS:
            acc = curve[:, budget - 1]
            regret = table.best_test - acc
            entry: dict[str, Any] = {
                "test_accuracy_mean": float(acc.mean()),
                "test_accuracy_std": float(acc.std(ddof=1)),
                "regret_mean": float(regret.mean()),
                "regret_std": float(regret.std(ddof=1)),
                "regret_median": float(np.median(regret)),
            }
            if name != "random" and "random" in curves:
                base = curves["random"][:, budget - 1]
                diff = acc.mean() - base.mean()
                boot = [rng.choice(acc, acc.size).mean() - rng.choice(base, base.size).mean() for _ in range(10_000)]
                welch = stats.ttest_ind(acc, base, equal_var=False)
                entry |= {
                    "diff_vs_random": float(diff),
                    "diff_ci95": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
                    "welch_p": float(welch.pvalue) if np.isfinite(welch.pvalue) else 1.0,
                }
            summary[name][str(budget)] = entry
    return summary


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
    ax.set(xlabel="queries", ylabel="test regret (best test acc. − test acc. of pick)")
    ax.set_title(f"Digits table ({len(table.rows)} architectures), mean ± s.e.m. over {len(curve)} seeds")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def markdown(table: Table, summary: dict[str, Any], meta: dict[str, Any]) -> str:
    """The BENCHMARKS.md section: setup, the numbers, and how to reproduce them."""
    accs = sorted(row["test_accuracy"] for row in table.rows.values())
    lines = [
        SECTION,
        "",
        f"Table: every one of the {len(table.rows)} architectures of a small CNN/MLP space, trained on scikit-learn's "
        f"digits ({table.metadata['training']['epochs']} epochs, seeds {table.metadata['training']['seeds']}, "
        "mean accuracy over seeds; fixed stratified 60/20/20 split), made by "
        f"`{table.metadata['command']}` in {table.metadata['wall_seconds'] / 60:.0f} min "
        f"(`benchmarks/results/tabular_digits.json`). Test accuracy ranges from {accs[0]:.3f} to {accs[-1]:.3f} "
        f"(median {np.median(accs):.3f}); the best-by-validation architecture scores {table.test_of_best_val:.4f} "
        f"on test, so a perfect search on validation still has a regret of "
        f"{table.best_test - table.test_of_best_val:.4f}.",
        "",
        f"Each strategy searches on validation accuracy with {meta['seeds']} seeds; we report the test accuracy of "
        "its best-by-validation pick and the regret (best test accuracy in the table minus that). Δ is the "
        "difference in mean test accuracy from random search, with a bootstrap 95% CI and a Welch t-test p-value.",
        "",
        "| strategy | queries | test acc. (mean ± std) | regret (mean ± std) | Δ vs random [95% CI] | p (Welch) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in sorted(summary, key=lambda n: (n != "random", n)):
        for budget in BUDGETS:
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
    for name, why in SKIPPED.items():
        lines.append(f"| {name} | — | not run: {why} | | | |")
    lines += [
        "",
        "![Regret against queries](benchmarks/results/regret_vs_queries.png)",
        "",
        f"Options: defaults{'' if not meta['options'] else ' except ' + json.dumps(meta['options'])}. "
        f"Reproduce with `{meta['command']}` (results: `benchmarks/results/strategies_tabular.json`).",
        "",
    ]
    if NOTES:
        lines += [NOTES.strip(), ""]
    return "\n".join(lines)


NOTES = ""


def write_section(text: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace our section of BENCHMARKS.md (up to the next '## '), leaving other sections alone."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    start = old.find(SECTION)
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = old.find("\n## ", start + len(SECTION))
        new = old[:start] + text + ("" if end < 0 else "\n" + old[end + 1 :])
    path.write_text(new.rstrip("\n") + "\n")


def parse_options(items: list[str]) -> dict[str, dict[str, Any]]:
    """`strategy.option=value` pairs (values as JSON), for trying other defaults."""
    options: dict[str, dict[str, Any]] = {}
    for item in items:
        key, _, value = item.partition("=")
        name, _, option = key.partition(".")
        options.setdefault(name, {})[option] = json.loads(value)
    return options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, default=RESULTS / "tabular_digits.json")
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--strategies", nargs="*", default=None, help="default: every registered one but graph")
    parser.add_argument("--option", action="append", default=[], help="e.g. evolution.population_size=20")
    parser.add_argument("--no-write", action="store_true", help="print the summary only (for trying options)")
    args = parser.parse_args()

    names = args.strategies or [n for n in available_strategies() if n not in SKIPPED]
    if "random" not in names:
        names.insert(0, "random")
    options = parse_options(args.option)
    table = Table(args.table)
    started = time.perf_counter()
    curves, seconds = run_all(args.table, names, args.seeds, max(BUDGETS), options, args.workers)
    summary = summarise(table, curves)
    meta = {
        "seeds": args.seeds,
        "budgets": list(BUDGETS),
        "options": options,
        "table": str(args.table.relative_to(Path.cwd())) if args.table.is_relative_to(Path.cwd()) else str(args.table),
        "best_test_accuracy": table.best_test,
        "test_accuracy_of_best_val": table.test_of_best_val,
        "skipped": SKIPPED,
        "strategy_seconds": {n: round(s, 1) for n, s in seconds.items()},
        "wall_seconds": round(time.perf_counter() - started, 1),
        "command": "python -m benchmarks.tabular.run_strategies " + " ".join(sys.argv[1:]),
    }
    print(markdown(table, summary, meta))
    if args.no_write:
        return
    out = RESULTS / "strategies_tabular.json"
    curves_json = {n: c.round(5).tolist() for n, c in curves.items()}
    out.write_text(json.dumps({"metadata": meta, "summary": summary, "curves": curves_json}) + "\n")
    plot(table, curves, RESULTS / "regret_vs_queries.png")
    write_section(markdown(table, summary, meta))
    print(f"wrote {out}, {RESULTS / 'regret_vs_queries.png'} and {BENCHMARKS_MD}")


if __name__ == "__main__":
    main()
