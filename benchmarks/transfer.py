"""Transfer to new data: an MNIST search warm-started from a digits search against a cold start (issue 19).

    .venv/bin/python -m benchmarks.transfer [--seeds 0 1 2 3 4] [--candidates 8] [--limit 3000]

One digits search with the repository's params.yaml (12 candidates, random search) is the source.
Then, for each search seed, two searches of `--candidates` candidates on real MNIST (`--limit`
examples, the same prepared split for all): cold, and warm with `search.warm_start.from` naming the
digits experiment, which hands its top 5 architectures over as the first candidates. Everything
else is the default params.yaml. Each search logs to its own experiment, so no search sees another
seed's history. Read back: the best val accuracy after each candidate (artifacts/search_results.json, in
the order they were proposed), median over seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]


def write_params(path: Path, overrides: dict[str, dict[str, Any]]) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, values in overrides.items():
        params[section] |= values
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def stage(work: Path, name: str, params: Path) -> None:
    env = os.environ | {"PREFECT_HOME": str(work / ".prefect"), "PYTHONPATH": str(REPO)}
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "300"  # pyproject.toml is not read here
    env.pop("PREFECT_API_URL", None)
    command = [sys.executable, "-m", f"flows.{name}", "--params", str(params)]
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")


def best_so_far(work: Path) -> list[float]:
    """Best val accuracy after each candidate, in the order they were proposed (a failed one scores 0)."""
    results = json.loads((work / "artifacts/search_results.json").read_text())
    curve, best = [], 0.0
    for result in sorted(results, key=lambda r: int(r["index"])):
        best = max(best, float(result.get("val_accuracy") or 0.0))
        curve.append(round(best, 4))
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--limit", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/transfer.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="transfer-") as scratch:
        root = Path(scratch)
        tracking = {"uri": f"sqlite:///{root / 'mlflow.db'}"}
        source_dir, target_dir = root / "digits", root / "mnist"
        source_dir.mkdir()
        target_dir.mkdir()
        source = write_params(source_dir / "params.yaml", {"tracking": tracking | {"experiment": "digits"}})
        for name in ("prepare", "space", "search"):
            stage(source_dir, name, source)
        source_best = json.loads((source_dir / "metrics/search.json").read_text())["best_val_accuracy"]
        print(f"source: digits search, best val {source_best}", flush=True)

        mnist = {"data": {"source": "mnist", "limit": args.limit}}
        shared = write_params(target_dir / "params.yaml", mnist | {"tracking": tracking})
        stage(target_dir, "prepare", shared)
        stage(target_dir, "space", shared)
        curves: dict[str, list[list[float]]] = {"cold": [], "warm": []}
        for seed in args.seeds:
            for variant in ("cold", "warm") if seed % 2 == 0 else ("warm", "cold"):
                warm = {"enabled": True, "from": "digits", "top_k": 5} if variant == "warm" else {"enabled": False}
                search = {"seed": seed, "max_candidates": args.candidates, "warm_start": warm}
                experiment = {"experiment": f"mnist-{variant}-seed{seed}"}
                params = write_params(
                    target_dir / f"{variant}-{seed}.yaml", mnist | {"search": search, "tracking": tracking | experiment}
                )
                stage(target_dir, "search", params)
                curves[variant].append(best_so_far(target_dir))
                print(f"seed {seed} {variant}: {curves[variant][-1]}", flush=True)

    def median_curve(runs: list[list[float]]) -> list[float]:
        return [round(statistics.median(run[k] for run in runs), 4) for k in range(min(map(len, runs)))]

    finals = {v: [run[-1] for run in curves[v]] for v in curves}
    wins = sum(w > c for w, c in zip(finals["warm"], finals["cold"], strict=True))
    result = {
        "what": f"best val accuracy after each of {args.candidates} candidates on MNIST ({args.limit} examples), "
        "warm-started from a digits search (top 5) or cold; default params otherwise",
        "command": f"python -m benchmarks.transfer --seeds {' '.join(map(str, args.seeds))} "
        f"--candidates {args.candidates} --limit {args.limit}",
        "source_best_val_accuracy": source_best,
        "seeds": args.seeds,
        "curves": curves,
        "median_curve": {v: median_curve(curves[v]) for v in curves},
        "final": {
            v: {"median": statistics.median(finals[v]), "min": min(finals[v]), "max": max(finals[v])} for v in finals
        },
        "warm_better_seeds": wins,
        "ties": sum(w == c for w, c in zip(finals["warm"], finals["cold"], strict=True)),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "curves"}, indent=2))


if __name__ == "__main__":
    main()
