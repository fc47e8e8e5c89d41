"""Every file a stage reads or writes, relative to the project root (where `dvc repro` runs).

dvc.yaml names the same files; keep the two in step.
"""

from __future__ import annotations

from pathlib import Path

PARAMS = Path("params.yaml")

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
