"""Five warm-started nights of 12 candidates against one 60-candidate search, on digits (issue 19).

    .venv/bin/python -m benchmarks.nightly [--seeds 0 1 2] [--nights 5] [--out FILE] [--merge]

`--merge` keeps the seeds of an earlier results file that this run does not measure (one seed is
about 35 minutes on the 2-core machine, so seeds can be run one at a time).

For each search seed, in two scratch folders that start empty:
- nights: `python -m flows.pipeline` `--nights` times with the repository's params.yaml,
  `search.seed` set and `search.warm_start: true` (what a scheduled run does by default). Each night
  is a whole pipeline run: prepare, space, search, retrain and the champion rule.
- single: the same params with `search.max_candidates` = nights x 12 and no warm start, run once.
Equal work: both train nights x 12 candidates in all. Read back per night: the candidates it trained
(from MLflow), how many of them an earlier night had trained (must be 0), the best val accuracy so
far, and the champion's promotion score (3-fold cross-validation on train+val, what the champion
rule compares) and test accuracy. "Within noise" compares the champions' promotion scores with the
95% noise of a difference of two accuracies on that many examples (nas_core.uncertainty).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from mlflow import MlflowClient

from nas_core.uncertainty import difference_noise, standard_error

REPO = Path(__file__).resolve().parents[1]
PER_NIGHT = 12


def write_params(work: Path, seed: int, candidates: int, warm: bool) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["search"] |= {"seed": seed, "max_candidates": candidates, "warm_start": {"enabled": warm}}
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def run_pipeline(work: Path) -> float:
    """One whole pipeline run in `work`, as the nightly deployment runs it; its wall seconds."""
    env = os.environ | {"PREFECT_HOME": str(work / ".prefect"), "PYTHONPATH": str(REPO)}
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "300"  # pyproject.toml is not read here
    env.pop("PREFECT_API_URL", None)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flows.pipeline"], cwd=work, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{work}: the pipeline failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def searches(work: Path) -> tuple[MlflowClient, list[Any]]:
    client = MlflowClient(tracking_uri=f"sqlite:///{work / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("nas")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], "tags.`nas.kind` = 'search'")
    return client, sorted(runs, key=lambda r: r.info.start_time)


def trained_keys(client: MlflowClient, search: Any) -> list[str]:
    query = f"tags.`mlflow.parentRunId` = '{search.info.run_id}' and tags.`nas.kind` = 'candidate'"
    return [r.data.tags["nas.candidate_hash"] for r in client.search_runs([search.info.experiment_id], query)]


def promotion_examples(work: Path) -> int:
    """The promotion score is cross-validated on train+val: that many examples."""
    return sum(len(np.load(work / "data/prepared" / f"{split}.npz")["y"]) for split in ("train", "val"))


def champion_after(test: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """The champion once a night's champion rule has run: this night's model, or the one before."""
    if test["champion"] or previous is None:
        return {"promotion_accuracy": test["promotion_accuracy"], "test_accuracy": test["test_accuracy"]}
    return previous | {"promotion_accuracy": test["previous_champion_promotion_accuracy"]}


def run_nights(work: Path, seed: int, nights: int) -> dict[str, Any]:
    write_params(work, seed, PER_NIGHT, warm=True)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    champion: dict[str, Any] | None = None
    for night in range(1, nights + 1):
        seconds = run_pipeline(work)
        client, runs = searches(work)
        keys = trained_keys(client, runs[-1])
        search = json.loads((work / "metrics/search.json").read_text())
        test = json.loads((work / "metrics/test.json").read_text())
        champion = champion_after(test, champion)
        rows.append(
            {
                "night": night,
                "search_seed": search["search_seed"],
                "trained": len(keys),
                "trained_before": len(seen & set(keys)),
                "reused": search["reused_candidates"],
                "best_val_accuracy_so_far": search["best_val_accuracy"],
                "best_val_loss_so_far": search["best_val_loss"],
                "winner_from_history": search.get("winner_from_history", False),
                "champion_promotion_accuracy": champion["promotion_accuracy"],
                "champion_test_accuracy": champion["test_accuracy"],
                "promotion_examples": promotion_examples(work),
                "wall_seconds": round(seconds, 1),
            }
        )
        seen |= set(keys)
        print(f"seed {seed} night {night}: {json.dumps(rows[-1])}", flush=True)
    return {"nights": rows, "distinct_trained": len(seen)}


def run_single(work: Path, seed: int, candidates: int) -> dict[str, Any]:
    write_params(work, seed, candidates, warm=False)
    seconds = run_pipeline(work)
    search = json.loads((work / "metrics/search.json").read_text())
    test = json.loads((work / "metrics/test.json").read_text())
    row = {
        "candidates": search["candidates"],
        "best_val_accuracy": search["best_val_accuracy"],
        "best_val_loss": search["best_val_loss"],
        "promotion_accuracy": test["promotion_accuracy"],
        "test_accuracy": test["test_accuracy"],
        "promotion_examples": promotion_examples(work),
        "wall_seconds": round(seconds, 1),
    }
    print(f"seed {seed} single: {json.dumps(row)}", flush=True)
    return row


def compare(last: dict[str, Any], single: dict[str, Any]) -> dict[str, Any]:
    """The nights' final champion against the single search's winner, on the promotion score."""
    n = int(single["promotion_examples"])
    a, b = last["champion_promotion_accuracy"], single["promotion_accuracy"]
    noise = difference_noise(standard_error(a, n), standard_error(b, n))
    return {"difference": round(a - b, 4), "noise": round(noise, 4), "within_noise": abs(a - b) <= noise}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--nights", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/nightly.json")
    parser.add_argument("--merge", action="store_true", help="keep the other seeds of an earlier --out")
    args = parser.parse_args()
    earlier = json.loads(args.out.read_text()) if args.merge and args.out.exists() else {"seeds": []}
    kept = [s for s in earlier["seeds"] if s["seed"] not in args.seeds]
    per_seed = list(kept)
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix="nightly-") as scratch:
            nights_dir, single_dir = Path(scratch, "nights"), Path(scratch, "single")
            nights_dir.mkdir()
            single_dir.mkdir()
            nights = run_nights(nights_dir, seed, args.nights)
            single = run_single(single_dir, seed, args.nights * PER_NIGHT)
            shutil.rmtree(scratch, ignore_errors=True)
        per_seed.append({"seed": seed, **nights, "single": single, "final": compare(nights["nights"][-1], single)})
    per_seed.sort(key=lambda s: s["seed"])
    command = f"python -m benchmarks.nightly --seeds {' '.join(map(str, args.seeds))} --nights {args.nights}"
    finals = [s["final"]["difference"] for s in per_seed]
    result = {
        "what": f"{args.nights} warm-started nights of {PER_NIGHT} candidates vs one search of "
        f"{args.nights * PER_NIGHT}, digits, default params.yaml otherwise",
        "command": f"{earlier['command']}; then {command} --merge" if kept else command,
        "seeds": per_seed,
        "trained_twice": sum(row["trained_before"] for s in per_seed for row in s["nights"]),
        "median_difference": statistics.median(finals),
        "within_noise": sum(s["final"]["within_noise"] for s in per_seed),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "seeds"}, indent=2))


if __name__ == "__main__":
    main()
