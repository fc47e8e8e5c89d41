"""Run every registered strategy on the digits table, over many seeds, and compare it with random and evolution.

The objective a strategy sees is the table's validation accuracy; what we report is the TEST
accuracy of the architecture it would pick (its best by validation), and the regret: the best
test accuracy in the table minus that. Budgets are prefixes of one 100-query run per seed (no
strategy knows its budget, so the first 25 queries are the same whatever the budget). Each
strategy is also compared with regularized evolution seed by seed (Wilcoxon signed-rank), for
issue 23's target: a median regret at 100 queries at most half of evolution's.

    .venv/bin/python -m benchmarks.tabular.run_strategies            # ~30 min on 2 cores (reinforce: 27)
    .venv/bin/python -m benchmarks.tabular.run_strategies --strategies tpe surrogate --merge
    # tuning, away from the reported seeds 0-99:
    .venv/bin/python -m benchmarks.tabular.run_strategies --first-seed 1000 --seeds 50 --no-write \
        --strategies evolution tpe --option tpe.multivariate=true
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from benchmarks.tabular.plot import plot
from nas_core import NasError, SearchSpace, available_strategies, make_strategy
from nas_core.space import sample_key

RESULTS = Path(__file__).resolve().parents[1] / "results"
BUDGETS = (25, 50, 100)
REFERENCE = "evolution"  # issue 23: a model-based strategy must halve its median regret at TARGET_BUDGET
TARGET_BUDGET = 100
TOL = 1e-5  # saved curves are rounded to 5 decimals
SKIPPED = {
    "graph": "searches its own GraphSpace of layer graphs, which this table of fixed dimensions cannot score",
    "fixed": "replays a given list of architectures (strategy_options.architectures): there is nothing to search",
}


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
        # A curve at test_of_best_val means the pick is the best-by-val model only if no other scores that on test.
        same_test = [r for r in data["rows"] if abs(r["test_accuracy"] - self.test_of_best_val) < TOL]
        self.best_val_test_unique = len(same_test) == 1

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
    path: Path,
    names: list[str],
    seeds: int,
    budget: int,
    options: dict[str, dict[str, Any]],
    workers: int,
    first_seed: int = 0,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Curves[name] is a (seeds, budget) array of test accuracies; seeds are split over workers."""
    chunks = np.array_split(np.arange(first_seed, first_seed + seeds), workers * 2)
    jobs = [(str(path), n, [int(s) for s in c], budget, options.get(n, {})) for n in names for c in chunks if len(c)]
    curves: dict[str, dict[int, list[float]]] = {n: {} for n in names}
    seconds = dict.fromkeys(names, 0.0)
    with multiprocessing.get_context("spawn").Pool(workers, maxtasksperchild=1) as pool:
        for name, seed_list, result, took in pool.imap_unordered(_worker, jobs):
            curves[name].update(zip(seed_list, result, strict=True))
            seconds[name] += took
            print(f"{name}: {len(curves[name])}/{seeds} seeds", flush=True)
    return {n: np.array([curves[n][s] for s in range(first_seed, first_seed + seeds)]) for n in names}, seconds


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
                with warnings.catch_warnings():  # identical samples (every seed at the floor): p is 1
                    warnings.simplefilter("ignore", RuntimeWarning)
                    welch = stats.ttest_ind(acc, base, equal_var=False)
                entry |= {
                    "diff_vs_random": float(diff),
                    "diff_ci95": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
                    "welch_p": float(welch.pvalue) if np.isfinite(welch.pvalue) else 1.0,
                }
            if name != REFERENCE and REFERENCE in curves:
                reference = table.best_test - curves[REFERENCE][:, budget - 1]
                entry["vs_evolution"] = paired(regret, reference)
            summary[name][str(budget)] = entry
        if table.best_val_test_unique:
            found = first_hit(curve, table.test_of_best_val)
            summary[name]["to_best_val"] = {
                "median": float(np.median(found)),
                "mean": float(found.mean()),
                "found": int((found <= curve.shape[1]).sum()),
            }
            if name != REFERENCE and REFERENCE in curves:
                summary[name]["to_best_val"]["vs_evolution"] = paired(
                    found, first_hit(curves[REFERENCE], table.test_of_best_val)
                )
    return summary


def first_hit(curve: np.ndarray, test_of_best_val: float) -> np.ndarray:
    """Per seed, the query whose pick was the best-by-validation architecture (budget + 1: not found)."""
    hit = np.abs(curve - test_of_best_val) < TOL
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, curve.shape[1] + 1)


