"""`nas compare A B`: real searches on tiny digits, compared in one page, and that page seen in Chromium.

One MLflow store holds three real searches: random and evolution on the same data, each followed
by a real retrain, and a random search on other data (fewer images: another dataset hash).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mlflow import MlflowClient
from PIL import Image
from typer.testing import CliRunner

from flows.cli import app
from flows.prepare import prepare_flow
from flows.retrain import retrain_flow
from flows.search import run_search_stage
from flows.space import space_flow
from nas_core.uncertainty import difference_noise, standard_error
from tests.conftest import in_directory, write_params

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
PNGS = ("best_so_far", "accuracy_vs_params", "winner_a", "winner_b")
runner = CliRunner()


def tiny(strategy: str, seed: int = 0, limit: int = 360) -> dict[str, Any]:
    return {
        "data": {"limit": limit},
        "search": {"strategy": strategy, "max_candidates": 3, "seed": seed},
        "train": {"epochs": 1},
    }


def search(root: Path, overrides: dict[str, Any], prepare: bool = False) -> str:
    """The stages a user runs, in this process; returns the new search's MLflow run id."""
    params = str(write_params(root / "params.yaml", overrides))
    if prepare:
        prepare_flow(params_path=params)
    space_flow(params_path=params)
    run_search_stage(params_path=params)
    return str(json.loads((root / "artifacts/best_architecture.json").read_text())["search_run_id"])


