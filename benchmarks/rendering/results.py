"""The results files every rendered block reads, and what their accuracies imply about the splits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[1] / "results"
MAX_SPLIT = 20000  # the largest split size looked for behind a set of accuracies


def load_result(name: str) -> Any:
    """benchmarks/results/<name>.json."""
    return json.loads((RESULTS / f"{name}.json").read_text())


def split_size(values: list[float]) -> int | None:
    """The smallest n for which every accuracy is a whole number of n examples (float32 rounding allowed).

    The results files do not record the split sizes; this is what the accuracies themselves imply
    (the split holds n examples, or a multiple of n). None when fewer than three distinct values
    leave the answer open.
    """
    distinct = sorted(set(values))
    if len(distinct) < 3:
        return None
    for n in range(2, MAX_SPLIT + 1):
        if all(abs(v * n - round(v * n)) <= n * 1e-6 for v in distinct):
            return n
    return None
