"""What the MLflow UI shows of a real pipeline run: the experiment kind, run names, candidate tags, source tags."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from mlflow import MlflowClient

from flows.io.dvc_version import directory_md5
from flows.prepare import prepare_flow
from flows.retrain import retrain_flow
from flows.search import run_search_stage
from flows.space import space_flow
from flows.tracking.run_labels import dataset_label, entry_point, search_run_name, unique_run_name
from flows.tracking.schema import SEARCH_CONTEXT_TAGS
from flows.tracking.tracker import MlflowTracker
from nas_core.search_loop import Candidate
from tests.conftest import in_directory, write_params

REPO = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
EXPERIMENT = "nas-test"
NAME = re.compile(r"^(?P<strategy>[a-z_]+) · (?P<data>.+) · (?P<date>\d{4}-\d{2}-\d{2} \d{2}:\d{2})(?: #\d+)?$")


@pytest.fixture(scope="module")
def store(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`make run` on tiny digits, then a warm-started search (a seed of its own) and a one-shot search."""
    with in_directory(tmp_path_factory.mktemp("ui")) as root:
        params = str(write_params(root / "params.yaml", {"search": {"seed": 5}}))
        prepare_flow(params_path=params)
        space_flow(params_path=params)
        run_search_stage(params_path=params)
        retrain_flow(params_path=params)
        warm = write_params(root / "warm.yaml", {"search": {"seed": 5, "warm_start": True}})  # same history key
        run_search_stage(params_path=str(warm))
        oneshot = {"estimation": "oneshot", "objective": "accuracy_params", "seed": 2}
        oneshot |= {"oneshot": {"epochs": 1, "evaluations": 4, "top_k": 1}}
        shot = write_params(root / "oneshot.yaml", {"search": oneshot, "tracking": {"experiment": "nas-oneshot"}})
        run_search_stage(params_path=str(shot))
        client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
        yield {"root": root, "client": client, "md5": directory_md5(root / "data/prepared")}


def runs(client: MlflowClient, kind: str, experiment: str = EXPERIMENT) -> list[Any]:
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    query = f"tags.`nas.kind` = '{kind}'"
    return sorted(client.search_runs([found.experiment_id], query), key=lambda r: r.info.start_time)


@pytest.mark.slow
def test_the_experiment_is_a_model_training_experiment(store: dict[str, Any]) -> None:
    for name in (EXPERIMENT, "nas-oneshot"):
        experiment = store["client"].get_experiment_by_name(name)
        assert experiment is not None and experiment.tags["mlflow.experimentKind"] == "custom_model_development"


@pytest.mark.slow
def test_search_runs_are_named_by_strategy_dataset_and_date(store: dict[str, Any]) -> None:
    searches = runs(store["client"], "search") + runs(store["client"], "search", "nas-oneshot")
    assert len(searches) == 3
    plain, warm = (run.info.run_name for run in searches[:2])
    assert plain != warm  # started in the same minute, the second is "#2"
    for run, strategy in zip(searches, ["random", "random", "oneshot"], strict=True):
        match = NAME.match(run.info.run_name)
        assert match, run.info.run_name
        assert match["strategy"] == strategy == run.data.tags["nas.strategy"] and match["data"] == "digits"
        started = datetime.fromtimestamp(run.info.start_time / 1000)  # local time, as the name has it
        assert abs((datetime.strptime(match["date"], "%Y-%m-%d %H:%M") - started).total_seconds()) < 120


