"""Print where the winner is, how good it is, and how to look at every candidate (end of `make run`)."""

from __future__ import annotations

import json
import sys
from typing import Any

from flows.io.paths import BEST_ARCHITECTURE, REPORTS_DIR, SEARCH_METRICS, TEST_METRICS


def print_search(summary: dict[str, Any]) -> None:
    """After `nas search`: what the search found, and where its report is (printed even in quiet mode)."""
    best = summary.get("best_val_accuracy")
    skipped = summary.get("skipped_over_max_params", 0)
    print(
        f"search: {summary.get('candidates', 0)} candidates, {summary.get('failed', 0)} failed"
        + (f", {skipped} skipped over search.max_params" if skipped else "")
        + (
            f"; best val accuracy {best:.4f} (#{summary.get('best_candidate')}, "
            f"{summary.get('best_params') or 0:,} params)"
            if best is not None
            else ""
        )
    )
    if BEST_ARCHITECTURE.is_file():
        page = REPORTS_DIR / json.loads(BEST_ARCHITECTURE.read_text()).get("search_run_id", "") / "index.html"
        if page.is_file():
            print(f"report: {page}")


def print_results() -> int:
    """After the whole pipeline: the winner, its test accuracy and where to look further."""
    test_path, search_path = TEST_METRICS, SEARCH_METRICS
    if not test_path.is_file():
        print("No results yet: run `make run` (or `dvc repro`) first.", file=sys.stderr)
        return 1
    test = json.loads(test_path.read_text())
    search = json.loads(search_path.read_text()) if search_path.is_file() else {}
    print()
    for line in results_lines(test, search):
        print(line)
    return 0


def model_size(test: dict[str, Any]) -> str:
    """ "77,706 parameters", or "3 seeds × 77,706 parameters" for the retrain's ensemble."""
    members = int(test.get("ensemble_members", 1))
    if members > 1:
        return f"{members} seeds × {test['params'] // members:,} parameters"
    return f"{test['params']:,} parameters"


def results_lines(test: dict[str, Any], search: dict[str, Any]) -> list[str]:
    """The summary from metrics/test.json and metrics/search.json: also README's sample, rendered from the
    committed metrics/ of a fresh clone's run (benchmarks/render.py), so the two cannot differ."""
    seeds = test.get("retrain_seeds", 1)
    alone = f"{test['test_accuracy_mean']:.4f} ± {test['test_accuracy_sd']:.4f}" if seeds > 1 else ""
    if seeds > 1 and test.get("ensemble_members", 1) > 1:
        spread = f", {seeds} seeds averaged into one model; each alone {alone}"
    else:
        spread = f", {seeds} seeds: {alone}" if seeds > 1 else ""
    lines = [
        f"Winner model:   models/winner.keras ({model_size(test)})",
        f"Test accuracy:  {test['test_accuracy']:.4f}  ({test['test_examples']} images{spread})",
    ]
    if "val_test_gap" in test:
        verdict = "beyond the noise" if test["gap_beyond_noise"] else "within the noise"
        lines.append(
            f"Search val:     {test['search_val_accuracy']:.4f}  (gap to test {test['val_test_gap']:+.4f}, "
            f"{verdict} of ±{test['gap_noise']:.4f})"
        )
    lines.append(
        f"Promotion:      {test['promotion_accuracy']:.4f}  "
        f"({len(test['promotion_fold_accuracies'])}-fold cross-validation on train+val; the champion rule's score)"
    )
    if search:
        rescored = len(search.get("reevaluated") or [])
        chosen = f"; the winner is the best of the top {rescored} by that cross-validation" if rescored else ""
        lines.append(
            f"Search:         {search['candidates']} candidates, {search['failed']} failed, "
            f"{search['wall_seconds']:.0f}s wall time{chosen}"
        )
    status = "now the champion" if test["champion"] else "promotion score below the champion's, alias unchanged"
    lines.append(f"Registered as:  {test['registered_model']} version {test['model_version']} ({status})")
    lines.append("Every candidate: make ui, then open http://127.0.0.1:5000")
    return lines


if __name__ == "__main__":
    sys.exit(print_results())
