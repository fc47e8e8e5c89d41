"""The "Memory over a 200-candidate search" block of BENCHMARKS.md, from benchmarks/memory.py's results file.

Everything in the block is computed from benchmarks/results/memory.json, so a rerun cannot leave a
stale figure behind. The only number typed here is the target of issue 7.
"""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.memory import EARLY_START, WINDOW
from benchmarks.rendering.results import load_result

GROWTH_TARGET = 0.10  # issue 7: the default search's median RSS grows by less than this over the run
# What benchmarks/memory.py counted before it recorded a `counted` field (its code from the first
# version until then): the search process and its descendants, minus any process whose command
# line names uvicorn or the Prefect server.
COUNTED_BEFORE = (
    "the search process and its training workers; Prefect's temporary API server, a child of the search, "
    "was left out (benchmarks/memory.py skipped it until its results recorded what they count)"
)


def _mb(value: float) -> str:
    return f"{value:,.0f} MB"


def _pct(value: float) -> str:
    return f"{100 * value:+.1f} %"


def _window(samples: list[float], start: int) -> list[float]:
    return samples[start : start + WINDOW]


def _recycled(run: dict[str, Any], candidates: int) -> str:
    every = run["recycle_after"]
    return "never" if every >= candidates else f"every {every} candidates"


def _default(runs: dict[str, dict[str, Any]]) -> str:
    """The run with the default recycling: memory.py labels it so, and runs it first."""
    return next((label for label in runs if "default" in label), next(iter(runs)))


def memory() -> str:
    """The table of both runs (windowed medians, peaks, growth), what was counted, and the verdict on the target."""
    data = load_result("memory")
    runs: dict[str, dict[str, Any]] = data["runs"]
    early = f"candidates {EARLY_START + 1}–{EARLY_START + WINDOW}"
    has_peak = all("peak_rss_mb" in run for run in runs.values())
    lines = [
        f"Counted: {data.get('counted', COUNTED_BEFORE)}.",
        "",
        f"| run | workers recycled | median RSS, {early} | median RSS, last {WINDOW} | growth "
        f"| highest sample (candidate) | highest sample, {early} → last {WINDOW} | its growth "
        + ("| peak " if has_peak else "")
        + "| wall time |",
        "|---|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if has_peak else "") + "---:|",
    ]
    for label, run in runs.items():
        samples: list[float] = run["rss_mb_after_each"]
        top = max(samples)
        early_top, late_top = max(_window(samples, EARLY_START)), max(samples[-WINDOW:])
        growth = run["growth_after_20"]
        shown = f"**{_pct(growth)}**" if label == _default(runs) else _pct(growth)
        lines.append(
            f"| {label} | {_recycled(run, len(samples))} | {_mb(run['median_rss_mb_candidates_20_to_40'])} "
            f"| {_mb(run['median_rss_mb_last_20'])} | {shown} | {_mb(top)} ({samples.index(top) + 1}) "
            f"| {_mb(early_top)} → {_mb(late_top)} | {_pct(late_top / early_top - 1)} "
            + (f"| {_mb(run['peak_rss_mb'])} " if has_peak else "")
            + f"| {run['wall_seconds']:.0f} s |"
        )
    lines.append("")
    sampled = (
        f"The highest sample is the largest of the {data['candidates']} per run, one as each candidate's progress line "
        "appears; memory that rises and falls between two samples is not in it."
    )
    if has_peak:
        sampled += (
            f" The peak is the highest total a thread saw, sampling every {data['peak_interval_seconds']} s through "
            "the run (never below the highest sample)."
        )
    lines.append(sampled)
    server = {
        label: run["server_rss_mb_after_each"] for label, run in runs.items() if "server_rss_mb_after_each" in run
    }
    if server:
        shares = "; ".join(
            f"{label}: median {_mb(statistics.median(values[-WINDOW:]))} over the last {WINDOW}"
            for label, values in server.items()
        )
        lines += ["", f"Of the total, Prefect's API server alone: {shares}."]
    default = runs[_default(runs)]
    met = default["growth_after_20"] < GROWTH_TARGET
    lines += [
        "",
        f"**Target** (issue 7: median RSS of the default run grows by less than {100 * GROWTH_TARGET:.0f} % "
        f"from {early} to the last {WINDOW}): **{'met' if met else 'missed'}**, {_pct(default['growth_after_20'])}.",
        "",
    ]
    when = (
        f"Started {data['started']} at commit {data['commit']}"
        if "commit" in data
        else "The results file records no commit or start time (the run predates those fields)"
    )
    lines.append(f"{data['candidates']} candidates per run. {when}. Command: `{data['command']}`")
    return "\n".join(lines) + "\n"