@pytest.mark.slow
def test_every_candidate_carries_its_search_context(store: dict[str, Any]) -> None:
    """Strategy, the seed the strategy really used, the data's digests and the objective: as the parent has them."""
    client = store["client"]
    plain, warm = runs(client, "search")
    (oneshot,) = runs(client, "search", "nas-oneshot")
    assert plain.data.tags["nas.search_seed"] == "5" != warm.data.tags["nas.search_seed"]  # a night draws its own
    expected = {
        plain.info.run_id: {"nas.strategy": "random", "nas.search_seed": "5", "nas.objective": "accuracy"},
        warm.info.run_id: {"nas.strategy": "random", "nas.search_seed": warm.data.tags["nas.search_seed"]},
        oneshot.info.run_id: {"nas.strategy": "oneshot", "nas.search_seed": "2", "nas.objective": "accuracy_params"},
    }
    candidates = runs(client, "candidate") + runs(client, "candidate", "nas-oneshot")
    assert len(candidates) == 3 + 3 + 1
    for candidate in candidates:
        parent = client.get_run(candidate.data.tags["mlflow.parentRunId"])
        tags = candidate.data.tags
        assert {k: tags.get(k) for k in SEARCH_CONTEXT_TAGS} == {k: parent.data.tags[k] for k in SEARCH_CONTEXT_TAGS}
        assert expected[parent.info.run_id].items() <= tags.items()
        assert tags["nas.dataset_hash"] == parent.data.params["dataset_hash"]
        assert tags["nas.data_dvc_md5"] == store["md5"] and tags["nas.data_dvc_md5"].endswith(".dir")
        assert tags["mlflow.source.type"] == "LOCAL" and tags["mlflow.source.name"]


@pytest.mark.slow
def test_search_and_retrain_runs_name_their_source(store: dict[str, Any]) -> None:
    (retrain,) = runs(store["client"], "retrain")
    stages = [(run, "flows.search") for run in runs(store["client"], "search")] + [(retrain, "flows.retrain")]
    for run, stage in stages:
        tags = run.data.tags
        assert tags["mlflow.source.type"] == "LOCAL"
        # the process that ran them: pytest here, or the stage's module in a pytest-xdist worker (`python -c`)
        assert tags["mlflow.source.name"] == entry_point(stage)
        assert re.fullmatch(r"[0-9a-f]{40}", tags["mlflow.source.git.commit"])  # this checkout's commit


@pytest.mark.slow
def test_search_and_retrain_runs_log_the_data_as_an_mlflow_dataset(store: dict[str, Any]) -> None:
    """What fills the Dataset column: the data's name, DVC's md5 as digest, the folder and git revision as source."""
    (retrain,) = runs(store["client"], "retrain")
    searches = runs(store["client"], "search") + runs(store["client"], "search", "nas-oneshot")
    for run in [*searches, retrain]:
        full = store["client"].get_run(run.info.run_id)
        (logged,) = full.inputs.dataset_inputs
        assert logged.dataset.name == "digits" and logged.dataset.digest == store["md5"]
        source = json.loads(logged.dataset.source)
        assert source["uri"].endswith("data/prepared") and len(source["git_revision"]) == 40
        context = {tag.key: tag.value for tag in logged.tags}["mlflow.data.context"]
        assert context == ("retrain" if run is retrain else "search")


