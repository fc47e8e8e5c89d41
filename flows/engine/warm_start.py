"""How a search starts from earlier ones (`search.warm_start`): history on this data, transfer from other data.

On by default for scheduled runs (a night that repeats the last one buys nothing), opt-in for
manual ones. A warm-started search with history draws its own seed from its run id, so each night
proposes new architectures, and records the seed and the runs it read, so it can be told apart
and redone (docs/operations/nightly.md#warm-start).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from flows.engine.setup import SearchSetup
from flows.tracking.history import History, night_seed, read_history, read_transfer
from flows.tracking.schema import SEARCH_SEED_TAG, WARM_START_ARTIFACT, WARM_START_TAG
from flows.tracking.tracker import MlflowTracker
from nas_core.space import Sample
from nas_core.strategies import Wrapper

Logger = logging.Logger | logging.LoggerAdapter[Any]


@dataclass(frozen=True)
class WarmStart:
    """What a search starts from: its seed, the history its strategy remembers, a transfer's first proposals."""

    seed: int
    history: History = field(default_factory=History)
    first: list[Sample] = field(default_factory=list)
    mode: str = "off"  # off | history | transfer | history+transfer

    def summary(self) -> dict[str, Any]:
        """metrics/search.json: history candidates are counted here, never among this search's candidates."""
        return {
            "warm_start": self.mode,
            "search_seed": self.seed,
            "reused_candidates": len(self.history.known),
            "earlier_searches": len(self.history.searches),
            "transferred_architectures": len(self.first),
        }


def start_warm(
    setup: SearchSetup, tracker: MlflowTracker, key: str, search_run_id: str, scheduled: bool, logger: Logger
) -> WarmStart:
    """Read history (and a transfer) for the search run `search_run_id`, and record what it starts from."""
    cfg = setup.cfg.search
    if not cfg.warm_start.applies(scheduled, cfg.estimation):
        warm = WarmStart(cfg.seed)
    else:
        history = read_history(tracker, key, search_run_id, setup.to_candidate, logger)
        first: list[Sample] = []
        if source := cfg.warm_start.from_:
            score, top_k = setup.objective.objective, cfg.warm_start.top_k
            first = read_transfer(tracker, source, top_k, setup.to_candidate, score, logger)
        seed = night_seed(cfg.seed, search_run_id) if history.searches else cfg.seed
        modes = [name for name, used in (("history", history.searches), ("transfer", first)) if used]
        warm = WarmStart(seed, history, first, "+".join(modes) or "off")
        tracker.client.log_dict(search_run_id, history.record() | {"transferred": first}, WARM_START_ARTIFACT)
        if seed != cfg.seed:
            logger.info("warm start: this search's seed is %d (search.seed %d and its run id)", seed, cfg.seed)
    tracker.tag_search(WARM_START_TAG, warm.mode)
    tracker.tag_search(SEARCH_SEED_TAG, str(warm.seed))  # candidates carry the seed the strategy really uses
    return warm


def remember_history(strategy: Wrapper, warm: WarmStart, setup: SearchSetup) -> None:
    """Tell the strategy what earlier searches trained, before it proposes anything: it never proposes them."""
    score = setup.objective.objective
    for known in warm.history.known:
        strategy.remember(known.sample, score(known.result))