@pytest.fixture(scope="module")
def store(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with in_directory(tmp_path_factory.mktemp("compare")) as root:
        other = search(root, tiny("random", limit=300), prepare=True)  # first, so data/prepared ends as the main data
        random = search(root, tiny("random"), prepare=True)
        retrain_flow(params_path="params.yaml")
        evolution = search(root, tiny("evolution", seed=1))  # its first proposals are random too
        retrain_flow(params_path="params.yaml")
        client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
        yield {"root": root, "client": client, "random": random, "evolution": evolution, "other": other}


def compare(root: Path, *args: str) -> Any:
    with in_directory(root):
        return runner.invoke(app, ["compare", *args], env={"COLUMNS": "200"})


def winner_numbers(client: MlflowClient, search_id: str) -> dict[str, float]:
    """The val accuracy of the candidate the search named (`best_candidate`), its val examples, its retrain's test."""
    parent = client.get_run(search_id)
    experiment = parent.info.experiment_id
    children = client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{search_id}'")
    named = str(int(parent.data.metrics["best_candidate"]))
    (best,) = [
        run.data.metrics
        for run in children
        if run.data.tags.get("nas.kind") == "candidate" and run.data.tags.get("nas.candidate_index") == named
    ]
    (retrain,) = [run.data.metrics for run in children if run.data.tags.get("nas.kind") == "retrain"]
    return {"val": best["val_accuracy"], "n": best["val_examples"], "test": retrain["test_accuracy"]}


def test_compare_writes_a_page_with_both_searches_their_winners_and_the_noise(store: dict[str, Any]) -> None:
    root, client = store["root"], store["client"]
    evolution_name = client.get_run(store["evolution"]).info.run_name
    result = compare(root, store["random"][:8], evolution_name)  # a run-id prefix, and a run name
    assert result.exit_code == 0, result.output
    folder = Path("reports") / f"compare-{store['random'][:8]}-{store['evolution'][:8]}"
    assert result.stdout.strip() == f"comparison: {folder / 'index.html'}"
    page = (root / folder / "index.html").read_text()

    assert "Two searches compared: random vs evolution" in page
    a, b = winner_numbers(client, store["random"]), winner_numbers(client, store["evolution"])
    assert f"{a['val']:.4f}" in page and f"{b['val']:.4f}" in page
    noise = difference_noise(standard_error(a["val"], int(a["n"])), standard_error(b["val"], int(b["n"])))
    gap = b["val"] - a["val"]
    if gap == 0:
        assert f"Both winners score {a['val']:.4f} on val; the noise of a difference is ±{noise:.4f}" in page
    else:
        high, low = ("evolution", "random") if gap > 0 else ("random", "evolution")
        sentence = f"{high.capitalize()}'s winner is {abs(gap):.4f} above {low}'s; the noise of that difference is"
        assert f"{sentence} ±{noise:.4f}" in page
    told = "so val cannot tell them apart" if abs(gap) <= noise else "the lead is beyond the noise: on val"
    assert told in page
    assert "Retrained and scored once on test" in page  # both searches have a retrain
    assert f"{a['test']:.4f}" in page and f"{b['test']:.4f}" in page
    assert "Different data" not in page

    for name in PNGS:
        assert f'src="{name}.png"' in page
        with Image.open(root / folder / f"{name}.png") as image:
            assert image.format == "PNG" and min(image.size) >= 300
            assert np.asarray(image.convert("L")).std() > 5  # something is drawn, not a blank canvas


def test_an_unknown_or_ambiguous_search_exits_2_naming_it(store: dict[str, Any]) -> None:
    root, client = store["root"], store["client"]
    unknown = compare(root, "no-such-search", store["evolution"])
    assert unknown.exit_code == 2 and unknown.stdout == ""
    assert "A: no search named 'no-such-search'" in unknown.stderr and "Traceback" not in unknown.output
    assert store["evolution"][:8] in unknown.stderr  # the latest searches are listed to choose from

    names = {run_id: client.get_run(run_id).info.run_name for run_id in (store["random"], store["other"])}
    try:
        for run_id in names:
            client.update_run(run_id, name="baseline")  # as renaming two runs in the MLflow UI would
        ambiguous = compare(root, store["evolution"], "baseline")
    finally:
        for run_id, name in names.items():
            client.update_run(run_id, name=name)
    assert ambiguous.exit_code == 2
    assert "B: 'baseline' matches 2 searches" in ambiguous.stderr
    assert store["random"][:8] in ambiguous.stderr and store["other"][:8] in ambiguous.stderr

    same = compare(root, store["random"], store["random"][:10])
    assert same.exit_code == 2 and "is the same search as A" in same.stderr


def test_searches_on_different_data_are_flagged_as_not_comparable(store: dict[str, Any]) -> None:
    root = store["root"]
    result = compare(root, store["random"], store["other"], "--out", "reports/other-data")
    assert result.exit_code == 0, result.output
    page = (root / "reports/other-data/index.html").read_text()
    assert "Different data:" in page and "are not comparable" in page
    assert "(but on different data, so this does not compare the strategies)" in page
    assert "Retrained and scored once on test" not in page and "not retrained" in page  # B has no retrain


def test_the_compare_page_renders_in_a_real_browser(store: dict[str, Any], tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail("needs /usr/bin/chromium: make test-deps (bash scripts/test_deps.sh)")
    root = store["root"]
    result = compare(root, store["random"], store["evolution"], "--out", str(tmp_path / "page"))
    assert result.exit_code == 0, result.output
    index = tmp_path / "page/index.html"

    def shares(name: str) -> tuple[float, float]:
        """The screenshot's share of coloured pixels, and of drawn (not white) ones."""
        shot = tmp_path / f"{name}.png"
        out = subprocess.run(
            [str(REPO / "scripts/screenshot_report.sh"), str(index), str(shot), "1200,1800"],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert out.returncode == 0, out.stderr
        with Image.open(shot) as image:
            assert image.size == (1200, 1800)
            pixels = np.asarray(image.convert("RGB")).astype(int)
        colour = pixels.max(axis=-1) - pixels.min(axis=-1) > 60
        return float(colour.mean()), float((pixels.min(axis=-1) < 200).mean())

    colour, drawn = shares("with-charts")
    for png in index.parent.glob("*.png"):  # the same page with its images gone: what a broken report shows
        png.unlink()
    bare_colour, bare_drawn = shares("without-charts")
    # The page itself is text and tables, and little colour: the charts and drawings bring the rest.
    assert drawn > 2 * bare_drawn and colour > 1.5 * bare_colour, "the page rendered without its charts"
