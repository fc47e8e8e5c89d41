"""Stage 2, search: propose candidates with the strategy, train them as parallel Prefect tasks, track every one.

    python -m flows.search [--params params.yaml] [--fresh]

Reads data/prepared/, writes artifacts/search_space.json, artifacts/best_architecture.json,
artifacts/search_results.json and metrics/search.json. Each candidate is a child MLflow run
of the search's parent run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # before the heavy imports below (flows/early_start.py says why)
    from flows.early_start import start_search_early

    start_search_early(sys.argv[1:])

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows.dask_runner import dask_task_runner, prefect_api_for_workers
from flows.early_start import (
    close_started_trainers,
    start_for,
    start_trainer_early,
    take_trainer,
    use_early_prefect_server,
    waiting_trainer,
)
from flows.entry import run_stage
from flows.fast_exit import exit_with
from flows.multi_objective import SearchObjective
from flows.params import load_params
from flows.progress import make_progress
from flows.report import SearchData, report_after_search, write_plot_data
from flows.resume import count_recovered, find_unfinished, open_search, resume_key
from flows.tracking import MlflowTracker
from nas_core.architecture import (
    InfeasibleArchitecture,
    architecture_key,
    check_space_for_input,
    cnn_search_space,
    prepare_architecture,
)
from nas_core.config import NasConfig, SearchConfig
from nas_core.errors import NasError, SearchAborted
from nas_core.estimation.config import MULTI_FIDELITY, WEIGHT_SHARING
from nas_core.estimation.median_stop import MedianStopRule, median_stop_rule
from nas_core.graph_space import GraphSpace, graph_space_from_config
from nas_core.isolation import IsolatedTrainer, TrainRequest, train_request
from nas_core.results import CandidateResult, best_result, failed
from nas_core.search_loop import Candidate, describe_budget, run_search
from nas_core.space import Sample, SearchSpace, sample_key
from nas_core.strategies import Wrapper, make_strategy
from nas_core.train_settings import TrainSettings

PREPARED_DIR = Path("data/prepared")
ARTIFACTS_DIR = Path("artifacts")
METRICS_DIR = Path("metrics")
FRESH_HELP = "start a new search even if an unfinished (killed) run of the same search could be resumed"


def read_manifest(data_dir: Path = PREPARED_DIR) -> dict[str, Any]:
    path = data_dir / "manifest.json"
    if not path.is_file():
        raise NasError(f"{path}: prepared data not found; run the prepare stage first (dvc repro, or nas prepare)")
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


def search_preflight(cfg: NasConfig, data_dir: Path = PREPARED_DIR) -> MlflowTracker:
    """Everything that can fail before training: data present, space feasible, tracking reachable."""
    manifest = read_manifest(data_dir)
    check_space_for_input(cnn_search_space(cfg.space), manifest["input_shape"])
    return MlflowTracker(cfg.tracking.uri, cfg.tracking.experiment)


def candidate_seed(search_seed: int, key: str) -> int:
    """The same architecture gets the same initial weights in every run with the same seed."""
    return (int(key[:8], 16) + 7919 * search_seed) % (2**31 - 1)


def make_task_runner(cfg: SearchConfig) -> TaskRunner[Any]:
    """Threads by default (each thread hands its candidate to a worker process); Dask to scale out."""
    if cfg.executor == "dask":
        return dask_task_runner(cfg)  # flows/dask_runner.py
    return ThreadPoolTaskRunner(max_workers=cfg.parallelism)


@task(name="train-candidate", cache_policy=NONE)
def train_candidate_task(request: TrainRequest, trainer: IsolatedTrainer | None) -> CandidateResult:
    """On threads: train in a recycled worker process. On a Dask worker: train right there."""
    if trainer is None:
        return train_request(request)
    return trainer.train(request)


class PrefectEvaluator:
    """The core loop's `Evaluator`, as Prefect task submissions on the flow's task runner."""

    def __init__(
        self,
        trainer: IsolatedTrainer | None,
        data_dir: Path,
        settings: TrainSettings,
        seed: int,
        median_stop: MedianStopRule | None = None,
    ) -> None:
        self.trainer = trainer
        self.data_dir = str(data_dir.resolve())
        self.settings = settings
        self.seed = seed
        self.pending: dict[PrefectFuture[CandidateResult], Candidate] = {}
        self.median_stop = median_stop
        self.curves: list[list[float]] = []  # val accuracy per epoch of the finished candidates, for median stopping

    def request_for(self, candidate: Candidate) -> TrainRequest:
        return TrainRequest(
            key=candidate.key,
            index=candidate.index,
            architecture=candidate.architecture,
            data_dir=self.data_dir,
            settings=self.settings,
            seed=candidate_seed(self.seed, candidate.key),
            median_stop=self.median_stop.with_peers(self.curves) if self.median_stop else None,
        )

    def submit(self, candidate: Candidate) -> None:
        named = train_candidate_task.with_options(task_run_name=f"candidate-{candidate.index:03d}-{candidate.key}")
        self.pending[named.submit(self.request_for(candidate), self.trainer)] = candidate

    def wait(self) -> tuple[Candidate, CandidateResult]:
        future = next(as_completed(list(self.pending)))
        candidate = self.pending.pop(future)
        try:
            result = future.result()
        except Exception as error:  # the task itself broke (not the training): still one failed candidate
            return candidate, failed(candidate.key, candidate.architecture, f"task failed: {error}", candidate.index)
        if result.ok:
            self.curves.append(result.history.get("val_accuracy", []))
        return candidate, result


def make_candidate(space: SearchSpace, input_shape: tuple[int, ...], index: int, sample: Sample) -> Candidate:
    """What will really be trained for `sample`; an impossible one is marked so it is recorded, not trained."""
    try:
        arch = prepare_architecture(space, sample, input_shape)
        return Candidate(index, dict(sample), arch, sample_key(arch))
    except InfeasibleArchitecture as error:
        arch = space.canonical(sample)
        return Candidate(index, dict(sample), arch, sample_key(arch), f"infeasible architecture: {error}")


def make_graph_candidate(space: GraphSpace, index: int, sample: Sample) -> Candidate:
    """A graph sample as a candidate; one outside the space is recorded as such, not trained."""
    problem = space.problem(sample)
    arch = space.canonical(sample)
    return Candidate(index, dict(sample), arch, sample_key(arch), f"invalid graph: {problem}" if problem else None)


def search_space_for(
    cfg: NasConfig, input_shape: tuple[int, ...]
) -> tuple[SearchSpace | GraphSpace, Callable[[int, Sample], Candidate], Callable[[Sample], str]]:
    """The space the strategy searches, how its samples become candidates, and their identity.

    `graph` searches layer graphs built from the same params.yaml `space` (README "Search
    strategies"); every other strategy searches the CNN space of fixed, conditional dimensions.
    """
    if cfg.search.strategy == "graph":
        graphs = graph_space_from_config(cfg.space)
        return graphs, partial(make_graph_candidate, graphs), lambda sample: sample_key(graphs.canonical(sample))
    space = cnn_search_space(cfg.space)
    return space, partial(make_candidate, space, input_shape), partial(architecture_key, space, input_shape=input_shape)


@dataclass
class SearchSetup:
    """What a search derives from params.yaml and the prepared data before it trains anything."""

    manifest: dict[str, Any]
    input_shape: tuple[int, ...]
    space: SearchSpace | GraphSpace
    to_candidate: Callable[[int, Sample], Candidate]
    strategy: Wrapper  # not yet constrained to `search.max_params`
    objective: SearchObjective
    settings: TrainSettings


def set_up_search(cfg: NasConfig, data_dir: Path) -> SearchSetup:
    manifest = read_manifest(data_dir)
    input_shape = tuple(int(d) for d in manifest["input_shape"])
    space, to_candidate, key = search_space_for(cfg, input_shape)
    strategy = make_strategy(cfg.search.strategy, space, seed=cfg.search.seed, key=key, **cfg.search.strategy_options)
    objective = SearchObjective(cfg.search, space, input_shape, manifest["num_classes"])  # README "Multi-objective"
    settings = objective.train_settings(cfg.train.model_dump())
    return SearchSetup(manifest, input_shape, space, to_candidate, strategy, objective, settings)


def evaluator_for(
    cfg: NasConfig, trainer: IsolatedTrainer | None, data_dir: Path, settings: TrainSettings
) -> PrefectEvaluator:
    return PrefectEvaluator(trainer, data_dir, settings, cfg.search.seed, median_stop_rule(cfg.search.median_stop))


class _FirstWait(Exception):
    """Raised by `_FirstSubmissions.wait`: the loop has submitted all it can before a result."""


class _FirstSubmissions:
    """An `Evaluator` that records the loop's first `limit` requests, as far as no result decides them.

    Its `wait` stops the loop, or, below `limit`, hands back a placeholder result: only for
    strategies whose proposals ignore results, with requests that carry no peers' curves.
    """

    def __init__(self, evaluator: PrefectEvaluator, limit: int) -> None:
        self.evaluator = evaluator
        self.limit = limit
        self.requests: list[TrainRequest] = []
        self.pending: list[Candidate] = []

    def submit(self, candidate: Candidate) -> None:
        self.requests.append(self.evaluator.request_for(candidate))
        self.pending.append(candidate)

    def wait(self) -> tuple[Candidate, CandidateResult]:
        if len(self.requests) >= self.limit or not self.pending:
            raise _FirstWait
        candidate = self.pending.pop(0)
        return candidate, failed(candidate.key, candidate.architecture, "placeholder", candidate.index)


def first_requests(cfg: NasConfig, data_dir: Path, fresh: bool) -> list[TrainRequest]:
    """A new search's first requests, known before any result: the same setup and loop as the flow's.

    Those submitted before the first result; for strategies that ignore results (random, grid,
    fixed) and no median stopping, twice as many, so the workers stay busy until the flow is up.

    Empty when the search will not start that way: one that resumes a killed run, or one whose
    estimation submits something else (multi-fidelity rungs, weight sharing).
    """
    if cfg.search.estimation in MULTI_FIDELITY or cfg.search.estimation in WEIGHT_SHARING:
        return []
    setup = set_up_search(cfg, data_dir)
    if not fresh and cfg.search.resume:
        tracker = MlflowTracker(cfg.tracking.uri, cfg.tracking.experiment)
        search_key = resume_key(cfg, setup.manifest["content_hash"])
        if find_unfinished(tracker, search_key, logging.getLogger(__name__)) is not None:
            return []
    strategy = setup.objective.constrain(setup.strategy)
    ordered = getattr(strategy, "uses_feedback", True)
    independent = not ordered and not cfg.search.median_stop.enabled  # later requests depend on no result
    limit = cfg.search.parallelism * (2 if independent else 1)
    recorder = _FirstSubmissions(evaluator_for(cfg, None, data_dir, setup.settings), limit)
    with contextlib.suppress(_FirstWait):
        run_search(
            strategy,
            recorder,
            setup.to_candidate,
            budget=cfg.search.max_candidates,
            parallelism=cfg.search.parallelism,
            ordered=ordered,
            score=setup.objective.objective,
        )
    return recorder.requests


def head_start(cfg: NasConfig, fresh: bool) -> None:
    """Start the first candidates on the waiting workers while Prefect's server is still starting.

    On a short search the server's start-up (several seconds of CPU) is the longest step before
    the first candidate, and one core is idle while a worker trains at parallelism 1. The first
    candidates of a new search depend on no result, so the workers train them meanwhile; the
    flow's equal requests take their results over (`IsolatedTrainer.prefetch`). This is only a
    speed-up: if planning fails, nothing starts and the flow reports any real problem itself.
    """
    trainer = waiting_trainer(cfg.search)
    if trainer is None:
        return
    try:
        requests = first_requests(cfg, PREPARED_DIR, fresh)
    except Exception:
        return
    trainer.prefetch(requests)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)


def summarize(
    results: list[CandidateResult], wall_seconds: float, space_size: int | None, best: CandidateResult | None = None
) -> dict[str, Any]:
    best = best or best_result(results)
    summary: dict[str, Any] = describe_budget(results)
    summary |= {
        "best_val_accuracy": best.val_accuracy if best else None,
        "best_params": best.params if best else None,
        "best_candidate": best.index if best else None,
        "total_train_seconds": round(sum(r.train_seconds for r in results), 2),
        "wall_seconds": round(wall_seconds, 2),
        "space_size": space_size,
    }
    return summary


@flow(name="nas-search")
def search_flow(
    params_path: str = "params.yaml", data_dir: str = str(PREPARED_DIR), scheduled: bool = False, fresh: bool = False
) -> dict[str, Any]:
    """Run the whole search and write its artifacts; raises `SearchAborted` when every candidate failed.

    An unfinished (killed) run of the same search is resumed unless `fresh` (flows/resume.py).
    """
    started = time.perf_counter()
    logger = get_run_logger()
    cfg = load_params(params_path)
    trainer = take_trainer(cfg.search)
    tracker = search_preflight(cfg, Path(data_dir))
    setup = set_up_search(cfg, Path(data_dir))
    manifest, input_shape, space, to_candidate = setup.manifest, setup.input_shape, setup.space, setup.to_candidate
    space_size = space.size() if isinstance(space, SearchSpace) else None
    write_json(ARTIFACTS_DIR / "search_space.json", {"space": space.to_dict(), "size": space_size})
    if isinstance(space, GraphSpace):
        logger.info("graph space: %d ops, up to %d inner nodes; strategy graph", len(space.ops), space.max_nodes)
    else:
        logger.info("search space: %s distinct architectures; strategy %s", f"{space_size:,}", cfg.search.strategy)

    trigger = "scheduled" if scheduled else "manual"
    opened = open_search(tracker, cfg, manifest["content_hash"], to_candidate, logger, trigger, fresh)
    parent_id = opened.parent_run_id
    objective = setup.objective
    progress = make_progress(cfg.search.max_candidates, logger, objective.objective)
    strategy = objective.constrain(setup.strategy, on_skip=progress.skipped_over_limit)
    count_recovered(progress, opened.replay)
    run_ids: dict[int, str] = {}

    def on_submit(candidate: Candidate) -> None:
        run_ids[candidate.index] = tracker.start_candidate(candidate)
        progress.started(candidate)

    def on_result(candidate: Candidate, result: CandidateResult) -> None:
        objective.record(tracker.client, run_ids[candidate.index], result)
        tracker.finish_candidate(run_ids.pop(candidate.index), result)
        progress.finished(candidate, result)

    search_loop = run_search
    if cfg.search.estimation in MULTI_FIDELITY:  # successive halving / Hyperband (flows/hyperband.py)
        from flows.hyperband import multifidelity_loop

        search_loop = multifidelity_loop(cfg, partial(tracker.log_rung, run_ids))
    try:
        results = search_loop(
            strategy,
            evaluator_for(cfg, trainer, Path(data_dir), setup.settings),
            to_candidate,
            budget=cfg.search.max_candidates,
            parallelism=cfg.search.parallelism,
            on_submit=on_submit,
            on_result=on_result,
            replay=opened.replay,
            ordered=getattr(strategy, "uses_feedback", True),
            score=objective.objective,
        )
    except BaseException:
        tracker.finish_search({"interrupted": 1}, failed=True)
        raise
    finally:
        progress.close()
        if trainer is not None:
            trainer.close()
    if trainer is not None and trainer.taken_over:
        logger.info("%d candidate(s) began training while Prefect's server was starting", trainer.taken_over)

    best = objective.winner(results)
    summary = summarize(results, time.perf_counter() - started, space_size, best) | objective.summary(results, best)
    write_json(METRICS_DIR / "search.json", summary)
    write_plot_data(results, objective.objective, METRICS_DIR / "candidates.csv")
    write_json(ARTIFACTS_DIR / "search_results.json", [r.to_dict() | {"summary": None} for r in results])
    if best is None:
        (ARTIFACTS_DIR / "best_architecture.json").unlink(missing_ok=True)
        tracker.finish_search(summary, failed=True)
        reasons = sorted({r.error or "unknown" for r in results})
        raise SearchAborted(
            f"all {len(results)} candidates failed, so there is no winner; reasons: {'; '.join(reasons[:3])}"
        )
    write_json(ARTIFACTS_DIR / "best_architecture.json", winner_record(best, manifest, parent_id))
    tracker.finish_search(summary)
    logger.info(
        "best: candidate %d, val accuracy %.4f, %s params (%d of %d candidates failed)",
        best.index,
        best.val_accuracy or 0.0,
        f"{best.params:,}",
        summary["failed"],
        summary["candidates"],
    )
    data = SearchData(parent_id, cfg.search.strategy, results, objective.objective, summary)
    data.input_shape, data.num_classes = input_shape, manifest["num_classes"]
    report_after_search(tracker.client, tracker.experiment_id, data, logger)  # never fails the search
    return summary


def winner_record(best: CandidateResult, manifest: Mapping[str, Any], parent_id: str) -> dict[str, Any]:
    return {
        "architecture": best.architecture,
        "key": best.key,
        "candidate_index": best.index,
        "val_accuracy": best.val_accuracy,
        "params": best.params,
        "epochs_run": best.epochs_run,
        "search_run_id": parent_id,
        "input_shape": list(manifest["input_shape"]),
        "num_classes": manifest["num_classes"],
    }


def search_preflight_warming(cfg: NasConfig) -> MlflowTracker:
    """`search_preflight` for the command line, with the workers and Prefect's API starting meanwhile."""
    start_for(cfg)
    try:
        return search_preflight(cfg)
    except BaseException:
        close_started_trainers()
        raise


def run_search_stage(params_path: str = "params.yaml", scheduled: bool = False, fresh: bool = False) -> dict[str, Any]:
    """The search flow on the task runner that params.yaml asks for."""
    cfg = load_params(params_path)
    if cfg.search.estimation in WEIGHT_SHARING:  # one-shot and DARTS have their own flows
        from flows.weight_sharing import run_weight_sharing_stage

        return run_weight_sharing_stage(cfg, params_path, scheduled=scheduled)
    start_trainer_early(cfg.search)
    head_start(cfg, fresh)
    runner_flow = search_flow.with_options(task_runner=make_task_runner(cfg.search))
    with use_early_prefect_server(), prefect_api_for_workers(cfg.search):  # Dask workers report to this API
        summary: dict[str, Any] = runner_flow(params_path=params_path, scheduled=scheduled, fresh=fresh)
    return summary


if __name__ == "__main__":
    exit_with(
        run_stage(run_search_stage, __doc__ or "", preflight=search_preflight_warming, flags={"fresh": FRESH_HELP})
    )
