"""The first stage, raw: make the dataset a search uses a DVC-tracked file.

    python -m flows.raw [--params params.yaml]

Reads `data.source` (and `data.path`) only. Its one output is the folder data/raw/builtin:

- a built-in source (digits, mnist, keras:*) is written whole, before `data.limit`, as
  data/raw/builtin/<name>.npz (arrays x and y), with data/raw/builtin/source.json: the source,
  where it came from (package and version, or URLs), the file's sha256, its shape and classes;
- a user's source (npz, image_folder) stays where data.path says, versioned by its own .dvc file
  (`nas data add`, or `dvc add`); only source.json is written, saying so.

The output is the same folder whatever the source, not one file per source, so that it is one
output of one stage: DVC's run cache keeps each source's folder, and switching `data.source`
back to a source used before restores its file from the cache instead of fetching it again.
The prepare stage depends on data/raw, which holds this folder and the user's datasets.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from flows.io.builtin_data import describe_origin, is_builtin, write_raw
from flows.io.params import load_params
from flows.io.paths import SOURCE_RECORD
from flows.runtime.entry import run_stage
from nas_core.config import DataConfig


@task(name="write-raw-data")
def write_raw_data(cfg: DataConfig, root: Path) -> dict[str, Any]:
    return write_raw(cfg, root)


@flow(name="nas-raw")
def raw_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    """Validate params first (nothing is written on a bad config), then write data/raw/builtin."""
    cfg = load_params(params_path)
    record = write_raw_data(cfg.data, Path.cwd())
    log = get_run_logger()
    if is_builtin(cfg.data.source):
        shape = f"x {tuple(record['x_shape'])}, {record['num_classes']} classes" if "x_shape" in record else None
        log.info(
            "raw %s: %s, %s, from %s, sha256 %s",
            cfg.data.source,
            record["file"],
            shape or f"{record['examples']} rows",
            describe_origin(record),
            record["sha256"][:12],
        )
    else:
        log.info("raw %s: %s (%s); %s written", cfg.data.source, record["path"], record["note"], SOURCE_RECORD)
    return record


if __name__ == "__main__":
    sys.exit(run_stage(raw_flow, __doc__ or ""))
