"""Stage 2, space: the search space of params.yaml on the prepared data, described for the search and for you.

    python -m flows.space [--params params.yaml]

Reads data/prepared/manifest.json, writes artifacts/search_space.json: the space the strategy
searches (the CNN space, the layer-graph space of `graph`, or the reduced cell space of one-shot
and DARTS), its size, and for the CNN space the shape-rule summary that `nas check` prints. The
search stage logs the same record to its MLflow parent run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from flows.engine.space_check import describe_space
from flows.io.artifacts import read_manifest, write_json
from flows.io.params import load_params
from flows.io.paths import PREPARED_DIR, SEARCH_SPACE
from flows.runtime.entry import run_stage
from nas_core.config import NasConfig


@task(name="generate-search-space")
def generate_search_space(cfg: NasConfig, manifest: dict[str, Any]) -> dict[str, Any]:
    return describe_space(cfg, manifest)


@flow(name="nas-space")
def space_flow(params_path: str = "params.yaml", data_dir: str = str(PREPARED_DIR)) -> dict[str, Any]:
    """Describe the space and write artifacts/search_space.json; an impossible space is a `NasError`."""
    cfg = load_params(params_path)
    record = generate_search_space(cfg, read_manifest(Path(data_dir)))
    write_json(SEARCH_SPACE, record)
    size = "unbounded (graphs)" if record["size"] is None else f"{record['size']:,} distinct architectures"
    get_run_logger().info("search space: %s; strategy %s", size, cfg.search.strategy)
    return record


if __name__ == "__main__":
    sys.exit(run_stage(space_flow, __doc__ or ""))
