"""A worker reads the prepared data once and builds train+val once, until the data changes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nas_core import worker
from tests.conftest import write_digits_splits


def test_train_and_val_is_built_once_per_data_version(tmp_path: Path) -> None:
    data_dir = write_digits_splits(tmp_path, {"train": 50, "val": 20})
    x, y = worker._train_and_val(str(data_dir))
    assert x.shape == (70, 8, 8, 1) and y.shape == (70,)
    again = worker._train_and_val(str(data_dir))
    assert again[0] is x and again[1] is y  # the cached copy, not a new concatenation per fold
    # New prepared data (a later `prepare`, a new mtime): the cache holds the new arrays only.
    write_digits_splits(tmp_path, {"train": 30, "val": 10})
    stamp = os.path.getmtime(data_dir / "train.npz") + 10
    os.utime(data_dir / "train.npz", (stamp, stamp))
    x_new, y_new = worker._train_and_val(str(data_dir))
    assert x_new.shape == (40, 8, 8, 1) and np.array_equal(y_new[:30], y[:30])
    assert len(worker._DATA_CACHE) == 2  # the new arrays and their train+val
