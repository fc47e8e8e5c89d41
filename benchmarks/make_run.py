"""Wall time of the default pipeline run (what `make run` does after setup), for several checkouts in one run.

    .venv/bin/python -m benchmarks.make_run --repeats 3 \\
        --variant "early start (3c13052):/tmp/wt-on:dvc repro" \\
        --variant "no early start (3c13052):/tmp/wt-off:dvc repro" \\
        --variant "one server per run:.:python -m flows.cli run --quiet"

Each variant is LABEL:DIR:COMMAND; DIR is a checkout (a `git worktree` of the commit to compare)
and COMMAND runs there as `make run` would, with the same environment the Makefile exports. Every
repeat starts from a clean state (no outputs, no DVC cache, no MLflow store, no Prefect database),
as on a fresh clone, and the variants alternate within a repeat so machine noise hits all of them.
The first variant is the baseline of the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLEAN = (".prefect", "artifacts", "metrics", "models", "data/prepared", "mlflow.db", "mlartifacts", "reports")


@dataclass(frozen=True)
class Variant:
    label: str
    checkout: Path
    command: list[str]

    @classmethod
    def parse(cls, text: str) -> Variant:
        label, checkout, command = text.split(":", 2)
        return cls(label, Path(checkout).resolve(), command.split())


def clean(checkout: Path) -> None:
    """The state of a fresh clone: no outputs, no caches, the committed dvc.lock."""
    for name in CLEAN:
        path = checkout / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    for name in ("cache", "tmp"):
        shutil.rmtree(checkout / ".dvc" / name, ignore_errors=True)
    subprocess.run(["git", "checkout", "-q", "--", "dvc.lock"], cwd=checkout, check=False)


def make_env(checkout: Path) -> dict[str, str]:
    """What the Makefile exports, for this checkout."""
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env |= {
        "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        "PREFECT_HOME": str(checkout / ".prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DVC_NO_ANALYTICS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    return env


def timed_run(variant: Variant) -> float:
    clean(variant.checkout)
    started = time.perf_counter()
    done = subprocess.run(
        variant.command, cwd=variant.checkout, env=make_env(variant.checkout), capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{variant.label}: {' '.join(variant.command)} failed:\n{done.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", action="append", required=True, help="LABEL:DIR:COMMAND (repeatable)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/make_run.json")
    args = parser.parse_args()
    variants = [Variant.parse(text) for text in args.variant]

    seconds: dict[str, list[float]] = {v.label: [] for v in variants}
    for repeat in range(args.repeats):
        order = variants if repeat % 2 == 0 else variants[::-1]
        for variant in order:
            seconds[variant.label].append(round(timed_run(variant), 2))
            print(f"repeat {repeat + 1}: {variant.label}: {seconds[variant.label][-1]:.1f} s", flush=True)

    baseline = statistics.median(seconds[variants[0].label])
    result = {
        "what": "wall seconds of the default pipeline from a clean state (make run after setup)",
        "command": "python -m benchmarks.make_run " + " ".join(f'--variant "{t}"' for t in args.variant),
        "repeats": args.repeats,
        "baseline": variants[0].label,
        "variants": [
            {
                "label": v.label,
                "command": " ".join(v.command),
                "seconds": seconds[v.label],
                "median_seconds": statistics.median(seconds[v.label]),
                "spread_seconds": round(max(seconds[v.label]) - min(seconds[v.label]), 2),
                "ratio_to_baseline": round(statistics.median(seconds[v.label]) / baseline, 3),
            }
            for v in variants
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