def paired(ours: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    """Ours against the reference on the same seeds (lower is better): medians, counts, Wilcoxon signed-rank."""
    diff = np.where(np.abs(ours - reference) > TOL, ours - reference, 0.0)  # rounding noise is a tie
    p = float(stats.wilcoxon(diff).pvalue) if np.any(diff) else 1.0
    reference_median = float(np.median(reference))
    return {
        "median_ratio": float(np.median(ours)) / reference_median if reference_median > 0 else None,
        "better": int((diff < -TOL).sum()),
        "tied": int((np.abs(diff) <= TOL).sum()),
        "worse": int((diff > TOL).sum()),
        "wilcoxon_p": p if np.isfinite(p) else 1.0,
    }


def target(table: Table, summary: dict[str, Any]) -> dict[str, Any] | None:
    """Issue 23's target: the best other strategy's median regret at TARGET_BUDGET at most half of evolution's."""
    budget = str(TARGET_BUDGET)
    if REFERENCE not in summary:
        return None
    others = {n: s[budget]["regret_median"] for n, s in summary.items() if n != REFERENCE}
    best = min(others, key=lambda n: (others[n], summary[n][budget]["regret_mean"], n))
    reference = summary[REFERENCE][budget]["regret_median"]
    return {
        "budget": TARGET_BUDGET,
        "reference": REFERENCE,
        "reference_median": reference,
        "threshold": reference / 2,
        "best": best,
        "best_median": others[best],
        "best_wilcoxon_p": summary[best][budget]["vs_evolution"]["wilcoxon_p"],
        "floor": table.best_test - table.test_of_best_val,
        "met": others[best] <= reference / 2 + 1e-12,
    }


def section_text(table_path: Path, runs: dict[str, Any]) -> str:
    """What BENCHMARKS.md would show for these runs, printed for a --no-write tuning run; the file itself is
    written by `python -m benchmarks.render` from the saved results."""
    from benchmarks.render import vs_evolution_text
    from benchmarks.rendering.tabular import tabular_text

    text = tabular_text(json.loads(table_path.read_text()), runs)
    return text if runs["target"] is None else f"{text}\n{vs_evolution_text(runs)}"


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
    parser.add_argument("--first-seed", type=int, default=0, help="e.g. 1000 to tune options away from seeds 0-99")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--strategies", nargs="*", default=None, help="default: every registered one but graph, fixed")
    parser.add_argument("--option", action="append", default=[], help="e.g. evolution.population_size=20")
    parser.add_argument("--no-write", action="store_true", help="print the summary only (for trying options)")
    parser.add_argument(
        "--merge", action="store_true", help="rerun only --strategies and keep the other strategies' saved curves"
    )
    parser.add_argument("--from-results", action="store_true", help="redo the summary and plot from the saved JSON")
    args = parser.parse_args()
    if args.from_results:
        saved = json.loads((RESULTS / "strategies_tabular.json").read_text())
        table, curves = Table(args.table), {n: np.array(c) for n, c in saved["curves"].items()}
        summary = summarise(table, curves)
        saved |= {"summary": summary, "target": target(table, summary)}
        (RESULTS / "strategies_tabular.json").write_text(json.dumps(saved) + "\n")
        plot(table, curves, RESULTS / "regret_vs_queries.png")
        print(f"wrote {RESULTS / 'strategies_tabular.json'} and the plot; then: python -m benchmarks.render")
        return

    if args.first_seed != 0 and not args.no_write:
        raise SystemExit("--first-seed is for tuning, away from the reported seeds 0-99: add --no-write")
    names = args.strategies or [n for n in available_strategies() if n not in SKIPPED]
    if "random" not in names:
        names.insert(0, "random")
    options = parse_options(args.option)
    table = Table(args.table)
    for name in list(names):  # a strategy added later that cannot run on a table with default options
        try:
            make_strategy(name, table.space, seed=0, **options.get(name, {}))
        except NasError as error:
            names.remove(name)
            SKIPPED[name] = f"cannot run with these options: {error}"
    started = time.perf_counter()
    curves, seconds = run_all(args.table, names, args.seeds, max(BUDGETS), options, args.workers, args.first_seed)
    saved_meta: dict[str, Any] = {}
    if args.merge:  # e.g. after changing one strategy: the others' curves (same seeds) stay as saved
        saved = json.loads((RESULTS / "strategies_tabular.json").read_text())
        if saved["metadata"]["seeds"] != args.seeds or args.first_seed != 0:
            raise SystemExit("--merge needs the saved run's seeds (0 to --seeds - 1)")
        curves = {n: np.array(c) for n, c in saved["curves"].items() if n not in curves} | curves
        seconds = saved["metadata"]["strategy_seconds"] | seconds
        saved_meta = saved["metadata"]
        options = saved_meta.get("options", {}) | options
    curves = {n: c.round(5) for n, c in curves.items()}  # as saved, so --from-results gives the same summary
    summary = summarise(table, curves)
    goal = target(table, summary)
    meta = {
        "seeds": args.seeds,
        "first_seed": args.first_seed,
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
    if saved_meta:
        meta["command"] = f"{saved_meta['command']}; then {meta['command']}"
        meta["wall_seconds"] = saved_meta.get("wall_seconds")
    print(section_text(args.table, {"metadata": meta, "summary": summary, "target": goal}))
    if args.no_write:
        return
    out = RESULTS / "strategies_tabular.json"
    curves_json = {n: c.round(5).tolist() for n, c in curves.items()}
    out.write_text(json.dumps({"metadata": meta, "summary": summary, "target": goal, "curves": curves_json}) + "\n")
    plot(table, curves, RESULTS / "regret_vs_queries.png")
    print(f"wrote {out} and {RESULTS / 'regret_vs_queries.png'}; then: python -m benchmarks.render")


if __name__ == "__main__":
    main()
