"""Candidates trained as Prefect tasks: the core loop's `Evaluator`, and the task runner that runs them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import task
from prefect.cache_policies import NONE
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows.runtime.dask_runner import dask_task_runner, raise_if_cluster_lost
from flows.runtime.dask_workers import on_this_worker
from nas_core.config import NasConfig, SearchConfig
from nas_core.estimation.median_stop import MedianStopRule, median_stop_rule
from nas_core.isolation import IsolatedTrainer
from nas_core.results import CandidateResult, failed
from nas_core.search_loop import Candidate, candidate_seed
from nas_core.train_settings import TrainSettings
from nas_core.worker import TrainRequest, train_request


def make_task_runner(cfg: SearchConfig) -> TaskRunner[Any]:
    """Threads by default (each thread hands its candidate to a worker process); Dask to scale out."""
    if cfg.executor == "dask":
        return dask_task_runner(cfg)  # flows/runtime/dask_runner.py
    return ThreadPoolTaskRunner(max_workers=cfg.parallelism)


def make_trainer(cfg: SearchConfig, trainings: int | None) -> IsolatedTrainer | None:
    """Recycled worker processes for candidates on threads, started now; `None` on Dask (its workers train).

    `trainings`, when known, is the most candidates it will train: no worker pool is then started
    that could never be used. Multi-fidelity rungs train candidates again, so they pass `None`.
    """
    if cfg.executor != "threads":
        return None
    trainer = IsolatedTrainer(cfg.parallelism, cfg.recycle_after, trainings)
    trainer.warm_up()
    return trainer


@task(name="train-candidate", cache_policy=NONE)
def train_candidate_task(request: TrainRequest, trainer: IsolatedTrainer | None) -> CandidateResult:
    """On threads: train in a recycled worker process. On a Dask worker: train right there, on its copy of the data."""
    if trainer is None:
        return train_request(on_this_worker(request))
    return trainer.train(request)


class PrefectEvaluator:
    """The core loop's `Evaluator`, as Prefect task submissions on the flow's task runner."""

    def __init__(
        self,
        trainer: IsolatedTrainer | None,
        data: str,
        settings: TrainSettings,
        seed: int,
        median_stop: MedianStopRule | None = None,
    ) -> None:
        self.trainer = trainer
        self.data_dir = data  # the prepared folder, or the workers' copy of it (flows/runtime/dask_runner.py)
        self.settings = settings
        self.seed = seed
        self.pending: dict[PrefectFuture[Any], Candidate] = {}
        self.median_stop = median_stop
        self.curves: list[list[float]] = []  # val accuracy per epoch of the finished candidates, for median stopping
        # What a finished task returned, as the candidate's result (a rung on Dask returns its checkpoint too).
        self.receive: Callable[[Candidate, Any], CandidateResult] = lambda _, result: result

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
            result = self.receive(candidate, future.result())
        except Exception as error:  # the task itself broke (not the training): still one failed candidate
            raise_if_cluster_lost(error)  # ... unless no task can run any more
            return candidate, failed(candidate.key, candidate.architecture, f"task failed: {error}", candidate.index)
        if result.ok:
            self.curves.append(result.history.get("val_accuracy", []))
        return candidate, result


def evaluator_for(
    cfg: NasConfig, trainer: IsolatedTrainer | None, data: str, settings: TrainSettings
) -> PrefectEvaluator:
    return PrefectEvaluator(trainer, data, settings, cfg.search.seed, median_stop_rule(cfg.search.median_stop))
