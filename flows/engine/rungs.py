"""Successive halving and Hyperband inside the search flow (`search.estimation: successive_halving | hyperband`).

Each rung job is one `train-candidate` Prefect task, trained in a recycled worker like any
candidate. A candidate's rung saves its Keras model (weights and optimizer state) to
artifacts/checkpoints/<key>.keras, and its next rung loads it and trains on from the epoch it
reached (`initial_epoch`), so a promoted candidate never starts over. On Dask, whose workers need
not see the flow's disk, the checkpoint travels as bytes: into the rung's task and back out with
its result (`train_rung_on_dask`); the flow keeps it in the same folder. In MLflow each candidate
keeps one child run across its rungs: `rung` and `rung_val_accuracy` are logged at step =
epochs trained when a rung ends, the joined learning curve (steps = epochs) when the candidate
is done, with tags `nas.rung` and, when it was not promoted to the last rung, `nas.stopped_early`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NONE
from prefect.futures import PrefectFuture

from flows.engine.evaluator import PrefectEvaluator, train_candidate_task
from flows.io.paths import CHECKPOINTS_DIR
from flows.runtime.dask_workers import on_this_worker
from nas_core.config import NasConfig
from nas_core.estimation.hyperband import Rung, plan
from nas_core.estimation.multifidelity import RungJob, run_multifidelity
from nas_core.results import CandidateResult
from nas_core.search_loop import AskTell, Candidate, Score, candidate_seed, tell_replay
from nas_core.space import Sample
from nas_core.worker import TrainRequest, train_request


@task(name="train-candidate", cache_policy=NONE)
def train_rung_on_dask(request: TrainRequest, checkpoint: bytes | None) -> tuple[CandidateResult, bytes | None]:
    """One rung on a Dask worker: the checkpoint to resume from comes in as bytes, the one it saves goes back."""
    with tempfile.TemporaryDirectory(prefix="nas-rung-") as scratch:
        resume_from = request.resume_from  # None, or a checkpoint the flow lacks: the training reports it missing
        if checkpoint is not None:
            resume_from = str(Path(scratch) / "resume.keras")
            Path(resume_from).write_bytes(checkpoint)
        save_to = str(Path(scratch) / "saved.keras") if request.save_to else None
        result = train_request(replace(on_this_worker(request), resume_from=resume_from, save_to=save_to))
        saved = Path(save_to).read_bytes() if save_to and Path(save_to).exists() else None
    return result, saved


class RungEvaluator:
    """The driver's `FidelityEvaluator`: one Prefect task per rung job, resuming from the candidate's checkpoint."""

    def __init__(self, inner: PrefectEvaluator, checkpoint_dir: Path = CHECKPOINTS_DIR) -> None:
        self.inner = inner  # its trainer, data, settings and seed; its `wait` and failure handling
        self.checkpoint_dir = checkpoint_dir.resolve()
        self.on_dask = inner.trainer is None  # no worker pool here: the tasks train on Dask workers
        if self.on_dask:
            inner.receive = self.keep_checkpoint

    def checkpoint(self, key: str) -> Path:
        return self.checkpoint_dir / f"{key}.keras"

    def submit(self, candidate: Candidate, job: RungJob) -> None:
        path = str(self.checkpoint(candidate.key))
        request = TrainRequest(
            key=candidate.key,
            index=candidate.index,
            architecture=candidate.architecture,
            data_dir=self.inner.data_dir,
            settings=replace(self.inner.settings, epochs=job.epochs),
            seed=candidate_seed(self.inner.seed, candidate.key),
            initial_epoch=job.initial_epoch,
            resume_from=path if job.resume else None,
            save_to=None if job.final else path,
        )
        name = f"candidate-{candidate.index:03d}-{candidate.key}-rung{job.rung}"
        future: PrefectFuture[Any]
        if self.on_dask:
            checkpoint = self.checkpoint(candidate.key)
            sent = checkpoint.read_bytes() if job.resume and checkpoint.exists() else None
            future = train_rung_on_dask.with_options(task_run_name=name).submit(request, sent)
        else:
            future = train_candidate_task.with_options(task_run_name=name).submit(request, self.inner.trainer)
        self.inner.pending[future] = candidate

    def keep_checkpoint(self, candidate: Candidate, returned: tuple[CandidateResult, bytes | None]) -> CandidateResult:
        """A Dask rung's result; the checkpoint it saved goes where the next rung's request names it."""
        result, saved = returned
        if saved is not None:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            self.checkpoint(candidate.key).write_bytes(saved)
        return result

    def wait(self) -> tuple[Candidate, CandidateResult]:
        return self.inner.wait()

    def discard(self, key: str) -> None:
        """A finished candidate's checkpoint is no longer needed (the winner is retrained from scratch)."""
        self.checkpoint(key).unlink(missing_ok=True)


def multifidelity_loop(
    cfg: NasConfig, on_rung: Callable[[Candidate, CandidateResult, Rung], None]
) -> Callable[..., list[CandidateResult]]:
    """A drop-in for `run_search` in the search flow that runs the successive-halving / Hyperband plan.

    Recovered results (`replay`, from an interrupted search) are told first and count towards
    the budget; brackets that were cut short start again with new candidates.
    """
    schedule = cfg.search.hyperband
    max_epochs = schedule.max_epochs or cfg.train.epochs

    def loop(
        strategy: AskTell,
        evaluator: PrefectEvaluator,
        make_candidate: Callable[[int, Sample], Candidate],
        budget: int,
        parallelism: int,
        on_submit: Callable[[Candidate], None] | None = None,
        on_result: Callable[[Candidate, CandidateResult], None] | None = None,
        replay: Sequence[tuple[Sample, CandidateResult]] = (),
        score: Score | None = None,
        **_: Any,
    ) -> list[CandidateResult]:
        rungs = RungEvaluator(evaluator)
        recovered = tell_replay(strategy, replay, score)
        left = budget - len(recovered)
        if left <= 0:
            return recovered
        brackets = plan(left, schedule.min_epochs, max_epochs, schedule.eta, cfg.search.estimation)

        def finished(candidate: Candidate, result: CandidateResult) -> None:
            rungs.discard(candidate.key)
            if on_result is not None:
                on_result(candidate, result)

        new = run_multifidelity(
            strategy, rungs, make_candidate, brackets, parallelism, on_submit, finished, on_rung, len(recovered), score
        )
        return recovered + new

    return loop
