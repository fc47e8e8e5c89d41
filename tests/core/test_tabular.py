"""The table encoding: fitted on training rows, and the same in numpy and in the exported raw-row model."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from nas_core.errors import NasError
from nas_core.tabular import (
    CategoricalColumn,
    NumericColumn,
    TabularFeatures,
    encode,
    fit_features,
    input_name,
    predict_raw,
    raw_inputs,
    with_raw_inputs,
)

TRAIN = {
    "petal length (cm)": np.array([1.0, 2.0, 3.0, np.nan, 4.0, 2.0]),
    "color": np.array(["red", "blue", "red", "", "green", "red"]),
    "count": np.array([5, 5, 5, 5, 5, 5]),
    "size": np.array(["S", "M", "M", "L", "S", "M"], dtype=object),
}
CATEGORICAL = ("size", "color")


def features() -> TabularFeatures:
    return fit_features(TRAIN, CATEGORICAL)


def test_fit_uses_training_statistics_and_orders_columns_numeric_then_categorical() -> None:
    fitted = features()
    length, count = fitted.numeric
    assert (length.name, count.name) == ("petal length (cm)", "count")
    assert length.mean == pytest.approx(2.4)  # NaN ignored
    assert length.std == pytest.approx(np.std([1.0, 2.0, 3.0, 4.0, 2.0]))
    assert count.std == 1.0  # a constant column is not divided by zero
    # Table order, not the order of `categorical`; most frequent first, ties by value; "" is not a value.
    assert fitted.categorical == (
        CategoricalColumn("color", ("red", "blue", "green")),
        CategoricalColumn("size", ("M", "S", "L")),
    )
    assert fitted.width == 2 + 4 + 4


def test_vocabulary_is_capped_and_rarer_values_are_unknown() -> None:
    values = np.array(["a"] * 3 + ["b"] * 2 + ["c"])
    fitted = fit_features({"letter": values}, ["letter"], max_vocabulary=2)
    assert fitted.categorical[0].vocabulary == ("a", "b")
    np.testing.assert_array_equal(encode(fitted, {"letter": np.array(["c"])}), [[1, 0, 0]])


def test_encode_standardizes_and_one_hots_with_slot_zero_for_unknown_or_missing() -> None:
    fitted = features()
    rows = {
        "petal length (cm)": np.array([2.4, np.nan, 4.4]),
        "color": np.array(["blue", "purple", ""]),
        "count": np.array([5, 6, 5]),
        "size": np.array(["L", None, "M"], dtype=object),
    }
    std = fitted.numeric[0].std
    expected = np.array(
        [
            [0.0, 0.0, 0, 0, 1, 0, 0, 0, 0, 1],
            [0.0, 1.0, 1, 0, 0, 0, 1, 0, 0, 0],
            [2.0 / std, 0.0, 1, 0, 0, 0, 0, 1, 0, 0],
        ]
    )
    out = encode(fitted, rows)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_features_survive_the_manifest_as_json() -> None:
    fitted = features()
    assert TabularFeatures.from_dict(json.loads(json.dumps(fitted.to_dict()))) == fitted


def test_problems_name_the_column() -> None:
    fitted = features()
    with pytest.raises(NasError, match="column 'size' is missing"):
        encode(fitted, {k: v for k, v in TRAIN.items() if k != "size"})
    with pytest.raises(NasError, match="'color' is not numeric"):
        fit_features(TRAIN, ["size"])
    with pytest.raises(NasError, match="'empty' has no values"):
        fit_features({"empty": np.array(["", ""])}, ["empty"])
    with pytest.raises(NasError, match="both become the model input 'a_b'"):
        TabularFeatures((NumericColumn("a b", 0.0, 1.0), NumericColumn("a_b", 0.0, 1.0)), ())


def test_input_names_are_safe_identifiers() -> None:
    assert input_name("petal length (cm)") == "petal_length__cm_"
    assert input_name("a/b") == "a_b"
    assert input_name("2nd") == "col_2nd"
    assert input_name("where") == "where"  # a Keras op's name too, yet it cannot clash (see below)


def test_raw_row_model_matches_encode_after_a_save_load_round_trip(tmp_path: Path) -> None:
    # Column names that are also the names of layers and ops inside the wrapper must not clash.
    train = TRAIN | {"where": np.array([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])}
    fitted = fit_features(train, CATEGORICAL)
    inner = keras.Sequential([keras.Input((fitted.width,)), keras.layers.Dense(3, activation="softmax")])
    rows = {
        "petal length (cm)": np.array([2.0, np.nan, 10.0, -1.0]),
        "color": np.array(["red", "purple", "", "[UNK]"]),  # known, unseen, missing, Keras' own OOV token
        "count": np.array([5, 5, 7, 5]),
        "size": np.array(["M", None, "L", "XL"], dtype=object),
        "where": np.array([0.0, 1.0, np.nan, 2.0]),
    }
    expected = inner.predict(encode(fitted, rows), verbose=0)

    wrapped = with_raw_inputs(inner, fitted)
    inputs = raw_inputs(fitted, rows)
    assert set(inputs) == {input_name(name) for name in fitted.names} == set(wrapped.input)
    assert inputs["color"].dtype == object and inputs["count"].dtype == np.float32
    np.testing.assert_allclose(predict_raw(wrapped, inputs), expected, atol=1e-6)

    wrapped.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(predict_raw(loaded, inputs, batch_size=3), expected, atol=1e-6)
    one_row = raw_inputs(fitted, rows, index=[2])
    np.testing.assert_allclose(predict_raw(loaded, one_row), expected[2:3], atol=1e-6)


def test_a_single_column_table_wraps_too() -> None:
    fitted = fit_features({"x": np.array([1.0, 3.0])}, [])
    inner = keras.Sequential([keras.Input((1,)), keras.layers.Dense(2, activation="softmax")])
    rows = {"x": np.array([np.nan, 3.0])}
    np.testing.assert_allclose(
        predict_raw(with_raw_inputs(inner, fitted), raw_inputs(fitted, rows)),
        inner.predict(encode(fitted, rows), verbose=0),
        atol=1e-6,
    )
