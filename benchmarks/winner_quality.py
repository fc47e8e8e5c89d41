"""The winner a user gets from `make run`, over search seeds: its test accuracy and the wall time (issue 26).

    .venv/bin/python -m benchmarks.winner_quality --seeds 0 1 2 3 4 \\
        --variant "before (df6da3c):/tmp/wq-before" --variant "now:/tmp/wq-now"

Each variant is LABEL:DIR, a checkout (a `git worktree` of the commit to compare). For every seed
and variant, the checkout is reset to a fresh clone's state, its params.yaml gets `search.seed`
set to the seed (nothing else changes), and `python -m flows.cli run --quiet` runs there, timed
from start to exit, as `make run` runs it. The variants alternate within a seed, so machine noise
hits both. What is read back is what the user reads: metrics/test.json and metrics/search.json.
The default data split (data.seed 0) is the one the pipeline reports on, so seeds 0-4 are for
reporting only; the rule and the defaults were chosen on seeds 100 and up with other splits
(benchmarks/winner_selection.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.make_run import REPO, clean, make_env


def set_seed(checkout: Path, seed: int) -> None:
    """params.yaml with `search.seed` replaced in place: comments and every other value stay as committed."""
    subprocess.run(["git", "checkout", "-q", "--", "params.yaml"], cwd=checkout, check=True)
    path = checkout / "params.yaml"
    lines = path.read_text().splitlines(keepends=True)
    section = ""
    for i, line in enumerate(lines):
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            section = line.strip().rstrip(":")
        elif section == "search" and line.lstrip().startswith("seed:"):
            indent = line[: len(line) - len(line.lstrip())]
            comment = line[line.index("#") :] if "#" in line else "\n"
            lines[i] = f"{indent}seed: {seed}" + (f"  {comment}" if comment != "\n" else "\n")
            break
    else:
        raise SystemExit(f"{path}: no search.seed to set")
    path.write_text("".join(lines))
    assert yaml.safe_load(path.read_text())["search"]["seed"] == seed


def summary_lines(stdout: str) -> list[str]:
    """The summary `make run` ends with (flows/summary.py), from its first line on."""
    lines = stdout.rstrip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Winner model:")]
    return lines[starts[-1] :] if starts else lines[-10:]


def run_once(checkout: Path, seed: int) -> dict[str, Any]:
    clean(checkout)
    set_seed(checkout, seed)
    command = ["python", "-m", "flows.cli", "run"]  # what `make run` runs
    started = time.perf_counter()
    done = subprocess.run(command, cwd=checkout, env=make_env(checkout), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    subprocess.run(["git", "checkout", "-q", "--", "params.yaml", "dvc.lock"], cwd=checkout, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: seed {seed} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    test = json.loads((checkout / "metrics/test.json").read_text())
    search = json.loads((checkout / "metrics/search.json").read_text())
    best = json.loads((checkout / "artifacts/best_architecture.json").read_text())
    keep = ["test_accuracy", "test_accuracy_mean", "test_accuracy_sd", "val_test_gap", "gap_noise", "epochs"]
    keep += ["test_accuracy_first_seed", "ensemble_members", "params"]
    return {
        "seed": seed,
        "wall_seconds": round(seconds, 1),
        "best_val_accuracy": search["best_val_accuracy"],
        "candidates": search["candidates"],
        "winner_params": best["params"],
        "promotion_accuracy": test.get("promotion_accuracy"),
        "printed": summary_lines(done.stdout),
    } | {k: test[k] for k in keep if k in test}


def describe(runs: list[dict[str, Any]]) -> dict[str, Any]:
    tests = [r["test_accuracy"] for r in runs]
    walls = [r["wall_seconds"] for r in runs]
    return {
        "median_test_accuracy": statistics.median(tests),
        "min_test_accuracy": min(tests),
        "max_test_accuracy": max(tests),
        "median_wall_seconds": statistics.median(walls),
        "max_wall_seconds": max(walls),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", action="append", required=True, help="LABEL:DIR (repeatable); the last is ours")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/winner_quality.json")
    args = parser.parse_args()
    variants = [(label, Path(folder).resolve()) for label, folder in (text.split(":", 1) for text in args.variant)]
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in variants}
    for n, seed in enumerate(args.seeds):
        for label, checkout in variants if n % 2 == 0 else variants[::-1]:
            runs[label].append(run_once(checkout, seed))
            last = runs[label][-1]
            print(f"seed {seed}: {label}: test {last['test_accuracy']:.4f}, {last['wall_seconds']:.0f} s", flush=True)
    baseline = statistics.median(r["wall_seconds"] for r in runs[variants[0][0]])
    result = {
        "what": "make run (python -m flows.cli run) from a fresh clone's state, one run per search seed",
        "command": "python -m benchmarks.winner_quality --seeds "
        + " ".join(map(str, args.seeds))
        + " "
        + " ".join(f'--variant "{text}"' for text in args.variant),
        "seeds": args.seeds,
        "baseline": variants[0][0],
        "variants": [
            {"label": label, "runs": runs[label]}
            | describe(runs[label])
            | {"wall_ratio_to_baseline": round(describe(runs[label])["median_wall_seconds"] / baseline, 3)}
            for label, _ in variants
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({v["label"]: describe(v["runs"]) for v in result["variants"]}, indent=2))


if __name__ == "__main__":
    main()
