"""`dvc repro` for real on a temporary copy of the repo with tiny params, then `dvc push` and a clone's `dvc pull`."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest
import yaml

from tests.flows.dvc_project import copy_project, home_of, run
from tests.flows.test_dvc_lock import stale_lock_entries

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def repo_copy(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("repo"), {"search": {"max_candidates": 2}})
    run(["dvc", "repro"], root)
    return root


def test_repro_runs_all_stages_and_writes_outputs(repo_copy: Path) -> None:
    for path in (
        "data/prepared/manifest.json",
        "artifacts/search_space.json",
        "artifacts/best_architecture.json",
        "models/winner.keras",
        "metrics/search.json",
        "metrics/test.json",
        "dvc.lock",
        "mlflow.db",
    ):
        assert (repo_copy / path).exists(), path
    lock = yaml.safe_load((repo_copy / "dvc.lock").read_text())
    assert set(lock["stages"]) == {"raw", "prepare", "space", "search", "retrain"}
    space = json.loads((repo_copy / "artifacts/search_space.json").read_text())
    assert space["size"] > 0 and space["shape_rule"]["examined"] > 0  # what `nas check` prints


def test_prepared_data_hash_from_disk_equals_dvc_lock(repo_copy: Path) -> None:
    from flows.io.dvc_version import directory_md5, lock_md5

    # what a nightly run outside `dvc repro` records as its data version
    recorded = lock_md5(repo_copy / "dvc.lock")
    assert recorded is not None and directory_md5(repo_copy / "data/prepared") == recorded


def test_second_repro_does_nothing(repo_copy: Path) -> None:
    before = (repo_copy / "metrics/test.json").read_text()
    out = run(["dvc", "repro"], repo_copy).stdout
    assert "Data and pipelines are up to date" in out
    assert "Running stage" not in out
    assert (repo_copy / "metrics/test.json").read_text() == before


def test_metrics_show_has_the_test_accuracy(repo_copy: Path) -> None:
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], repo_copy).stdout)
    text = json.dumps(shown)
    assert "test_accuracy" in text and "best_val_accuracy" in text


def test_a_search_key_change_reruns_search_and_retrain_but_not_prepare(repo_copy: Path) -> None:
    params = yaml.safe_load((repo_copy / "params.yaml").read_text())
    params["search"]["max_candidates"] = 3
    (repo_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = run(["dvc", "repro"], repo_copy).stdout
    assert "Stage 'prepare' didn't change, skipping" in out and "Stage 'space' didn't change, skipping" in out
    assert "Running stage 'search'" in out and "Running stage 'retrain'" in out
    assert json.loads((repo_copy / "metrics/search.json").read_text())["candidates"] == 3


def test_a_space_change_reruns_space_search_and_retrain_but_not_prepare(repo_copy: Path) -> None:
    params = yaml.safe_load((repo_copy / "params.yaml").read_text())
    before = json.loads((repo_copy / "artifacts/search_space.json").read_text())
    params["space"]["filters"] = [8]  # was [8, 16]
    (repo_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = run(["dvc", "repro"], repo_copy).stdout
    assert "Stage 'prepare' didn't change, skipping" in out
    for stage in ("space", "search", "retrain"):
        assert f"Running stage '{stage}'" in out
    after = json.loads((repo_copy / "artifacts/search_space.json").read_text())
    assert after["space"]["dimensions"] != before["space"]["dimensions"] and after["size"] < before["size"]


# What `dvc pull` brings to a clone: DVC keeps these, git does not (data/raw/builtin once the raw stage writes it).
PULLED = ("data/prepared", "models/winner.keras", "data/raw/builtin")


def commit(repo: Path) -> None:
    """Commit the copy as it is now. The tests above change params and rerun, in any order; a repro
    first (nothing to do when they did rerun) makes dvc.lock true for whatever state they left."""
    run(["dvc", "repro"], repo)
    run(["git", "add", "--all"], repo)
    run(["git", "commit", "--quiet", "--allow-empty", "--message", "a pipeline run"], repo)


def clone(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh git clone beside the copy (so the two share HOME, and the default remote in it)."""
    target = tmp_path_factory.mktemp("clone")
    run(["git", "clone", "--quiet", str(repo), str(target)], repo)
    return target


