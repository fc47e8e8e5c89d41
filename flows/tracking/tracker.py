"""Tracking behind a small interface, backed by `MlflowClient` with explicit run ids.

Every call names its run, so parallel candidates can never log into each other's runs, and
nothing depends on MLflow's global "active run".
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException

from flows.io.paths import project_root
from flows.reports.learning_curve import FAST_PNG, learning_curve
from flows.tracking.run_labels import entry_point, search_run_name, unique_run_name
from flows.tracking.schema import (
    CANDIDATE_CONTEXT_TAGS,
    CANDIDATE_HASH_TAG,
    CANDIDATE_INDEX_TAG,
    DATASET_HASH_TAG,
    DVC_EXPERIMENT_TAG,
    ERROR_TAG,
    EXPERIMENT_KIND_TAG,
    EXPERIMENT_KIND_TRAINING,
    GIT_COMMIT_TAG,
    KIND_CANDIDATE,
    KIND_SEARCH,
    KIND_TAG,
    OBJECTIVE_TAG,
    PARENT_TAG,
    RUNG_TAG,
    SAMPLE_ARTIFACT,
    SAMPLE_TAG,
    SAMPLE_TAG_LIMIT,
    SEARCH_SEED_TAG,
    SOURCE_NAME_TAG,
    SOURCE_TYPE_LOCAL,
    SOURCE_TYPE_TAG,
    SPACE_ARTIFACT,
    STATUS_TAG,
    STOPPED_EARLY_TAG,
    STRATEGY_TAG,
    TRIGGER_TAG,
)
from nas_core.errors import NasError
from nas_core.results import CandidateResult
from nas_core.search_loop import Candidate

SERVER_SCHEMES = ("http://", "https://", "databricks")  # tracking servers: they place artifacts themselves
SECRET_WORDS = re.compile(r"pass(word)?|secret|token|api[_-]?key|credential", re.IGNORECASE)


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}, for MLflow params."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def redact(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Hide values of credential-like keys, and passwords inside URIs, before anything is logged."""
    clean: dict[str, Any] = {}
    for key, value in flat.items():
        if SECRET_WORDS.search(key.rsplit(".", 1)[-1]):
            clean[key] = "***"
        elif isinstance(value, str):
            clean[key] = re.sub(r"(://[^:/@\s]+):[^@\s]+@", r"\1:***@", value)
        else:
            clean[key] = value
    return clean


