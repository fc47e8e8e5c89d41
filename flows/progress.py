"""Progress lines for a long search: done, failed and running counts, the best so far, and an ETA."""

from __future__ import annotations

import logging
import time
from typing import Any

from nas_core.architecture import describe
from nas_core.results import CandidateResult
from nas_core.search_loop import Candidate


class SearchProgress:
    """Logs one line per finished candidate; the ETA assumes the remaining ones take the mean time so far."""

    def __init__(self, total: int, logger: logging.Logger | logging.LoggerAdapter[Any]) -> None:
        self.total = total
        self.logger = logger
        self.started_at = time.perf_counter()
        self.running = 0
        self.done = 0
        self.failed = 0
        self.best: CandidateResult | None = None

    def started(self, candidate: Candidate) -> None:
        self.running += 1
        self.logger.info("candidate %d started: %s", candidate.index, describe(candidate.architecture))

    def finished(self, candidate: Candidate, result: CandidateResult) -> None:
        self.running = max(0, self.running - 1)
        self.done += 1
        if result.ok:
            if self.best is None or (result.score or 0.0) > (self.best.score or 0.0):
                self.best = result
            outcome = f"val_acc {result.val_accuracy:.4f}, {result.params:,} params, {result.train_seconds:.1f}s"
        else:
            self.failed += 1
            outcome = f"FAILED: {result.error}"
        best = f"best {self.best.val_accuracy:.4f} (#{self.best.index})" if self.best else "no best yet"
        self.logger.info(
            "[%d/%d] candidate %d %s | %s | %d failed, %d running | ETA %s",
            self.done,
            self.total,
            candidate.index,
            outcome,
            best,
            self.failed,
            self.running,
            self.eta(),
        )

    def eta(self) -> str:
        if self.done == 0:
            return "?"
        elapsed = time.perf_counter() - self.started_at
        seconds = elapsed / self.done * max(0, self.total - self.done)
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
