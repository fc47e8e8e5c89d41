"""Print where the winner is, how good it is, and how to look at every candidate (end of `make run`)."""

from __future__ import annotations

import json
import sys

from flows.io.paths import SEARCH_METRICS, TEST_METRICS


def main() -> int:
    test_path, search_path = TEST_METRICS, SEARCH_METRICS
    if not test_path.is_file():
        print("No results yet: run `make run` (or `dvc repro`) first.", file=sys.stderr)
        return 1
    test = json.loads(test_path.read_text())
    search = json.loads(search_path.read_text()) if search_path.is_file() else {}
    print()
    print(f"Winner model:   models/winner.keras ({test['params']:,} parameters)")
    print(
        f"Test accuracy:  {test['test_accuracy']:.4f}  (val accuracy in the search: {test['search_val_accuracy']:.4f})"
    )
    if search:
        print(
            f"Search:         {search['candidates']} candidates, {search['failed']} failed, "
            f"{search['wall_seconds']:.0f}s wall time"
        )
    status = "now the champion" if test.get("champion", True) else "not better than the champion, alias unchanged"
    print(f"Registered as:  {test['registered_model']} version {test['model_version']} ({status})")
    print("Every candidate: make ui, then open http://127.0.0.1:5000")
    return 0


if __name__ == "__main__":
    sys.exit(main())
