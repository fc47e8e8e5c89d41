"""How runs are labelled for a person reading the MLflow UI: search run names and the entry point that ran them."""

from __future__ import annotations

import sys
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

FILE_SOURCES = ("npz", "image_folder")  # data.source values whose data.path tells one dataset from another


def dataset_label(config: Mapping[str, Any]) -> str:
    """`digits`, or `npz mnist.npz` / `image_folder flowers`: the source, and the file it read if any."""
    data = config.get("data") or {}
    source = str(data.get("source") or "unknown data")
    path = data.get("path")
    if source in FILE_SOURCES and path:
        return f"{source} {Path(str(path)).name or path}"
    return source


def search_run_name(strategy: str, config: Mapping[str, Any], now: datetime | None = None) -> str:
    """`random · digits · 2026-12-01 04:31`: what searched, on which data, when (local time)."""
    stamp = (now or datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M")
    return f"{strategy} · {dataset_label(config)} · {stamp}"


def unique_run_name(name: str, taken: Collection[str]) -> str:
    """`name`, or `name #2`, `#3`, ... when searches of the same strategy and data started in the same minute."""
    if name not in taken:
        return name
    return next(f"{name} #{n}" for n in range(2, len(taken) + 3) if f"{name} #{n}" not in taken)


def entry_point(fallback: str, argv: Sequence[str] | None = None, main: ModuleType | None = None) -> str:
    """The command that was started: `flows.search` (python -m, as dvc repro runs it), `nas run`, or a script name.

    `fallback` (the stage's module) is used when the process tells nothing (`python -c`), and in the processes
    where Prefect runs a deployment's flow runs (`python -m prefect.engine`, the nightly schedule).
    """
    argv = list(sys.argv if argv is None else argv)
    main = main if main is not None else sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    module = str(getattr(spec, "name", "") or "").removesuffix(".__main__")
    script = Path(argv[0]).name if argv and argv[0] not in ("", "-c", "-m") else ""
    command = next((a for a in argv[1:] if not a.startswith("-")), "")
    if module == "flows.cli" or (not module and script == "nas"):
        return f"nas {command}".strip()  # the CLI: its subcommand says which stage or pipeline
    if module.startswith("prefect."):
        return fallback
    return module or script or fallback


def training_runs_path(uri: str, experiment: str) -> str | None:
    """`#/experiments/<id>/runs?workflowType=machine_learning`: the UI path that opens on the training runs.

    MLflow 3.17's UI opens an experiment on its GenAI overview whatever the experiment's
    `mlflow.experimentKind` tag says (mlflow/mlflow#24498); the `workflowType` parameter picks the
    model-training view. None when the experiment does not exist yet or the store cannot be read.
    """
    from mlflow import MlflowClient

    try:
        found = MlflowClient(tracking_uri=uri).get_experiment_by_name(experiment)
    except Exception:
        return None
    return None if found is None else f"#/experiments/{found.experiment_id}/runs?workflowType=machine_learning"
