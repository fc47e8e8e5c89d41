"""Progress of a long search: done, failed, running and skipped counts, the best so far, and an ETA.

Three ways to show it, chosen by `make_progress`:
- a live rich display (bar, counts, best architecture, ETA) when stdout is a terminal;
- one log line per candidate through the Prefect logger otherwise (CI, `dvc repro > log`);
- nothing per candidate with `NAS_QUIET=1` (`nas ... --quiet`): only the final summary and errors.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from nas_core.architecture import describe
from nas_core.objectives import Score
from nas_core.results import CandidateResult
from nas_core.search_loop import Candidate, val_score
from nas_core.space import Sample

QUIET_ENV = "NAS_QUIET"


def quiet_requested() -> bool:
    return os.environ.get(QUIET_ENV, "").lower() in ("1", "true", "yes")


class SearchProgress:
    """Counts and the best so far; logs one line per finished candidate (unless quiet).

    The ETA assumes the remaining candidates take the mean wall time per candidate so far.
    """

    def __init__(
        self,
        total: int,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        score: Score | None = None,
        quiet: bool = False,
    ) -> None:
        self.total = total
        self.logger = logger
        self.score: Score = score or val_score
        self.quiet = quiet
        self.started_at = time.perf_counter()
        self.running = 0
        self.done = 0
        self.failed = 0
        self.skipped = 0
        self.best: CandidateResult | None = None

    def started(self, candidate: Candidate) -> None:
        self.running += 1
        if not self.quiet:
            self.logger.info("candidate %d started: %s", candidate.index, describe(candidate.architecture))

    def skipped_over_limit(self, sample: Sample, params: int) -> None:
        """A proposal above `search.max_params`: never trained, not counted in the budget."""
        self.skipped += 1

    def finished(self, candidate: Candidate, result: CandidateResult) -> None:
        self.running = max(0, self.running - 1)
        self.done += 1
        if result.ok:
            score = self.score(result)
            if score is not None and (self.best is None or score > (self.score(self.best) or 0.0)):
                self.best = result
        else:
            self.failed += 1
        if not self.quiet:
            self.report(candidate, result)

    def report(self, candidate: Candidate, result: CandidateResult) -> None:
        self.logger.info(
            "[%d/%d] candidate %d %s | %s | %d failed, %d running, %d skipped | ETA %s",
            self.done,
            self.total,
            candidate.index,
            outcome(result),
            self.best_text(),
            self.failed,
            self.running,
            self.skipped,
            self.eta(),
        )

    def best_text(self) -> str:
        if self.best is None:
            return "no best yet"
        return f"best {self.best.val_accuracy or 0.0:.4f} (#{self.best.index})"

    def eta(self) -> str:
        if self.done == 0:
            return "?"
        elapsed = time.perf_counter() - self.started_at
        seconds = elapsed / self.done * max(0, self.total - self.done)
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"

    def close(self) -> None:
        """Nothing to release for log lines; the live display stops here."""

    def __rich__(self) -> RenderableType:
        """The live display: a bar with the counts and ETA, then the best candidate so far."""
        counts = Table.grid(padding=(0, 1))
        counts.add_row(
            Text("search", style="bold"),
            ProgressBar(total=max(1, self.total), completed=self.done, width=30),
            Text(f"{self.done}/{self.total} done"),
            Text(f"{self.failed} failed", style="red" if self.failed else "dim"),
            Text(f"{self.running} running", style="cyan"),
            Text(f"{self.skipped} skipped (max_params)", style="yellow" if self.skipped else "dim"),
            Text(f"ETA {self.eta()}", style="magenta"),
        )
        if self.best is None:
            best = Text("best so far: none yet", style="dim")
        else:
            best = Text.assemble(
                ("best so far: ", "bold"),
                (f"#{self.best.index} val_acc {self.best.val_accuracy or 0.0:.4f}", "green"),
                f" · {self.best.params or 0:,} params · ",
                (describe(self.best.architecture), "cyan"),
            )
        return Group(counts, best)


def outcome(result: CandidateResult) -> str:
    if not result.ok:
        return f"FAILED: {result.error}"
    text = f"val_acc {result.val_accuracy or 0.0:.4f}, {result.params or 0:,} params, {result.train_seconds:.1f}s"
    return text + (f", {result.latency_ms:.2f} ms" if result.latency_ms is not None else "")


class LiveSearchProgress(SearchProgress):
    """A rich live display in the terminal; each finished candidate also leaves one line above it."""

    def __init__(
        self, total: int, logger: logging.Logger | logging.LoggerAdapter[Any], score: Score | None = None
    ) -> None:
        super().__init__(total, logger, score)
        self.console = Console()
        self._muted = mute_prefect_console()  # Prefect's own lines would tear the live region apart
        self.live = Live(self, console=self.console, refresh_per_second=4, transient=False)
        self.live.start()

    def started(self, candidate: Candidate) -> None:
        self.running += 1

    def report(self, candidate: Candidate, result: CandidateResult) -> None:
        mark = "[green]✓[/]" if result.ok else "[red]✗[/]"
        self.console.print(f"{mark} #{candidate.index:<3d} {outcome(result)}  [dim]{describe(result.architecture)}[/]")

    def close(self) -> None:
        self.live.stop()
        for handler, level in self._muted:
            handler.setLevel(level)


def mute_prefect_console() -> list[tuple[logging.Handler, int]]:
    """Raise Prefect's console handlers to WARNING (logs still reach the Prefect API); returns how to undo it."""
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    muted: list[tuple[logging.Handler, int]] = []
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, PrefectConsoleHandler) and handler.level < logging.WARNING:
                muted.append((handler, handler.level))
                handler.setLevel(logging.WARNING)
    return muted


def make_progress(
    total: int, logger: logging.Logger | logging.LoggerAdapter[Any], score: Score | None = None
) -> SearchProgress:
    """Live display on a terminal, log lines elsewhere, nothing per candidate when quiet."""
    if quiet_requested():
        return SearchProgress(total, logger, score, quiet=True)
    if sys.stdout.isatty() and os.environ.get("TERM", "") != "dumb":
        return LiveSearchProgress(total, logger, score)
    return SearchProgress(total, logger, score)


def count_recovered(progress: SearchProgress, replay: list[tuple[Sample, CandidateResult]]) -> None:
    """Progress lines count recovered candidates as done ("[4/12]"), and know the best so far."""
    score: Callable[[CandidateResult], float | None] = getattr(progress, "score", lambda r: r.score)
    for _, result in replay:
        progress.done += 1
        value = score(result) if result.ok else None
        if not result.ok:
            progress.failed += 1
        elif value is not None and (progress.best is None or value > (score(progress.best) or 0.0)):
            progress.best = result
