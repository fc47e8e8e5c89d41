"""`nas compare A B`: two searches found in MLflow by run id, run-id prefix or run name, read back, and compared.

A run name need not be unique (MLflow does not require it, and two searches of one strategy on
one day may share one), so a name or prefix that matches several searches is an error that lists
them, never a guess.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from flows.io.paths import REPORTS_DIR
from flows.reports.compare import ComparedSearch, write_comparison
from flows.tracking.schema import (
    DATA_DVC_MD5_TAG,
    DATASET_HASH_TAG,
    KIND_SEARCH,
    KIND_TAG,
    SEARCH_SEED_TAG,
    STRATEGY_TAG,
)
from flows.tracking.search_record import load_search, search_runs, started_at
from nas_core.errors import NasError

LISTED = 8  # searches named in an error message; more would bury the message


def describe_run(run: Any) -> str:
    """One search in an error message: short id, name, strategy, start."""
    strategy = run.data.tags.get(STRATEGY_TAG, "?")
    return f"{run.info.run_id[:8]} '{run.info.run_name}' ({strategy}, {started_at(run.info.start_time)})"


def listing(runs: list[Any]) -> str:
    shown = "; ".join(describe_run(run) for run in runs[:LISTED])
    return shown + (f"; and {len(runs) - LISTED} more" if len(runs) > LISTED else "")


def find_search(client: MlflowClient, experiment_id: str, ref: str, which: str) -> Any:
    """The search parent run that `ref` names: its run id, a unique prefix of it, or its unique run name."""
    ref = ref.strip()
    if not ref:
        raise NasError(f"{which}: give a search's MLflow run id, a prefix of it, or its run name")
    searches = search_runs(client, experiment_id)
    matches = {run.info.run_id: run for run in searches if run.info.run_name == ref}
    matches |= {run.info.run_id: run for run in searches if run.info.run_id.startswith(ref.lower())}
    if ref in matches:  # a whole run id wins over a name that happens to equal it
        return matches[ref]
    if len(matches) == 1:
        return next(iter(matches.values()))
    if matches:
        raise NasError(
            f"{which}: '{ref}' matches {len(matches)} searches: {listing(list(matches.values()))}. "
            "Give more of the run id"
        )
    elsewhere = _search_in_another_experiment(client, ref)
    if elsewhere is not None:
        return elsewhere
    experiment = client.get_experiment(experiment_id).name
    latest = f"; the latest: {listing(searches)}" if searches else "; it has no search yet (run `nas search`)"
    raise NasError(
        f"{which}: no search named '{ref}' or with a run id starting '{ref}' in experiment '{experiment}'{latest}"
    )


def _search_in_another_experiment(client: MlflowClient, run_id: str) -> Any | None:
    """A whole run id is enough to find a search outside tracking.experiment."""
    if len(run_id) != 32:
        return None
    try:
        run = client.get_run(run_id)
    except Exception:
        return None
    return run if run.data.tags.get(KIND_TAG) == KIND_SEARCH else None


def load_compared(client: MlflowClient, run: Any, manifest: dict[str, Any] | None = None) -> ComparedSearch:
    """One search as the comparison needs it: its report data, and what names its data and seed."""
    tags, params = run.data.tags, run.data.params
    return ComparedSearch(
        data=load_search(client, run.info.run_id, manifest),
        name=run.info.run_name or "",
        data_source=params.get("data.source", ""),
        dataset_hash=tags.get(DATASET_HASH_TAG) or params.get("dataset_hash", ""),
        data_md5=tags.get(DATA_DVC_MD5_TAG, ""),
        seed=tags.get(SEARCH_SEED_TAG) or params.get("search.seed", ""),
    )


def compare_searches(
    client: MlflowClient,
    experiment_id: str,
    ref_a: str,
    ref_b: str,
    out: Path | None = None,
    manifest: dict[str, Any] | None = None,
) -> Path:
    """`nas compare A B`: the page (default reports/compare-<A8>-<B8>/index.html; `out`: a folder or an .html)."""
    a = find_search(client, experiment_id, ref_a, "A")
    b = find_search(client, experiment_id, ref_b, "B")
    if a.info.run_id == b.info.run_id:
        raise NasError(f"B: '{ref_b}' is the same search as A ({describe_run(a)}); compare two different searches")
    if out is None:
        out = REPORTS_DIR / f"compare-{a.info.run_id[:8]}-{b.info.run_id[:8]}"
    folder, page = (out.parent, out.name) if out.suffix == ".html" else (out, "index.html")
    return write_comparison(load_compared(client, a, manifest), load_compared(client, b, manifest), folder, page)