def digests(repo: Path) -> dict[str, str]:
    """The md5 of every file DVC pulls, by path: equal digests mean byte-identical files."""
    found = {}
    for name in PULLED:
        top = repo / name
        for path in [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file()):
            found[path.relative_to(repo).as_posix()] = hashlib.md5(path.read_bytes()).hexdigest()
    return found


def test_push_then_a_fresh_clone_pulls_identical_outputs_and_is_up_to_date(
    repo_copy: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    commit(repo_copy)
    run(["dvc", "push"], repo_copy)  # no -r: the committed default remote, ~/.local/share/nas/dvc-remote
    remote = home_of(repo_copy) / ".local/share/nas/dvc-remote"
    assert any(p.is_file() for p in remote.rglob("*")), f"nothing pushed to {remote}"

    copy = clone(repo_copy, tmp_path_factory)
    assert not (copy / "models/winner.keras").exists()  # git alone does not bring the outputs
    run(["dvc", "pull"], copy)
    pulled = digests(copy)
    assert any(p.startswith("data/prepared/") for p in pulled) and "models/winner.keras" in pulled
    assert pulled == digests(repo_copy)
    assert "Data and pipelines are up to date" in run(["dvc", "status"], copy).stdout


def test_the_lock_check_passes_on_a_fresh_clone_and_names_what_is_stale(
    repo_copy: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    commit(repo_copy)
    assert stale_lock_entries(repo_copy) == []  # outputs in place
    copy = clone(repo_copy, tmp_path_factory)
    assert stale_lock_entries(copy) == []  # outputs missing until `dvc pull`: allowed

    search = copy / "flows" / "search.py"
    search.write_text(search.read_text() + "\n# a code change nobody reran\n")
    params = yaml.safe_load((copy / "params.yaml").read_text())
    params["search"]["max_candidates"] += 1
    (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (copy / "metrics" / "test.json").unlink()  # a lock committed without its metrics
    assert set(stale_lock_entries(copy)) == {
        "search: flows/search.py modified",
        "search: params.yaml search modified",
        "retrain: metrics/test.json deleted (git keeps it with dvc.lock)",
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def add_s3_remote(repo: Path, endpoint: str) -> None:
    """An S3 remote as a team adds one, with the endpoint and credentials in .dvc/config.local (not committed)."""
    run(["dvc", "remote", "add", "--local", "--force", "s3", "s3://nas-dvc/store"], repo)
    settings = {"endpointurl": endpoint, "region": "us-east-1", "access_key_id": "testing", "secret_access_key": "x"}
    for key, value in settings.items():
        run(["dvc", "remote", "modify", "--local", "s3", key, value], repo)


def test_push_to_s3_and_a_fresh_clone_pulls_identical_outputs(
    repo_copy: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    commit(repo_copy)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        s3 = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="x"
        )
        s3.create_bucket(Bucket="nas-dvc")
        add_s3_remote(repo_copy, endpoint)
        run(["dvc", "push", "--remote", "s3"], repo_copy)
        assert s3.list_objects_v2(Bucket="nas-dvc", Prefix="store/")["KeyCount"] > 0

        copy = clone(repo_copy, tmp_path_factory)
        assert not (copy / ".dvc" / "config.local").exists()  # the credentials stayed out of git
        add_s3_remote(copy, endpoint)
        run(["dvc", "pull", "--remote", "s3"], copy)
        assert digests(copy) == digests(repo_copy)
        assert "Data and pipelines are up to date" in run(["dvc", "status"], copy).stdout
    finally:
        server.stop()
