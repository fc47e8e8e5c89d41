"""What the weight-sharing searches (flows/engine/oneshot.py, flows/engine/darts.py) share with each other.

Both open a search like the search flow does (checks, parent MLflow run, the space record),
train a supernet in the flow process, then retrain their chosen architectures stand-alone as
ordinary candidates: parallel `train-candidate` tasks in recycled workers, one MLflow child
run each. They end like the search flow, with metrics/search.json, search_results.json and
best_architecture.json, so the retrain stage takes the winner from there unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from prefect import get_run_logger

from flows.engine.evaluator import PrefectEvaluator, make_trainer
from flows.engine.finish import finish_search
from flows.engine.objective import SearchObjective
from flows.engine.progress import SearchProgress
from flows.engine.setup import make_candidate, search_preflight
from flows.engine.space_check import space_record
from flows.io.dvc_version import directory_md5
from flows.io.params import load_params
from flows.runtime.dask_runner import data_for_workers
from flows.tracking.dataset_input import log_dataset
from flows.tracking.schema import DATA_DVC_MD5_TAG
from flows.tracking.tracker import MlflowTracker
from nas_core.architecture import cnn_search_space
from nas_core.config import NasConfig
from nas_core.estimation.cell_space import CellSpace
from nas_core.param_count import count_params
from nas_core.prepared import load_split
from nas_core.results import CandidateResult
from nas_core.search_loop import Candidate, run_search
from nas_core.space import Sample, SearchSpace
from nas_core.strategies import Wrapper
from nas_core.strategies.base import Strategy
from nas_core.training import Arrays


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
    objective: SearchObjective
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

    def count(self, sample: Mapping[str, Any]) -> int:
        """Parameters of the stand-alone model a reduced sample stands for (no TensorFlow)."""
        return count_params(self.architecture(sample), self.input_shape, self.num_classes)


def open_search(params_path: str, data_dir: Path, method: str, scheduled: bool = False) -> WeightSharingSearch:
    """Checks, data, the reduced space (logged as search_space.json) and the parent run."""
    cfg = load_params(params_path)
    manifest, tracker = search_preflight(cfg, data_dir)
    cell = CellSpace.from_config(cfg.cnn_space)
    space = cell.search_space()
    x_train, y_train = load_split(data_dir / "train.npz")
    x_val, y_val = load_split(data_dir / "val.npz")
    config = cfg.model_dump(mode="json")
    trigger = "scheduled" if scheduled else "manual"
    digest = directory_md5(data_dir)  # on the parent and on every candidate run
    parent_id = tracker.start_search(
        config, manifest["content_hash"], method, trigger=trigger, extra_tags={DATA_DVC_MD5_TAG: digest}
    )
    log_dataset(tracker.client, parent_id, config, data_dir, digest, "search")
    tracker.log_search_space(space_record(cfg, manifest))
    get_run_logger().info("%s search over %d architectures of %d blocks", method, space.size(), cell.blocks)
    arrays = Arrays(x_train, y_train, x_val, y_val)
    # The same objective and `max_params` as every other search (flows/engine/finish.py).
    objective = SearchObjective(
        cfg.search, cnn_search_space(cfg.cnn_space), manifest["input_shape"], manifest["num_classes"]
    )
    return WeightSharingSearch(cfg, method, data_dir, tracker, manifest, cell, arrays, parent_id, objective)


class Proposals(Strategy):
    """The architectures a supernet chose, as a strategy, so `run_search` trains them like any candidates.

    Unlike the `fixed` strategy it does not require them to be in params.yaml's space: the reduced
    cell space may fix dimensions to values the user's space does not list.
    """

    uses_feedback = False

    def __init__(self, space: SearchSpace, architectures: Sequence[Sample]) -> None:
        super().__init__(space)
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
    space = cnn_search_space(cfg.cnn_space)
    logger = get_run_logger()
    progress = SearchProgress(len(architectures), logger, search.objective.objective)
    # Wrapper: the loop may tell None (a failed candidate), which a bare `Strategy` does not take.
    proposals = search.objective.constrain(
        Wrapper(Proposals(space, architectures)), on_skip=progress.skipped_over_limit
    )
    run_ids: dict[int, str] = {}

    def on_submit(candidate: Candidate) -> None:
        run_ids[candidate.index] = search.tracker.start_candidate(candidate)
        for key, value in tags(candidate.index).items():
            search.tracker.client.set_tag(run_ids[candidate.index], key, value)
        progress.started(candidate)

    def on_result(candidate: Candidate, result: CandidateResult) -> None:
        search.objective.record(search.tracker.client, run_ids[candidate.index], result)
        search.tracker.finish_candidate(run_ids.pop(candidate.index), result)
        progress.finished(candidate, result)

    trainer = make_trainer(cfg.search, len(architectures))
    settings = search.objective.train_settings(cfg.train.model_dump(), cfg.schedule_epochs)
    content_hash = search.manifest["content_hash"]
    with trainer or nullcontext(), data_for_workers(cfg.search, search.data_dir, content_hash) as data:
        return run_search(
            proposals,
            PrefectEvaluator(trainer, data, settings, cfg.search.seed),
            partial(make_candidate, space, search.input_shape),
            budget=len(architectures),
            parallelism=cfg.search.parallelism,
            on_submit=on_submit,
            on_result=on_result,
            ordered=False,
        )


def finish_weight_sharing(
    search: WeightSharingSearch, results: list[CandidateResult], extra: Mapping[str, Any]
) -> dict[str, Any]:
    """The end every search shares (flows/engine/finish.py), with this method's timings in the summary."""
    return finish_search(
        search.tracker,
        search.objective,
        results,
        strategy=search.method,
        manifest=search.manifest,
        started=search.started,
        space_size=search.cell.search_space().size(),
        logger=get_run_logger(),
        extra={"method": search.method} | dict(extra),
    )