def absolute_tracking_uri(uri: str) -> str:
    """`sqlite:///mlflow.db` means the file in the project's folder *now* (`project_root`: the working
    directory, or the project itself from a DVC experiment's temporary copy): pin it, since MLflow caches
    one database engine per URI string for the life of the process. Other URIs are left as they are."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/") and ":memory:" not in uri:
        return prefix + str((project_root() / uri[len(prefix) :]).resolve())
    return uri


def new_experiment_artifacts(uri: str, experiment: str) -> str | None:
    """Where a new experiment keeps its artifacts: None for MLflow's default, `mlruns/<id>` in the working
    directory, unless that is a DVC experiment's temporary copy (`project_root`), which DVC deletes: then
    `mlruns/<experiment>` in the project. A tracking server decides for itself."""
    root = project_root().resolve()
    if uri.startswith(SERVER_SCHEMES) or root == Path.cwd().resolve():
        return None
    return str(root / "mlruns" / (re.sub(r"[^\w.-]+", "-", experiment).strip("-.") or "experiment"))


def git_commit() -> str:
    """The commit of the project directory, or else of the code that runs (a run from a scratch folder)."""
    for folder in (None, Path(__file__).resolve().parent):
        try:
            command = ["git", "rev-parse", "HEAD"]
            out = subprocess.run(command, capture_output=True, text=True, timeout=5, check=True, cwd=folder)
            return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
    return "unknown"


def source_tags(stage: str) -> dict[str, str]:
    """MLflow's source tags, which the UI shows as Source and Version: the command started, and the commit.

    `stage` (`flows.search`, `flows.retrain`) names the source when the process does not tell its entry point.
    """
    return {SOURCE_NAME_TAG: entry_point(stage), SOURCE_TYPE_TAG: SOURCE_TYPE_LOCAL, GIT_COMMIT_TAG: git_commit()}


def _now_ms() -> int:
    return int(time.time() * 1000)


class MlflowTracker:
    """One parent run per search, one child run per candidate, in one experiment."""

    def __init__(self, uri: str, experiment: str) -> None:
        self.uri = absolute_tracking_uri(uri)
        self.client = MlflowClient(tracking_uri=self.uri)
        self.experiment_id = self._ensure_experiment(experiment)
        self.parent_run_id: str | None = None
        # The search's context (strategy, seed, data, objective) that every candidate run carries as tags.
        self.candidate_tags: dict[str, str] = {}

    def _ensure_experiment(self, name: str) -> str:
        """Also the fail-fast check: an unreachable tracking server stops us before any training.

        The experiment is of MLflow 3's "Machine learning" kind, model training rather than GenAI (an experiment
        made by an earlier version gets the tag too); docs/operations/mlflow.md#open-the-training-runs.
        """
        kind = {EXPERIMENT_KIND_TAG: EXPERIMENT_KIND_TRAINING}
        try:
            found = self.client.get_experiment_by_name(name)
            if found is None:
                location = new_experiment_artifacts(self.uri, name)
                return str(self.client.create_experiment(name, artifact_location=location, tags=kind))
            if found.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND_TRAINING:  # made by an earlier version
                self.client.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND_TRAINING)
            return str(found.experiment_id)
        except MlflowException as error:
            if "already exists" in str(error):  # another search created it a moment ago
                found = self.client.get_experiment_by_name(name)
                if found is not None:
                    return str(found.experiment_id)
            raise NasError(f"tracking.uri: cannot use the MLflow store at {self.uri}: {error}") from None
        except Exception as error:
            raise NasError(
                f"tracking.uri: cannot reach MLflow at {self.uri}: {type(error).__name__}: {error}"
            ) from None

    def start_search(
        self,
        config: Mapping[str, Any],
        dataset_hash: str,
        strategy: str,
        trigger: str = "manual",
        extra_tags: Mapping[str, str] | None = None,
    ) -> str:
        """The parent run; `trigger` ("manual" or "scheduled") tells nightly searches from hand-started ones.

        Named for a person (`random · digits · 2026-12-01 04:31`, `... #2` for a second one that minute);
        the tags say the same for queries.
        """
        search = config.get("search") or {}
        tags = {KIND_TAG: KIND_SEARCH, STRATEGY_TAG: strategy, DATASET_HASH_TAG: dataset_hash}
        tags |= {OBJECTIVE_TAG: str(search.get("objective", "accuracy")), SEARCH_SEED_TAG: str(search.get("seed", 0))}
        tags[TRIGGER_TAG] = trigger
        tags |= source_tags("flows.search")
        if dvc_experiment := os.environ.get("DVC_EXP_NAME"):  # `dvc exp run` names its experiment to its stages
            tags[DVC_EXPERIMENT_TAG] = dvc_experiment
        tags |= dict(extra_tags or {})  # set at creation, so a kill cannot leave a parent without them
        run = self.client.create_run(self.experiment_id, tags=tags, run_name=self._new_search_name(strategy, config))
        self.parent_run_id = run.info.run_id
        self.candidate_tags = {k: tags[k] for k in CANDIDATE_CONTEXT_TAGS if k in tags}
        params = redact(flatten(config)) | {"dataset_hash": dataset_hash}
        self.log_params(self.parent_run_id, params)
        return self.parent_run_id

    def _new_search_name(self, strategy: str, config: Mapping[str, Any]) -> str:
        """The human name, made unique among this experiment's searches so that `nas compare` can take it."""
        name = search_run_name(strategy, config)
        prefix = name.replace("'", "_")  # LIKE's one-character wildcard: a quote cannot end the filter's string
        query = f"tags.`{KIND_TAG}` = '{KIND_SEARCH}' and attributes.run_name LIKE '{prefix}%'"
        runs = self.client.search_runs([self.experiment_id], filter_string=query, max_results=1000)
        return unique_run_name(name, {run.info.run_name for run in runs})

    def resume_search(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Log into an earlier, unfinished parent run again (flows/tracking/resume.py decides which)."""
        self.parent_run_id = run_id
        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        if self.client.get_run(run_id).info.status != "RUNNING":
            self.client.update_run(run_id, status="RUNNING")
        self.client.log_batch(run_id, metrics=[Metric("interrupted", 0.0, _now_ms(), 0)])
        self.refresh_candidate_tags()

    def refresh_candidate_tags(self) -> None:
        """Read the context tags back from the parent run (after the warm start has set the seed the strategy
        really uses, say): candidate runs started from now on carry them."""
        if self.parent_run_id is not None:
            parent = self.client.get_run(self.parent_run_id).data
            objective = parent.params.get("search.objective")  # a parent made before runs had the tag
            tags = ({OBJECTIVE_TAG: objective} if objective else {}) | parent.tags
            self.candidate_tags = {k: tags[k] for k in CANDIDATE_CONTEXT_TAGS if k in tags}

    def tag_search(self, key: str, value: str) -> None:
        """A tag on the parent run, which candidates started from now on also carry if it is search context."""
        assert self.parent_run_id is not None, "start_search or resume_search first"
        self.client.set_tag(self.parent_run_id, key, value)
        if key in CANDIDATE_CONTEXT_TAGS:
            self.candidate_tags[key] = value

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        items = [Param(k, json.dumps(v) if isinstance(v, list | dict) else str(v)) for k, v in params.items()]
        for start in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(run_id, params=items[start : start + 100])

    def log_search_space(self, record: Mapping[str, Any]) -> None:
        """The space stage's description of the space, on the search's parent run."""
        if self.parent_run_id is not None:
            self.client.log_dict(self.parent_run_id, dict(record), SPACE_ARTIFACT)

    def start_candidate(self, candidate: Candidate) -> str:
        tags = self.candidate_tags | {
            PARENT_TAG: self.parent_run_id or "",
            KIND_TAG: KIND_CANDIDATE,
            CANDIDATE_HASH_TAG: candidate.key,
            CANDIDATE_INDEX_TAG: str(candidate.index),
            STATUS_TAG: "RUNNING",
        }
        sample = json.dumps(candidate.sample, default=str)
        if len(sample) <= SAMPLE_TAG_LIMIT:
            tags[SAMPLE_TAG] = sample
        run = self.client.create_run(self.experiment_id, tags=tags, run_name=f"candidate-{candidate.index:03d}")
        if SAMPLE_TAG not in tags:
            self.client.log_dict(run.info.run_id, candidate.sample, SAMPLE_ARTIFACT)
        self.log_params(run.info.run_id, candidate.architecture)
        return str(run.info.run_id)

    def finish_candidate(self, run_id: str, result: CandidateResult) -> None:
        stamp = _now_ms()
        metrics = [
            Metric(name, value, stamp, step)
            for name, values in result.history.items()
            for step, value in enumerate(values, start=1)
            if value == value  # NaN cannot be stored meaningfully; the status says why
        ]
        finals = {"val_accuracy": result.val_accuracy, "val_loss": result.val_loss, "params": result.params}
        finals |= {"train_seconds": result.train_seconds, "epochs_run": result.epochs_run}
        finals |= {"val_examples": result.val_examples}
        if (interval := result.val_interval) is not None:  # the 95% interval: how far the score can be trusted
            finals |= {"val_accuracy_low": interval[0], "val_accuracy_high": interval[1]}
        metrics += [Metric(k, float(v), stamp, 0) for k, v in finals.items() if v is not None]
        tags = [RunTag(STATUS_TAG, result.status)]
        if result.error:
            tags.append(RunTag(ERROR_TAG, result.error[:5000]))
        if result.stopped_early:
            tags.append(RunTag(STOPPED_EARLY_TAG, "true"))
        if result.rung is not None:
            tags.append(RunTag(RUNG_TAG, str(result.rung)))
        for start in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[start : start + 1000], tags=tags if start == 0 else [])
        if not metrics:
            self.client.log_batch(run_id, tags=tags)
        self.client.log_dict(run_id, result.architecture, "architecture.json")
        if result.summary:
            self.client.log_text(run_id, result.summary, "model_summary.txt")
        if result.history:
            self.client.log_figure(run_id, learning_curve(result), "learning_curve.png", save_kwargs=FAST_PNG)
        status = RunStatus.to_string(RunStatus.FINISHED if result.ok else RunStatus.FAILED)
        self.client.set_terminated(run_id, status=status)

    def log_cv_scores(self, results: Sequence[CandidateResult]) -> None:
        """The cross-validated accuracy and loss of re-scored candidates, on their own runs of this search."""
        scored = {str(r.index): r for r in results if r.cv_accuracy is not None}
        if self.parent_run_id is None or not scored:
            return
        query = f"tags.`{PARENT_TAG}` = '{self.parent_run_id}' and tags.`{KIND_TAG}` = '{KIND_CANDIDATE}'"
        for run in self.client.search_runs([self.experiment_id], filter_string=query, max_results=10_000):
            result = scored.get(run.data.tags.get(CANDIDATE_INDEX_TAG, ""))
            if result is not None and result.cv_accuracy is not None and result.cv_loss is not None:
                values = {"cv_accuracy": result.cv_accuracy, "cv_loss": result.cv_loss}
                self.client.log_batch(run.info.run_id, [Metric(k, v, _now_ms(), 0) for k, v in values.items()])

    def finish_search(self, summary: Mapping[str, Any], failed: bool = False) -> None:
        if self.parent_run_id is None:
            return
        numbers = [Metric(k, float(v), _now_ms(), 0) for k, v in summary.items() if isinstance(v, int | float)]
        if numbers:
            self.client.log_batch(self.parent_run_id, metrics=numbers)
        self.client.log_dict(self.parent_run_id, dict(summary), "search_summary.json")
        status = RunStatus.to_string(RunStatus.FAILED if failed else RunStatus.FINISHED)
        self.client.set_terminated(self.parent_run_id, status=status)

    # Cheaper estimation: rungs of a multi-fidelity search, and the supernet runs of one-shot / DARTS.

    def log_rung(self, run_ids: Mapping[int, str], candidate: Candidate, result: CandidateResult, rung: Any) -> None:
        """A candidate reached a rung: its val accuracy there, at step = epochs trained (the fidelity).

        The child run stays open across rungs; `finish_candidate` logs the joined curve at the end.
        """
        run_id, step, stamp = run_ids[candidate.index], result.epochs_run, _now_ms()
        metrics = [Metric("rung", float(rung.index), stamp, step)]
        if result.val_accuracy is not None:
            metrics.append(Metric("rung_val_accuracy", float(result.val_accuracy), stamp, step))
        self.client.log_batch(run_id, metrics=metrics, tags=[RunTag(RUNG_TAG, str(rung.index))])

    def start_child(self, name: str, kind: str, params: Mapping[str, Any]) -> str:
        """A child run of the search for something that is not a candidate (a supernet, say)."""
        tags = {PARENT_TAG: self.parent_run_id or "", KIND_TAG: kind}
        run_id = str(self.client.create_run(self.experiment_id, tags=tags, run_name=name).info.run_id)
        self.log_params(run_id, params)
        return run_id

    def log_series(self, run_id: str, series: Mapping[str, Sequence[float]], first_step: int = 1) -> None:
        """Metrics per step (epochs), so the MLflow UI draws them as curves."""
        stamp = _now_ms()
        metrics = [
            Metric(name, float(v), stamp, step)
            for name, values in series.items()
            for step, v in enumerate(values, start=first_step)
            if v == v
        ]
        for start in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[start : start + 1000])

    def end_child(self, run_id: str, ok: bool = True) -> None:
        self.client.set_terminated(run_id, status=RunStatus.to_string(RunStatus.FINISHED if ok else RunStatus.FAILED))
