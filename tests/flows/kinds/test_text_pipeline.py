"""A text search end to end: a CSV of labelled sentences searched with `space.kind: text`, every candidate an
MLflow child run, the winner drawn in the report and exported taking raw strings; a folder per class too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flows.io.paths import WINNER_MODEL
from flows.io.tables import read_corpus
from nas_core.errors import NasError
from tests.conftest import in_directory
from tests.flows.kinds.kind_pipeline import candidate_runs, run_pipeline, write_kind_params

SPACE = {
    "kind": "text",
    "embedding_dim": [8, 16],
    "conv_blocks": [0, 1],
    "filters": [8],
    "kernel_size": [3],
    "recurrent_layers": [0, 1],
    "recurrent_cell": ["gru"],
    "recurrent_units": [8],
    "transformer_blocks": [0, 1],
    "heads": [2],
    "pooling": ["max", "avg"],
    "dense_units": [0],
    "activation": ["relu"],
    "dropout": [0.0],
}
GOOD = ["great", "lovely", "wonderful", "happy", "excellent", "superb"]
BAD = ["awful", "terrible", "sad", "horrible", "dreadful", "poor"]
FILLER = ["the", "car", "was", "a", "ride", "today", "my", "phone", "and", "it"]


def sentences(rows: int, seed: int = 0) -> pd.DataFrame:
    """Short made-up sentences whose class is told by one word among filler."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(rows):
        positive = i % 2 == 0
        words = [*rng.choice(FILLER, 5).tolist(), str(rng.choice(GOOD if positive else BAD))]
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + "!")
        labels.append("positive" if positive else "negative")
    return pd.DataFrame({"review": texts, "mood": labels})


@pytest.fixture(scope="module")
def run(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with in_directory(tmp_path_factory.mktemp("text")) as root:
        frame = sentences(400)
        (root / "data").mkdir()
        frame.to_csv(root / "data" / "reviews.csv", index=False)
        data = {"source": "text_csv", "path": "data/reviews.csv", "text_column": "review", "label": "mood"}
        data |= {"max_tokens": 100, "sequence_length": 12}
        # Enough steps for a toy corpus of 280 training sentences to be learnt, search and retrain alike.
        training = {"train": {"epochs": 8, "patience": 8, "learning_rate": 0.01}, "retrain": {"epochs": None}}
        params = write_kind_params(root / "params.yaml", data, SPACE, "nas-text", training)
        metrics = run_pipeline(params)
        yield {"root": root, "frame": frame, "metrics": metrics}


@pytest.mark.slow
def test_the_prepared_splits_are_plain_npz_of_token_ids(run: dict[str, Any]) -> None:
    prepared = run["root"] / "data" / "prepared"
    manifest = json.loads((prepared / "manifest.json").read_text())
    assert manifest["kind"] == "text" and manifest["class_names"] == ["negative", "positive"]
    assert manifest["input_shape"] == [12]
    with np.load(prepared / "train.npz", allow_pickle=False) as split:
        assert np.issubdtype(split["x"].dtype, np.integer) and split["x"].shape[1] == 12
        assert split["x"].max() < len(manifest["features"]["vocabulary"])


@pytest.mark.slow
def test_every_candidate_is_a_child_run_with_its_architecture_and_curves(run: dict[str, Any]) -> None:
    client, candidates = candidate_runs(run["root"], "nas-text")
    assert len(candidates) == 3
    finished = [c for c in candidates if c.info.status == "FINISHED"]
    assert finished
    for candidate in candidates:
        assert "embedding_dim" in candidate.data.params and "mlflow.parentRunId" in candidate.data.tags
    for candidate in finished:
        assert len(client.get_metric_history(candidate.info.run_id, "val_accuracy")) >= 1


@pytest.mark.slow
def test_the_report_draws_the_winner(run: dict[str, Any]) -> None:
    drawings = list((run["root"] / "reports").rglob("best_architecture.png"))
    assert drawings and drawings[0].stat().st_size > 1000


@pytest.mark.slow
def test_the_exported_winner_takes_raw_strings(run: dict[str, Any]) -> None:
    import keras

    from nas_core.text import predict_texts

    model = keras.saving.load_model(run["root"] / WINNER_MODEL)
    texts = np.array(["What a lovely ride today", "My phone was awful", "Terrible terrible car"]).reshape(-1, 1)
    probabilities = predict_texts(model, texts)
    assert probabilities.shape == (3, 2) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    frame = run["frame"]
    truth = (frame["mood"] == "positive").to_numpy(dtype=int)
    predicted = np.argmax(predict_texts(model, frame["review"].to_numpy(dtype=str)), axis=1)
    assert np.mean(predicted == truth) > 0.6  # chance is 0.5


def test_a_folder_of_text_files_per_class_is_a_corpus(tmp_path: Path) -> None:
    for name, words in (("neg", BAD), ("pos", GOOD)):
        (tmp_path / name).mkdir()
        for i, word in enumerate(words):
            (tmp_path / name / f"{i}.txt").write_bytes(f"it was {word}\n".encode() + (b"\xff" if i == 0 else b""))
    (tmp_path / "pos" / "notes.md").write_text("not a document")
    corpus = read_corpus(tmp_path, "text", "label")
    assert corpus.class_names == ("neg", "pos") and corpus.y.tolist() == [0] * 6 + [1] * 6
    assert corpus.texts[0] == "it was awful\n\ufffd" and len(corpus.texts) == 12


def test_a_missing_text_column_is_a_one_line_error(tmp_path: Path) -> None:
    sentences(20).to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(NasError, match=r"data.text_column: .*r.csv has no column 'text' \(it has: review, mood\)"):
        read_corpus(tmp_path / "r.csv", "text", "mood")


@pytest.mark.slow
def test_median_stopping_searches_the_text(run: dict[str, Any]) -> None:
    """Median stopping (with TPE) runs on a text space: every candidate trains under the rule and is recorded."""
    from flows.search import run_search_stage

    with in_directory(run["root"]) as root:
        search = {"strategy": "tpe", "max_candidates": 4, "parallelism": 1}
        search |= {"median_stop": {"enabled": True, "min_epochs": 1, "min_candidates": 1}}
        overrides = {"search": search, "train": {"epochs": 3, "patience": 3}}
        data = {"source": "text_csv", "path": "data/reviews.csv", "text_column": "review", "label": "mood"}
        data |= {"max_tokens": 100, "sequence_length": 12}
        params = write_kind_params(root / "median.yaml", data, SPACE, "nas-text-median", overrides)
        summary = run_search_stage(params_path=str(params))
        results = json.loads((root / "artifacts" / "search_results.json").read_text())
    assert summary["completed"] == 4 and summary["failed"] == 0
    assert len(results) == 4 and all(0.0 <= r["val_accuracy"] <= 1.0 for r in results)
