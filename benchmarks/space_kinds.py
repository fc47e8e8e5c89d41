"""Tables and texts (issue 24): random search against evolution at equal budget, and the winner against a
strong non-NAS baseline trained on the same split.

    .venv/bin/python -m benchmarks.space_kinds --params params/tabular-example.yaml --seeds 0 1 2 \\
        --out benchmarks/results/space_kinds_tabular.json

For every search seed and strategy, the whole pipeline (`python -m flows.pipeline`) runs on the
example params in a scratch project, with `search.seed`, `search.strategy` and the budget below set
and nothing else changed; the score is what the user gets, the retrained winner's test accuracy
in metrics/test.json. Both strategies train the same number of candidates for the same epochs.
Evolution's population is smaller than the budget (`--population`), so that it evolves at all.

The baselines read the same prepared split the searches trained on (data/prepared, written once per
data seed, which stays at the example's): they fit train+val, as the retrain does, and score
test once.
- tabular: scikit-learn's LogisticRegression and HistGradientBoostingClassifier on the encoded rows
  (numbers standardized, categories one-hot: the rows every candidate sees);
- text: TF-IDF of the token ids (unigrams and bigrams) plus LogisticRegression: the same tokens,
  vocabulary and truncation the candidates see.
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

REPO = Path(__file__).resolve().parents[1]


def run_pipeline(params: dict[str, Any], project: Path) -> dict[str, Any]:
    """The pipeline in `project` (a scratch folder; the wheel cache is shared), from a clean state."""
    for name in ("data/prepared", "data/raw/builtin", "metrics", "models", "reports", "artifacts", "mlflow.db"):
        target = project / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = os.environ | {"PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "flows.pipeline", "--params", "params.yaml"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the pipeline failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    test = json.loads((project / "metrics" / "test.json").read_text())
    search = json.loads((project / "metrics" / "search.json").read_text())
    return {
        "test_accuracy": test["test_accuracy"],
        "search_val_accuracy": search["best_val_accuracy"],
        "completed": search["completed"],
        "failed": search["failed"],
        "params": test["params"],
        "wall_seconds": round(wall, 1),
    }


def prepared(project: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    splits = {}
    for name in ("train", "val", "test"):
        with np.load(project / "data" / "prepared" / f"{name}.npz", allow_pickle=False) as data:
            splits[name] = (data["x"], data["y"])
    return splits


def baselines(kind: str, splits: dict[str, tuple[np.ndarray, np.ndarray]], seed: int) -> dict[str, float]:
    """Test accuracy of the non-NAS baselines, fitted on train+val of the prepared split."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([splits["train"][0], splits["val"][0]])
    y = np.concatenate([splits["train"][1], splits["val"][1]])
    x_test, y_test = splits["test"]
    if kind == "tabular":
        logistic = LogisticRegression(max_iter=2000).fit(x, y)
        boosted = HistGradientBoostingClassifier(random_state=seed).fit(x, y)
        return {
            "logistic_regression": float(logistic.score(x_test, y_test)),
            "hist_gradient_boosting": float(boosted.score(x_test, y_test)),
        }

    def documents(ids: np.ndarray) -> list[str]:
        return [" ".join(f"t{i}" for i in row if i != 0) for row in ids]

    tfidf = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"\S+", sublinear_tf=True)
    features = tfidf.fit_transform(documents(x))
    logistic = LogisticRegression(max_iter=2000, C=4.0).fit(features, y)
    return {"tfidf_logistic_regression": float(logistic.score(tfidf.transform(documents(x_test)), y_test))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, required=True, help="an example params file (tabular or text)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--strategies", nargs="+", default=["random", "evolution"])
    parser.add_argument("--candidates", type=int, default=16, help="the budget of every search")
    parser.add_argument("--population", type=int, default=6, help="evolution's population (sample size 3)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    base = yaml.safe_load((REPO / args.params).read_text())
    kind = {"mlp": "tabular", "text": "text"}[base["space"]["kind"]]
    cache = REPO / "data" / "external"
    runs: list[dict[str, Any]] = []
    found: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="space-kinds-") as scratch:
        project = Path(scratch)
        (project / "data").mkdir()
        cache.mkdir(parents=True, exist_ok=True)
        (project / "data" / "external").symlink_to(cache)  # the wheels' data files, downloaded once
        for seed in args.seeds:
            for strategy in args.strategies:  # alternated within a seed, so drift hits both
                params = json.loads(json.dumps(base))
                search = params.setdefault("search", {})
                search |= {"seed": seed, "strategy": strategy, "max_candidates": args.candidates}
                search["strategy_options"] = (
                    {"population_size": args.population, "sample_size": 3} if strategy == "evolution" else {}
                )
                result = run_pipeline(params, project) | {"seed": seed, "strategy": strategy}
                runs.append(result)
                print(json.dumps(result), flush=True)
            if not found:  # the split is the example's (data.seed), the same for every search seed
                found = baselines(kind, prepared(project), 0)
                print(json.dumps({"baselines": found}), flush=True)
    summary = {
        strategy: statistics.median(r["test_accuracy"] for r in runs if r["strategy"] == strategy)
        for strategy in args.strategies
    }
    record = {
        "kind": kind,
        "params": str(args.params),
        "seeds": args.seeds,
        "candidates": args.candidates,
        "population": args.population,
        "epochs": base["train"]["epochs"],
        "runs": runs,
        "median_test_accuracy": summary,
        "baselines": found,
        "command": " ".join(["python -m benchmarks.space_kinds", *sys.argv[1:]]),
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
