"""A tabular search end to end: a CSV of numbers and categories, searched with `space.kind: mlp`,
every candidate an MLflow child run, the winner drawn in the report and exported taking raw rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flows.io.paths import WINNER_MODEL
from nas_core.errors import NasError
from tests.conftest import in_directory
from tests.flows.kinds.kind_pipeline import candidate_runs, run_pipeline, write_kind_params

SPACE = {
    "kind": "mlp",
    "hidden_layers": [0, 1, 2],
    "units": [16, 32],
    "activation": ["relu"],
    "dropout": [0.0, 0.1],
    "batch_norm": [False, True],
    "residual": [False, True],
}


def write_table(path: Path, rows: int = 480, seed: int = 0) -> pd.DataFrame:
    """Three classes decided by a number and a category; missing numbers and categories on some rows."""
    rng = np.random.default_rng(seed)
    size = rng.normal(0.0, 1.0, rows)
    colour = rng.choice(["red", "green", "blue"], rows)
    noise = rng.normal(5.0, 2.0, rows)
    label = np.where(colour == "red", "warm", np.where(size > 0, "big", "small"))
    frame = pd.DataFrame({"size": size * 10 + 50, "colour": colour, "noise": noise, "label": label})
    frame.loc[rng.choice(rows, 10, replace=False), "noise"] = np.nan
    frame.loc[rng.choice(rows, 5, replace=False), "colour"] = None
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return frame


@pytest.fixture(scope="module")
def run(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with in_directory(tmp_path_factory.mktemp("tabular")) as root:
        frame = write_table(root / "data" / "table.csv")
        data = {"source": "csv", "path": "data/table.csv", "label": "label"}
        params = write_kind_params(root / "params.yaml", data, SPACE, "nas-tabular")
        metrics = run_pipeline(params)
        yield {"root": root, "frame": frame, "metrics": metrics}


@pytest.mark.slow
def test_the_prepared_splits_are_plain_npz_of_encoded_rows(run: dict[str, Any]) -> None:
    prepared = run["root"] / "data" / "prepared"
    manifest = json.loads((prepared / "manifest.json").read_text())
    assert manifest["kind"] == "tabular" and manifest["class_names"] == ["big", "small", "warm"]
    # size and noise standardized, colour one-hot with a slot for unknown or missing: 2 + (3 + 1)
    assert manifest["input_shape"] == [6]
    with np.load(prepared / "train.npz", allow_pickle=False) as split:
        assert split["x"].dtype == np.float32 and split["x"].shape[1] == 6 and np.isfinite(split["x"]).all()
        assert sorted(np.unique(split["y"]).tolist()) == [0, 1, 2]


@pytest.mark.slow
def test_every_candidate_is_a_child_run_with_its_architecture_and_curves(run: dict[str, Any]) -> None:
    client, candidates = candidate_runs(run["root"], "nas-tabular")
    assert len(candidates) == 3
    for candidate in candidates:
        assert "hidden_layers" in candidate.data.params and "conv_blocks" not in candidate.data.params
        assert "mlflow.parentRunId" in candidate.data.tags
        if candidate.info.status == "FINISHED":
            curve = client.get_metric_history(candidate.info.run_id, "val_accuracy")
            assert len(curve) >= 1


@pytest.mark.slow
def test_the_report_draws_the_winner(run: dict[str, Any]) -> None:
    drawings = list((run["root"] / "reports").rglob("best_architecture.png"))
    assert drawings and drawings[0].stat().st_size > 1000


@pytest.mark.slow
def test_the_exported_winner_takes_raw_rows_with_missing_values(run: dict[str, Any]) -> None:
    import keras

    from nas_core.tabular import TabularFeatures, predict_raw, raw_inputs

    manifest = json.loads((run["root"] / "data" / "prepared" / "manifest.json").read_text())
    features = TabularFeatures.from_dict(manifest["features"])
    model = keras.saving.load_model(run["root"] / WINNER_MODEL)
    frame = run["frame"]
    columns = {
        "size": frame["size"].to_numpy(dtype=np.float64),
        "noise": frame["noise"].to_numpy(dtype=np.float64),
        "colour": frame["colour"].fillna("").to_numpy(dtype=str),
    }
    probabilities = predict_raw(model, raw_inputs(features, columns))
    assert probabilities.shape == (len(frame), 3) and np.isfinite(probabilities).all()
    truth = frame["label"].map({"big": 0, "small": 1, "warm": 2}).to_numpy()
    assert np.mean(np.argmax(probabilities, axis=1) == truth) > 0.5  # chance is about 1/3
    with np.load(run["root"] / "data" / "prepared" / "test.npz", allow_pickle=False) as test:
        assert run["metrics"]["test_examples"] == len(test["y"])


@pytest.mark.slow
def test_a_missing_label_column_is_a_one_line_error(tmp_path: Path) -> None:
    from flows.io.tables import read_table

    write_table(tmp_path / "t.csv")
    with pytest.raises(NasError, match=r"data.label: .*t.csv has no column 'target' \(it has: size, colour"):
        read_table(tmp_path / "t.csv", "target")


@pytest.mark.slow
def test_hyperband_with_evolution_searches_the_table(run: dict[str, Any]) -> None:
    """The multi-fidelity estimation works on a table: rungs resume from checkpoints, as for images."""
    from flows.search import run_search_stage

    with in_directory(run["root"]) as root:
        search = {"strategy": "evolution", "estimation": "hyperband", "max_candidates": 4}
        search |= {"hyperband": {"min_epochs": 1, "eta": 2}}
        overrides = {"search": search, "train": {"epochs": 4, "patience": 4}}
        data = {"source": "csv", "path": "data/table.csv", "label": "label"}
        params = write_kind_params(root / "hyperband.yaml", data, SPACE, "nas-tabular-hyperband", overrides)
        summary = run_search_stage(params_path=str(params))
        results = json.loads((root / "artifacts" / "search_results.json").read_text())
    assert summary["completed"] == 4
    assert sorted(r["epochs_run"] for r in results) == [1, 1, 2, 4]
