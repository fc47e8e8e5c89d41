"""What the weight-sharing searches (flows/oneshot.py, flows/darts.py) share with each other.

Both open a search like the search flow does (checks, parent MLflow run, search_space.json),
train a supernet in the flow process, then retrain their chosen architectures stand-alone as
ordinary candidates: parallel `train-candidate` tasks in recycled workers, one MLflow child
run each. They end like the search flow, with metrics/search.json, search_results.json and
best_architecture.json, so the retrain stage takes the winner from there unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from prefect import get_run_logger

from flows.params import load_params
from flows.progress import SearchProgress
from flows.report import write_plot_data
from flows.search import (
    ARTIFACTS_DIR,
    METRICS_DIR,
    PrefectEvaluator,
    make_candidate,
    make_task_runner,
    read_manifest,
    search_preflight,
    winner_record,
    write_json,
)
from flows.tracking import MlflowTracker
from nas_core.architecture import cnn_search_space
from nas_core.config import NasConfig
from nas_core.data import load_split
from nas_core.errors import SearchAborted
from nas_core.estimation.cell_space import CellSpace
from nas_core.isolation import IsolatedTrainer
from nas_core.objectives import Objective
from nas_core.results import CandidateResult, best_result
from nas_core.search_loop import Candidate, describe_budget, run_search
from nas_core.space import Sample
from nas_core.training import Arrays, TrainSettings


@dataclass
class WeightSharingSearch:
    """An opened search: its config, data, reduced space and parent run."""

    cfg: NasConfig
    method: str
    data_dir: Path
    tracker: MlflowTracker
    manifest: dict[str, Any]
    cell: CellSpace
    arrays: Arrays
    parent_id: str
    started: float = field(default_factory=time.perf_counter)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.manifest["input_shape"])

    @property
    def num_classes(self) -> int:
        return int(self.manifest["num_classes"])

    def architecture(self, sample: Mapping[str, Any]) -> Sample:
        """The CNN-space architecture that a reduced sample stands for."""
        return self.cell.to_architecture(sample, self.input_shape)


def open_search(params_path: str, data_dir: Path, method: str, scheduled: bool = False) -> WeightSharingSearch:
    """Checks, data, the reduced space (written to search_space.json) and the parent run."""
    cfg = load_params(params_path)
    tracker = search_preflight(cfg, data_dir)
    manifest = read_manifest(data_dir)
    cell = CellSpace.from_config(cfg.space)
    space = cell.search_space()
    description = {"space": space.to_dict(), "size": space.size(), "method": method, "fixed": cell.fixed}
    write_json(ARTIFACTS_DIR / "search_space.json", description | {"blocks": cell.blocks})
    x_train, y_train = load_split(data_dir / "train.npz")
    x_val, y_val = load_split(data_dir / "val.npz")
    config = cfg.model_dump(mode="json")
    trigger = "scheduled" if scheduled else "manual"
    parent_id = tracker.start_search(config, manifest["content_hash"], method, trigger=trigger)
    get_run_logger().info("%s search over %d architectures of %d blocks", method, space.size(), cell.blocks)
    arrays = Arrays(x_train, y_train, x_val, y_val)
    return WeightSharingSearch(cfg, method, data_dir, tracker, manifest, cell, arrays, parent_id)


class Proposals:
    """A fixed list of architectures as an ask/tell strategy, for `run_search` to train stand-alone."""

    uses_feedback = False

    def __init__(self, architectures: Sequence[Sample]) -> None:
        self.queue = [dict(a) for a in architectures]

    def ask(self, n: int = 1) -> list[Sample]:
        batch, self.queue = self.queue[:n], self.queue[n:]
        return batch

    def tell(self, sample: Sample, score: float | None) -> None:
        return None


def train_standalone(
    search: WeightSharingSearch,
    architectures: Sequence[Sample],
    tags: Callable[[int], Mapping[str, str]] = lambda _: {},
) -> list[CandidateResult]:
    """Train the chosen architectures from scratch as ordinary candidates, in parallel tasks."""
    cfg = search.cfg
    space = cnn_search_space(cfg.space)
    logger = get_run_logger()
    progress = SearchProgress(len(architectures), logger)
    run_ids: dict[int, str] = {}

    def on_submit(candidate: Candidate) -> None:
        run_ids[candidate.index] = search.tracker.start_candidate(candidate)
        for key, value in tags(candidate.index).items():
            search.tracker.client.set_tag(run_ids[candidate.index], key, value)
        progress.started(candidate)

    def on_result(candidate: Candidate, result: CandidateResult) -> None:
        search.tracker.finish_candidate(run_ids.pop(candidate.index), result)
        progress.finished(candidate, result)

    isolate = cfg.search.executor == "threads"
    trainer = IsolatedTrainer(cfg.search.parallelism, cfg.search.recycle_after) if isolate else None
    evaluator = PrefectEvaluator(trainer, search.data_dir, TrainSettings(**cfg.train.model_dump()), cfg.search.seed)
    try:
        return run_search(
            Proposals(architectures),
            evaluator,
            partial(make_candidate, space, search.input_shape),
            budget=len(architectures),
            parallelism=cfg.search.parallelism,
            on_submit=on_submit,
            on_result=on_result,
            ordered=False,
        )
    finally:
        if trainer is not None:
            trainer.close()


def finish_search(
    search: WeightSharingSearch, results: list[CandidateResult], extra: Mapping[str, Any]
) -> dict[str, Any]:
    """The search flow's outputs: metrics/search.json, search_results.json and best_architecture.json."""
    best = best_result(results)
    summary: dict[str, Any] = describe_budget(results) | {
        "method": search.method,
        "best_val_accuracy": best.val_accuracy if best else None,
        "best_params": best.params if best else None,
        "best_candidate": best.index if best else None,
        "total_train_seconds": round(sum(r.train_seconds for r in results), 2),
        "wall_seconds": round(time.perf_counter() - search.started, 2),
        "space_size": search.cell.search_space().size(),
    }
    summary |= dict(extra)
    write_json(METRICS_DIR / "search.json", summary)
    write_json(ARTIFACTS_DIR / "search_results.json", [r.to_dict() | {"summary": None} for r in results])
    write_plot_data(results, Objective(), METRICS_DIR / "candidates.csv")  # an output DVC expects of the stage
    if best is None:
        (ARTIFACTS_DIR / "best_architecture.json").unlink(missing_ok=True)
        search.tracker.finish_search(summary, failed=True)
        raise SearchAborted(f"every architecture chosen by {search.method} failed stand-alone training")
    write_json(ARTIFACTS_DIR / "best_architecture.json", winner_record(best, search.manifest, search.parent_id))
    search.tracker.finish_search(summary)
    get_run_logger().info("%s: best stand-alone val accuracy %.4f", search.method, best.val_accuracy or 0.0)
    return summary


def run_weight_sharing_stage(cfg: NasConfig, params_path: str, scheduled: bool = False) -> dict[str, Any]:
    """`search.estimation: oneshot | darts`: that method's flow, on the task runner params.yaml asks for."""
    from flows.darts import darts_flow
    from flows.oneshot import oneshot_flow

    chosen = oneshot_flow if cfg.search.estimation == "oneshot" else darts_flow
    runner_flow = chosen.with_options(task_runner=make_task_runner(cfg.search))
    summary: dict[str, Any] = runner_flow(params_path=params_path, scheduled=scheduled)
    return summary
