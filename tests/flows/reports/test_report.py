"""The search report: files, what the page shows, MLflow round trip, and a real browser's view of it.

The searches here are recorded through the real `MlflowTracker` into a real SQLite store, with
results made up (no training): the report only reads records. A real flow run that writes its
report is in tests/flows/test_cli.py.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flows.io.paths import REPORTS_DIR
from flows.reports.architecture import draw_architecture, graphviz_available, layer_boxes
from flows.reports.charts import SearchCurve
from flows.reports.page import SearchData, write_report
from flows.tracking.search_record import report_after_search, report_search
from flows.tracking.tracker import MlflowTracker
from nas_core.architecture import cnn_search_space
from nas_core.config import SpaceConfig
from nas_core.objectives import Objective
from nas_core.param_count import count_params
from nas_core.results import COMPLETED, CandidateResult, failed
from nas_core.search_loop import Candidate

REPO = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")


def made_up_results(n: int = 14, seed: int = 0) -> list[CandidateResult]:
    """Plausible records of a search on 8x8 digits: real parameter counts, curves that rise and settle."""
    space = cnn_search_space(SpaceConfig())
    rng = np.random.default_rng(seed)
    results = []
    for i in range(n):
        arch = space.canonical(space.sample(rng))
        if i % 6 == 4:
            results.append(failed(f"k{i}", arch, "loss became NaN/inf at epoch 2", i))
            continue
        params = count_params(arch, (8, 8, 1), 10)
        accuracy = float(np.clip(0.75 + 0.04 * np.log10(params) + rng.normal(0, 0.03), 0, 0.995))
        epochs = np.arange(1, int(rng.integers(3, 9)) + 1)
        history = {
            "val_accuracy": list(accuracy - 0.4 * np.exp(-epochs / 1.5)),
            "accuracy": list(min(1.0, accuracy + 0.02) - 0.5 * np.exp(-epochs / 1.2)),
            "loss": list(2.0 * np.exp(-epochs / 2)),
            "val_loss": list(2.1 * np.exp(-epochs / 2)),
        }
        results.append(
            CandidateResult(
                f"k{i}", arch, COMPLETED, accuracy, 0.3, params, 5.0, len(epochs), history, index=i, latency_ms=0.5
            )
        )
    return results


def record_search(tracker: MlflowTracker, strategy: str, results: list[CandidateResult]) -> str:
    """Log a search through the tracker exactly as the search flow does."""
    config = {"search": {"strategy": strategy, "objective": "accuracy", "objective_weight": 0.07}}
    parent = tracker.start_search(config, "hash", strategy)
    for result in results:
        candidate = Candidate(result.index, result.architecture, result.architecture, result.key)
        tracker.finish_candidate(tracker.start_candidate(candidate), result)
    tracker.finish_search({"candidates": len(results), "wall_seconds": 12.0})
    return parent


def test_report_has_every_chart_and_the_page_shows_them(tmp_path: Path) -> None:
    results = made_up_results()
    data = SearchData(
        "0123456789abcdef", "random", results, Objective(), {"skipped_over_max_params": 3}, "", (8, 8, 1), 10
    )
    curves = [SearchCurve("random", [r.score for r in results]), SearchCurve("evolution", [0.5, None, 0.9])]
    index = write_report(data, tmp_path, curves)
    page = index.read_text()
    for name in (
        "accuracy_by_candidate",
        "accuracy_vs_params",
        "learning_curves",
        "best_architecture",
        "strategy_comparison",
    ):
        png = tmp_path / f"{name}.png"
        assert f'src="{name}.png"' in page
        with Image.open(png) as image:
            # A real figure, not a thumbnail; a Graphviz layer graph is tall and narrow, hence no fixed orientation.
            assert image.format == "PNG" and max(image.size) >= 500 and min(image.size) >= 300
            assert np.asarray(image.convert("L")).std() > 5  # something is drawn, not a blank canvas
    winner = max((r for r in results if r.ok), key=lambda r: (r.val_accuracy, -(r.params or 0)))
    assert f"candidate #{winner.index}" in page
    assert '<tr class="win"><td>' + str(winner.index) in page
    assert "skipped (over max_params)" in page and ">3<" in page
    front = (tmp_path / "pareto_front.json").read_text()
    assert f'"index": {winner.index}' in front  # the most accurate candidate is always on the front


def test_one_search_gets_no_strategy_comparison(tmp_path: Path) -> None:
    results = made_up_results(5)
    write_report(SearchData("run1", "grid", results), tmp_path, [SearchCurve("grid", [r.score for r in results])])
    assert not (tmp_path / "strategy_comparison.png").exists()
    assert "strategy_comparison" not in (tmp_path / "index.html").read_text()


def test_architecture_drawing_shows_skips_projections_and_shapes(tmp_path: Path) -> None:
    arch = {
        "conv_blocks": 2,
        "filters_0": 16,
        "kernel_0": 3,
        "pool_0": "max",
        "skip_0": True,  # 1 -> 16 channels: a projection
        "filters_1": 16,
        "kernel_1": 5,
        "pool_1": "avg",
        "skip_1": True,  # 16 -> 16: a plain skip
        "dense_layers": 1,
        "units_0": 64,
        "activation": "gelu",
        "padding": "same",
        "dropout": 0.25,
        "batch_norm": True,
    }
    texts = [(box.kind, box.text, box.skip) for box in layer_boxes(arch, (8, 8, 1), 10)]
    assert texts[0] == ("input", "Input  →  8×8×1", None)
    assert texts[1][2] == "skip + 1×1 proj" and "8×8×16" in texts[1][1] and "BatchNorm" in texts[1][1]
    assert texts[3][2] == "skip" and "Conv 5×5, 16 filters" in texts[3][1]
    assert ("pool", "Average pool 2×2  →  2×2×16", None) in texts
    assert ("dense", "Flatten  →  64", None) in texts
    assert texts[-1] == ("output", "Dense 10 · softmax", None)
    assert draw_architecture(arch, tmp_path / "arch.png", (8, 8, 1), 10, use_graphviz=False) == "matplotlib"
    assert (tmp_path / "arch.png").stat().st_size > 5000


def test_with_graphviz_the_architecture_is_laid_out_by_graphviz(tmp_path: Path) -> None:
    if not graphviz_available():
        pytest.fail("needs Graphviz's dot and pydot: make test-deps (bash scripts/test_deps.sh)")
    arch = made_up_results(1)[0].architecture
    assert draw_architecture(arch, tmp_path / "arch.png", (8, 8, 1), 10) == "graphviz"
    with Image.open(tmp_path / "arch.png") as image:
        assert image.format == "PNG" and image.height > image.width  # a top-to-bottom layer graph


def test_report_from_mlflow_compares_searches_and_restores_the_records(workdir: Path) -> None:
    tracker = MlflowTracker("sqlite:///mlflow.db", "report-test")
    first = made_up_results(5, seed=1)
    record_search(tracker, "random", first)
    second_id = record_search(tracker, "evolution", made_up_results(6, seed=2))
    index = report_search(tracker.client, tracker.experiment_id, None, REPORTS_DIR)  # the latest search
    assert index == REPORTS_DIR / second_id / "index.html"
    assert (index.parent / "strategy_comparison.png").is_file()
    artifacts = {a.path for a in tracker.client.list_artifacts(second_id, "report")}
    assert {"report/index.html", "report/accuracy_vs_params.png", "report/best_architecture.png"} <= artifacts

    from flows.tracking.search_record import load_search

    query = "tags.`nas.strategy` = 'random' and tags.`nas.kind` = 'search'"  # candidates carry the strategy too
    first_id = tracker.client.search_runs([tracker.experiment_id], query)[0].info.run_id
    loaded = load_search(tracker.client, first_id)
    assert [r.index for r in loaded.results] == [r.index for r in first]
    for original, restored in zip(first, loaded.results, strict=True):
        assert restored.architecture == original.architecture  # ints, floats and bools, not MLflow's strings
        assert restored.status == original.status and restored.params == original.params
        assert restored.val_accuracy == pytest.approx(original.val_accuracy)  # the final value, not the last epoch
    assert loaded.strategy == "random" and loaded.objective == Objective()


def test_a_failing_report_only_warns(workdir: Path, caplog: pytest.LogCaptureFixture) -> None:
    tracker = MlflowTracker("sqlite:///mlflow.db", "report-test")
    data = SearchData("no-such-run", "random", made_up_results(3))
    with caplog.at_level(logging.WARNING):
        assert report_after_search(tracker.client, tracker.experiment_id, data, logging.getLogger("t")) is None
    assert "could not write the search report" in caplog.text


def test_the_report_renders_in_a_real_browser(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail("needs /usr/bin/chromium: make test-deps (bash scripts/test_deps.sh)")
    results = made_up_results()
    index = write_report(
        SearchData("0123456789abcdef", "random", results, input_shape=(8, 8, 1), num_classes=10), tmp_path / "report"
    )

    def colourful_share(name: str) -> float:
        shot = tmp_path / f"{name}.png"
        out = subprocess.run(
            [str(REPO / "scripts/screenshot_report.sh"), str(index), str(shot), "1200,1600"],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert out.returncode == 0, out.stderr
        with Image.open(shot) as image:
            assert image.size == (1200, 1600)
            pixels = np.asarray(image.convert("RGB")).astype(int)
        return float((pixels.max(axis=-1) - pixels.min(axis=-1) > 60).mean())

    with_charts = colourful_share("with-charts")
    for png in index.parent.glob("*.png"):  # the same page with its images gone: what a broken report shows
        png.unlink()
    without_charts = colourful_share("without-charts")
    # The page itself is black and grey on white; only the charts bring colour (their lines and points).
    assert with_charts > 0.001 and with_charts > 10 * without_charts, "the page rendered without its charts"


def test_a_search_without_learning_curves_draws_a_note_and_no_empty_legend() -> None:
    """Candidates recovered without curves (a killed search) still give a chart, and matplotlib no warning."""
    import warnings

    from flows.reports.charts import learning_curves

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure = learning_curves([failed("k", {}, "boom")], Objective())
    (axes,) = figure.axes
    assert axes.get_legend() is None
    assert [t.get_text() for t in axes.texts] == ["no learning curves recorded"]
