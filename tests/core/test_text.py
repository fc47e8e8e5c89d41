"""The text vectorization: fitted on training texts, and the same in numpy and in the exported raw-string model."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from nas_core.errors import NasError
from nas_core.text import TextFeatures, fit_vocabulary, predict_texts, vectorize, with_raw_text_input
from nas_core.text_space import build_text_model

TRAIN = np.array(
    [
        "The rain is cold!",
        "Cold rain, cold wind.",
        "the sun is warm",
        "Warm sun; warm SAND",
        "rain and wind",
    ]
)


def features(max_tokens: int = 100, sequence_length: int = 4) -> TextFeatures:
    return fit_vocabulary(TRAIN, max_tokens, sequence_length)


def test_vocabulary_is_lower_case_without_punctuation_most_frequent_first() -> None:
    fitted = features()
    # Padding and OOV first; then by count (3, 2, 1); Keras breaks ties by the token, in reverse order.
    assert fitted.vocabulary == ("", "[UNK]", "warm", "rain", "cold", "wind", "the", "sun", "is", "sand", "and")
    assert fitted.vocabulary_size == 11
    assert all(type(token) is str for token in fitted.vocabulary)


def test_max_tokens_counts_padding_and_oov_and_keeps_the_most_frequent() -> None:
    fitted = features(max_tokens=5)
    assert fitted.vocabulary_size == 5
    assert fitted.vocabulary[2:] == ("warm", "rain", "cold")


def test_unknown_words_are_oov_short_texts_padded_and_long_texts_cut() -> None:
    fitted = features()
    ids = {token: i for i, token in enumerate(fitted.vocabulary)}
    out = vectorize(fitted, np.array(["Cold zebra", "rain wind sun warm sand and the is"]))
    assert out.dtype == np.int32 and out.shape == (2, 4)
    np.testing.assert_array_equal(out[0], [ids["cold"], 1, 0, 0])  # zebra: OOV; then padding at the end
    np.testing.assert_array_equal(out[1], [ids["rain"], ids["wind"], ids["sun"], ids["warm"]])  # the first 4 kept


def test_vectorize_takes_rows_or_a_column_and_batches_give_the_same_ids() -> None:
    fitted = features()
    texts = np.concatenate([TRAIN, TRAIN[::-1]])
    whole = vectorize(fitted, texts)
    np.testing.assert_array_equal(vectorize(fitted, texts[:, None]), whole)
    np.testing.assert_array_equal(vectorize(fitted, texts.astype(object), batch_size=3), whole)
    assert vectorize(fitted, np.array([], dtype=str)).shape == (0, 4)


def test_features_round_trip_through_json() -> None:
    fitted = features()
    assert TextFeatures.from_dict(json.loads(json.dumps(fitted.to_dict()))) == fitted


def test_a_vocabulary_without_words_or_special_tokens_is_refused() -> None:
    with pytest.raises(NasError, match="no tokens"):
        fit_vocabulary(np.array(["", "!!", "  "]), 100, 4)
    with pytest.raises(NasError, match="must start with"):
        TextFeatures(("rain", "cold"), 4)
    with pytest.raises(NasError, match="max_tokens"):
        fit_vocabulary(TRAIN, 2, 4)


def test_raw_text_model_saves_loads_and_predicts_like_the_token_model(tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    fitted = features(sequence_length=6)
    arch = {
        "vocabulary_size": fitted.vocabulary_size,
        "embedding_dim": 8,
        "conv_blocks": 1,
        "filters_0": 8,
        "kernel_0": 3,
        "recurrent_layers": 1,
        "recurrent_cell": "gru",
        "recurrent_units": 4,
        "transformer_blocks": 1,
        "heads": 2,
        "pooling": "avg",
        "dense_units": 8,
        "activation": "relu",
        "dropout": 0.1,
    }
    model = build_text_model(arch, (fitted.sequence_length,), 2)
    texts = np.array(["cold rain", "Warm sun, warm sand!", "an unseen sentence entirely", ""])
    expected = model.predict(vectorize(fitted, texts), verbose=0)

    wrapped = with_raw_text_input(model, fitted)
    wrapped.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")  # safe mode, no custom objects

    assert loaded.input_shape == (None, 1)
    np.testing.assert_allclose(predict_texts(loaded, texts[:, None]), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predict_texts(loaded, texts), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(loaded(texts[:, None])), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded.predict_on_batch(texts[:, None]), expected, rtol=1e-5, atol=1e-6)