@pytest.mark.slow
def test_screenshots_of_the_runs_table_and_a_candidate_page(store: dict[str, Any], tmp_path: Path) -> None:
    """scripts/screenshot_mlflow_ui.sh against the fixture's store: the runs table lists val_accuracy."""
    if not CHROMIUM.exists():
        pytest.fail("needs /usr/bin/chromium: make test-deps (bash scripts/test_deps.sh)")
    with socket.socket() as probe:  # a free port on localhost
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    shots, dom = tmp_path / "shots", tmp_path / "dom"
    env = os.environ | {"PYTHON": sys.executable, "PORT": str(port), "DOM_DIR": str(dom)}
    result = subprocess.run(
        [str(REPO / "scripts/screenshot_mlflow_ui.sh"), "params.yaml", str(shots)],
        cwd=store["root"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("mlflow_runs", "mlflow_candidate"):
        png = (shots / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 30_000  # a rendered page, not a blank one
    page = (dom / "mlflow_runs.html").read_text()
    assert "val_accuracy" in page and "nas.search_seed" in page
    assert len(set(re.findall(r"candidate-\d{3}", page))) == 3  # the candidates of both searches share 000-002
    candidate = (dom / "mlflow_candidate.html").read_text()
    assert re.search(r"candidate-\d{3}", candidate) and "random · digits · " in candidate  # its parent, by name


def test_an_existing_experiment_gets_the_kind_tag(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("made-before")  # by an earlier version, without the kind
    assert MlflowTracker(uri, "made-before").experiment_id == experiment_id
    assert client.get_experiment(experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"


def test_a_resumed_search_tags_its_new_candidates_like_the_first_ones(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = {"data": {"source": "npz", "path": "/data/mnist.npz"}, "search": {"seed": 7, "objective": "accuracy"}}
    first = MlflowTracker(uri, "resumed")
    parent = first.start_search(config, "hash", "evolution", extra_tags={"nas.data_dvc_md5": "abc.dir"})
    candidate = Candidate(0, {"conv_blocks": 1}, {"conv_blocks": 1}, "key")
    before = first.client.get_run(first.start_candidate(candidate)).data.tags
    again = MlflowTracker(uri, "resumed")  # a new process takes the killed search up again
    again.resume_search(parent, {})
    after = again.client.get_run(again.start_candidate(candidate)).data.tags
    context = {k: before[k] for k in SEARCH_CONTEXT_TAGS}
    assert context == {k: after[k] for k in SEARCH_CONTEXT_TAGS}
    assert context == {
        "nas.strategy": "evolution",
        "nas.search_seed": "7",
        "nas.dataset_hash": "hash",
        "nas.data_dvc_md5": "abc.dir",
        "nas.objective": "accuracy",
    }
    assert first.client.get_run(parent).info.run_name.startswith("evolution · npz mnist.npz · ")


def test_run_names_say_what_searched_on_which_data_and_when() -> None:
    when = datetime(2026, 12, 1, 4, 31)
    assert search_run_name("random", {"data": {"source": "digits"}}, when) == "random · digits · 2026-12-01 04:31"
    assert dataset_label({"data": {"source": "image_folder", "path": "/srv/photos/flowers/"}}) == "image_folder flowers"
    assert dataset_label({"data": {"source": "mnist", "path": None}}) == "mnist"
    # A second search of the same strategy and data in the same minute gets a number, so names stay unique.
    name = "random · digits · 2026-12-01 04:31"
    assert unique_run_name(name, {"evolution · digits · 2026-12-01 04:31"}) == name
    assert unique_run_name(name, {name}) == f"{name} #2"
    assert unique_run_name(name, {name, f"{name} #2"}) == f"{name} #3"


def test_the_entry_point_is_the_command_that_was_started() -> None:
    def module(name: str | None) -> ModuleType:
        main = ModuleType("__main__")
        main.__spec__ = None if name is None else SimpleNamespace(name=name)  # type: ignore[assignment]
        return main

    assert entry_point("flows.search", ["/repo/flows/search.py", "--params", "p.yaml"], module("flows.search")) == (
        "flows.search"
    )
    assert entry_point("flows.search", ["/repo/.venv/bin/nas", "run", "--direct"], module(None)) == "nas run"
    assert entry_point("flows.retrain", ["/repo/flows/cli.py", "retrain"], module("flows.cli")) == "nas retrain"
    assert entry_point("flows.search", ["-c"], module(None)) == "flows.search"  # nothing to tell: the stage
    assert entry_point("flows.search", ["/x/prefect/engine.py"], module("prefect.engine")) == "flows.search"  # a night
    assert entry_point("flows.search", ["/x/bin/pytest", "tests"], module("pytest.__main__")) == "pytest"


def test_two_searches_started_in_the_same_minute_get_different_names(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = MlflowTracker(uri, "twice")
    config = {"data": {"source": "digits"}, "search": {"seed": 0}}
    now = datetime.now().astimezone()
    for minute in (now, now + timedelta(minutes=1)):  # an earlier search this minute, whichever minute it is
        tracker.client.create_run(
            tracker.experiment_id, tags={"nas.kind": "search"}, run_name=search_run_name("random", config, minute)
        )
    parent = MlflowTracker(uri, "twice").start_search(config, "hash", "random")
    again = MlflowTracker(uri, "twice").start_search(config, "hash", "random")
    first, second = (tracker.client.get_run(run).info.run_name for run in (parent, again))
    assert first.startswith("random · digits · ") and first.endswith(" #2")
    assert second == first.removesuffix(" #2") + " #3" or second.endswith(" #2")  # #2 again if a minute passed
