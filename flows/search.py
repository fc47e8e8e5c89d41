"""Stage 3, search: propose candidates with the strategy, train them as parallel Prefect tasks, track every one.

    python -m flows.search [--params params.yaml] [--fresh]

Reads data/prepared/ and artifacts/search_space.json (the space stage's), writes artifacts/best_architecture.json,
artifacts/search_results.json and metrics/search.json. Each candidate is a child MLflow run
of the search's parent run.
"""

from __future__ import annotations

import sys
import time
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from flows.engine.evaluator import evaluator_for, make_task_runner, make_trainer
from flows.engine.finish import finish_search
from flows.engine.progress import count_recovered, make_progress
from flows.engine.reevaluate import reevaluate
from flows.engine.rungs import multifidelity_loop
from flows.engine.setup import search_preflight, set_up_search
from flows.engine.space_check import space_record
from flows.engine.warm_start import remember_history, start_warm
from flows.io.dvc_version import directory_md5
from flows.io.params import load_params
from flows.io.paths import PREPARED_DIR
from flows.runtime.dask_runner import data_for_workers, prefect_api_for_workers
from flows.runtime.entry import run_stage
from flows.tracking.dataset_input import log_dataset
from flows.tracking.history import history_key
from flows.tracking.resume import open_search
from flows.tracking.schema import DATA_DVC_MD5_TAG, HISTORY_TAG
from nas_core.config import NasConfig
from nas_core.estimation_config import MULTI_FIDELITY, WEIGHT_SHARING
from nas_core.graph_space import GraphSpace
from nas_core.results import CandidateResult
from nas_core.search_loop import Candidate, run_search
from nas_core.space import SearchSpace

FRESH_HELP = "start a new search even if an unfinished (killed) run of the same search could be resumed"


@flow(name="nas-search")
def search_flow(
    params_path: str = "params.yaml", data_dir: str = str(PREPARED_DIR), scheduled: bool = False, fresh: bool = False
) -> dict[str, Any]:
    """Run the whole search and write its artifacts; raises `SearchAborted` when every candidate failed.

    An unfinished (killed) run of the same search is resumed unless `fresh` (flows/tracking/resume.py).
    A warm start (flows/engine/warm_start.py) tells the strategy what earlier searches trained first.
    """
    started = time.perf_counter()
    logger = get_run_logger()
    cfg = load_params(params_path)  # the flow's parameter is the path: no secret of tracking.uri in Prefect's UI
    # Its workers import TensorFlow while tracking is set up; full training trains each candidate once,
    # then the re-evaluation trains each fold of the top candidates once.
    trainings = cfg.search.max_candidates + cfg.search.reevaluate_top_k * cfg.retrain.folds
    trainer = make_trainer(cfg.search, trainings if cfg.search.estimation == "full" else None)
    manifest, tracker = search_preflight(cfg, Path(data_dir))
    setup = set_up_search(cfg, manifest)
    space, to_candidate = setup.space, setup.to_candidate
    space_size = space.size() if isinstance(space, SearchSpace) else None
    if isinstance(space, GraphSpace):
        logger.info("graph space: %d ops, up to %d inner nodes; strategy graph", len(space.ops), space.max_nodes)
    else:
        logger.info("search space: %s distinct architectures; strategy %s", f"{space_size:,}", cfg.search.strategy)

    trigger = "scheduled" if scheduled else "manual"
    key = history_key(cfg, manifest["content_hash"])
    digest = directory_md5(Path(data_dir))  # the data's DVC version
    tags = {HISTORY_TAG: key, DATA_DVC_MD5_TAG: digest}
    opened = open_search(tracker, cfg, manifest["content_hash"], to_candidate, logger, trigger, fresh, extra_tags=tags)
    log_dataset(tracker.client, opened.parent_run_id, cfg.model_dump(mode="json"), Path(data_dir), digest, "search")
    tracker.log_search_space(space_record(cfg, manifest))  # the space stage's file, or the same record made now
    warm = start_warm(setup, tracker, key, opened.parent_run_id, scheduled, logger)
    objective = setup.objective
    progress = make_progress(cfg.search.max_candidates, logger, objective.objective)
    strategy = objective.constrain(setup.strategy(warm.seed, warm.first), on_skip=progress.skipped_over_limit)
    remember_history(strategy, warm, setup)  # before this search's own recovered candidates, as it first ran
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
    if cfg.search.estimation in MULTI_FIDELITY:  # successive halving / Hyperband (flows/engine/rungs.py)
        search_loop = multifidelity_loop(cfg, partial(tracker.log_rung, run_ids))
    # The workers stop at the end, whatever happens; on Dask, they let go of the data.
    with trainer or nullcontext(), data_for_workers(cfg.search, Path(data_dir), manifest["content_hash"]) as data:
        try:
            results = search_loop(
                strategy,
                evaluator_for(cfg, trainer, data, setup.settings),
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
        return finish_search(
            tracker,
            objective,
            results,
            strategy=cfg.search.strategy,
            manifest=manifest,
            started=started,
            space_size=space_size,
            logger=logger,
            warm=warm,
            reevaluate=partial(reevaluate, cfg, objective.objective, trainer=trainer, data=data),
        )


def run_weight_sharing_stage(cfg: NasConfig, params_path: str, scheduled: bool = False) -> dict[str, Any]:
    """`search.estimation: oneshot | darts`: that method's flow, on the task runner params.yaml asks for.

    Imported here, not at the top: both train a supernet in this process and so import TensorFlow,
    which every other search leaves to its workers (about 5 s of start-up the flow process saves).
    """
    if cfg.search.estimation == "oneshot":
        from flows.engine.oneshot import oneshot_flow as chosen
    else:
        from flows.engine.darts import darts_flow as chosen
    runner_flow = chosen.with_options(task_runner=make_task_runner(cfg.search))
    with prefect_api_for_workers(cfg.search):  # Dask workers report to this API
        summary: dict[str, Any] = runner_flow(params_path=params_path, scheduled=scheduled)
    return summary


def run_search_stage(
    params_path: str = "params.yaml", scheduled: bool = False, fresh: bool = False, cfg: NasConfig | None = None
) -> dict[str, Any]:
    """The search flow on the task runner that params.yaml asks for (`cfg`: params.yaml already read)."""
    cfg = cfg or load_params(params_path)
    if cfg.search.estimation in WEIGHT_SHARING:  # one-shot and DARTS have their own flows
        return run_weight_sharing_stage(cfg, params_path, scheduled=scheduled)
    runner_flow = search_flow.with_options(task_runner=make_task_runner(cfg.search))
    with prefect_api_for_workers(cfg.search):  # Dask workers report to this API
        summary: dict[str, Any] = runner_flow(params_path=params_path, scheduled=scheduled, fresh=fresh)
    return summary


if __name__ == "__main__":
    sys.exit(
        run_stage(
            run_search_stage, __doc__ or "", preflight=search_preflight, flags={"fresh": FRESH_HELP}, pass_config=True
        )
    )
