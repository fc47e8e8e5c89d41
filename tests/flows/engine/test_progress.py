"""What the search shows while it runs: counts, the best by the objective, log lines or quiet, the live panel."""

from __future__ import annotations

import logging

import pytest
from rich.console import Console

from flows.engine.progress import QUIET_ENV, LiveSearchProgress, SearchProgress, make_progress
from nas_core.objectives import Objective
from nas_core.results import COMPLETED, CandidateResult, failed
from nas_core.search_loop import Candidate

ARCH = {
    "conv_blocks": 1,
    "filters_0": 32,
    "kernel_0": 3,
    "pool_0": "max",
    "skip_0": True,
    "dense_layers": 1,
    "units_0": 64,
    "activation": "relu",
    "padding": "same",
    "dropout": 0.0,
    "batch_norm": True,
}


def candidate(index: int) -> Candidate:
    return Candidate(index, ARCH, ARCH, f"k{index}")


def run_through(progress: SearchProgress) -> None:
    """Two candidates started, one finished big and accurate, one small, one failed, two skips."""
    progress.started(candidate(0))
    progress.started(candidate(1))
    progress.skipped_over_limit(ARCH, 10**6)
    progress.skipped_over_limit(ARCH, 10**6)
    progress.finished(candidate(0), CandidateResult("k0", ARCH, COMPLETED, val_accuracy=0.95, params=900_000, index=0))
    progress.finished(candidate(1), CandidateResult("k1", ARCH, COMPLETED, val_accuracy=0.93, params=9_000, index=1))
    progress.started(candidate(2))
    progress.finished(candidate(2), failed("k2", ARCH, "loss became NaN/inf at epoch 1", 2))


def test_log_lines_count_everything_and_the_best_follows_the_objective(caplog: pytest.LogCaptureFixture) -> None:
    progress = SearchProgress(6, logging.getLogger("search"), Objective("accuracy_params", 0.07, 10_000))
    with caplog.at_level(logging.INFO, "search"):
        run_through(progress)
    assert (progress.done, progress.failed, progress.running, progress.skipped) == (3, 1, 0, 2)
    assert progress.best is not None and progress.best.index == 1  # smaller wins under the size trade-off
    last = caplog.records[-1].getMessage()
    assert last.startswith("[3/6] candidate 2 FAILED: loss became NaN/inf")
    assert "best 0.9300 (#1)" in last and "1 failed, 0 running, 2 skipped | ETA " in last


def test_quiet_logs_nothing_per_candidate(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(QUIET_ENV, "1")
    progress = make_progress(6, logging.getLogger("search"))
    with caplog.at_level(logging.DEBUG, "search"):
        run_through(progress)
    assert not caplog.records and progress.done == 3


def test_not_a_terminal_means_log_lines_not_a_live_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(QUIET_ENV, raising=False)
    progress = make_progress(6, logging.getLogger("search"))  # pytest's stdout is not a terminal
    assert type(progress) is SearchProgress and not progress.quiet


def test_the_live_panel_shows_counts_eta_and_the_best_architecture() -> None:
    progress = SearchProgress(6, logging.getLogger("search"))
    run_through(progress)
    console = Console(record=True, width=160, color_system=None)
    console.print(progress)
    text = console.export_text()
    assert "3/6 done" in text and "1 failed" in text and "0 running" in text and "2 skipped (max_params)" in text
    assert "ETA " in text
    assert "best so far: #0 val_acc 0.9500 · 900,000 params · c32k3+skip+max d64 | relu bn" in text


def test_the_live_display_runs_and_stops(capsys: pytest.CaptureFixture[str]) -> None:
    progress = LiveSearchProgress(3, logging.getLogger("search"))
    try:
        run_through(progress)
    finally:
        progress.close()
    shown = capsys.readouterr().out
    assert "✓ #0" in shown and "✗ #2" in shown and "3/3 done" in shown
