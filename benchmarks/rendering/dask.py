"""The Dask cluster blocks of BENCHMARKS.md: the data's way to the workers, and their memory over a long search.

Every figure comes from benchmarks/results/dask_data.json, dask_memory.json and (for the thread
executor next to it) memory.json.
"""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.memory import EARLY_START, WINDOW
from benchmarks.rendering.results import load_result

WAYS = {
    "plugin": "worker plugin (what the search does), both workers",
    "plugin_restarted_worker": "worker plugin, again for one worker that restarts",
    "scatter": "`scatter(broadcast=True)`, both workers",
    "shared_disk": "shared disk: both workers read the .npz files (baseline)",
}


def dask_data() -> str:
    data = load_result("dask_data")
    repeats: list[dict[str, float]] = data["repeats"]
    lines = [
        "| way | median (each repeat) | ratio to the shared disk's read, median |",
        "|---|---:|---:|",
    ]
    for key, label in WAYS.items():
        seconds = [r[key] for r in repeats]
        ratio = statistics.median(r[key] / r["shared_disk"] for r in repeats)
        each = ", ".join(f"{s:.2f}" for s in seconds)
        lines.append(f"| {label} | {statistics.median(seconds):.2f} s ({each}) | {ratio:.1f}× |")
    held = statistics.median(r["scheduler_mb"] for r in repeats)
    lines += [
        "",
        f"{data['data_mb']:.0f} MB of train and val, {data['workers']} workers, {data['cores']} cores, "
        f"{len(repeats)} repeats, each on a fresh cluster. The scheduler's memory grew by {held:.0f} MB "
        f"(median) while the plugin was registered. Commit {data['commit']}. Command: `{data['command']}`",
    ]
    return "\n".join(lines) + "\n"


def _mb(value: float) -> str:
    return f"{value:,.0f} MB"


def _pct(value: float) -> str:
    return f"{100 * value:+.1f} %"


def dask_memory() -> str:
    data = load_result("dask_memory")
    threads = load_result("memory")
    early = f"candidates {EARLY_START + 1}–{EARLY_START + WINDOW}"
    lines = [
        f"| executor | workers recycled | workers: median RSS, {early} → last {WINDOW} | workers' growth "
        f"| everything: median RSS, {early} → last {WINDOW} | its growth | peak of everything | wall time |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    runs: dict[str, dict[str, Any]] = data["runs"]
    for run in runs.values():
        recycled = "never" if run["recycle_after"] >= data["candidates"] else f"every {run['recycle_after']}"
        lines.append(
            f"| Dask, 2 workers | {recycled} | {_mb(run['median_worker_rss_mb_candidates_20_to_40'])} → "
            f"{_mb(run['median_worker_rss_mb_last_20'])} | **{_pct(run['worker_growth_after_20'])}** "
            f"| {_mb(run['median_rss_mb_candidates_20_to_40'])} → {_mb(run['median_rss_mb_last_20'])} "
            f"| {_pct(run['growth_after_20'])} | {_mb(run['peak_rss_mb'])} | {run['wall_seconds']:.0f} s |"
        )
    for run in threads["runs"].values():
        recycled = "never" if run["recycle_after"] >= threads["candidates"] else f"every {run['recycle_after']}"
        lines.append(
            f"| threads (memory.py, commit {threads['commit']}) | {recycled} | | "
            f"| {_mb(run['median_rss_mb_candidates_20_to_40'])} → {_mb(run['median_rss_mb_last_20'])} "
            f"| {_pct(run['growth_after_20'])} | {_mb(run['peak_rss_mb'])} | {run['wall_seconds']:.0f} s |"
        )
    recycled_run = next((r for r in runs.values() if r["recycle_after"] < data["candidates"]), None)
    kept_run = next((r for r in runs.values() if r["recycle_after"] >= data["candidates"]), None)
    if recycled_run and kept_run:
        every = recycled_run["recycle_after"]
        ratio = recycled_run["wall_seconds"] / kept_run["wall_seconds"]
        lines += [
            "",
            f"The price of recycling on Dask: a wall time {ratio:.2f}× that of never recycling, for about "
            f"{data['candidates'] // every} worker restarts (one per {every} trainings), each importing TensorFlow "
            "again before that worker's next candidate can start (the thread executor starts its next pool "
            "while the last candidates train; a Dask worker restarts only once idle).",
        ]
    lines += [
        "",
        f"{data['candidates']} candidates per run, the same ones on every row. Counted for Dask: {data['counted']}. "
        f"Counted for threads: {threads['counted']}. Dask commit {data['commit']}. Command: `{data['command']}`",
    ]
    return "\n".join(lines) + "\n"
