"""Stage 1, prepare: load the dataset named in params.yaml, split and scale it, write it with a manifest.

    python -m flows.prepare [--params params.yaml]

Writes data/prepared/{train,val,test}.npz and data/prepared/manifest.json (shapes, class
counts, content hash). It reads a built-in source from data/raw/builtin/<name>.npz, which the raw
stage (`flows/raw.py`) writes before it; run outside `dvc repro`, with no such file, it writes the
file itself with the raw stage's function and says so. User datasets live under data/raw/ too,
each versioned by its own .dvc file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from flows.io.builtin_data import describe_origin, ensure_builtin, is_builtin
from flows.io.datasets import load_dataset
from flows.io.params import load_params
from flows.io.paths import PREPARED_DIR
from flows.io.tables import corpus_splits, table_splits
from flows.runtime.entry import run_stage
from nas_core.config import DataConfig
from nas_core.data import split_and_scale
from nas_core.prepared import manifest, write_splits


@task(name="load-and-split")
def prepare_dataset(cfg: DataConfig, root: Path, out_dir: Path) -> dict[str, Any]:
    if is_builtin(cfg.source):
        written = ensure_builtin(cfg.source, root)
        if written is not None:
            get_run_logger().info(
                "%s was missing (a run outside `dvc repro`, which runs the raw stage first): wrote it from %s",
                written["file"],
                describe_origin(written),
            )
    if cfg.kind == "image":
        x, y = load_dataset(cfg, root)
        splits = split_and_scale(x, y, cfg.val_fraction, cfg.test_fraction, cfg.seed)
        info = manifest(splits, cfg.source)
    else:
        splits, extras = (table_splits if cfg.kind == "tabular" else corpus_splits)(cfg, root)
        info = manifest(splits, cfg.source, cfg.kind, **extras)
    write_splits(splits, info, out_dir)
    return info


@flow(name="nas-prepare")
def prepare_flow(params_path: str = "params.yaml", out_dir: str = str(PREPARED_DIR)) -> dict[str, Any]:
    """Validate params first (nothing is written on a bad config), then prepare the data."""
    cfg = load_params(params_path)
    info = prepare_dataset(cfg.data, Path.cwd(), Path(out_dir))
    get_run_logger().info(
        "prepared %s: input shape %s, %d classes, hash %s",
        cfg.data.source,
        info["input_shape"],
        info["num_classes"],
        info["content_hash"][:12],
    )
    return info


if __name__ == "__main__":
    sys.exit(run_stage(prepare_flow, __doc__ or ""))
