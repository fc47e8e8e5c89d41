"""A table as numbers: fitted once on the training rows, applied the same way in numpy and in Keras.

The prepare stage fits `TabularFeatures` on the training split and `encode`s every split into one
float32 matrix, so candidates train on plain numbers. The exported model gets the same encoding
prepended by `with_raw_inputs`, so it takes raw rows (one named input per column) and nobody has
to re-implement the preprocessing at serving time.

The encoding, column by column (numeric columns first, then categorical ones):
- numeric: `(x - mean) / std`; a missing value (NaN, or ±inf) becomes 0.0, the training mean;
- categorical: one-hot over `len(vocabulary) + 1` slots; slot 0 is "unknown or missing" (a value
  not in the vocabulary, or ""), slot i + 1 is `vocabulary[i]`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from nas_core.errors import NasError

# Rarer categories fall into the "unknown" slot: a column of IDs or free text would otherwise
# become thousands of one-hot columns, most seen once in training and never again.
MAX_VOCABULARY = 1000


@dataclass(frozen=True)
class NumericColumn:
    """A numeric column and the training statistics that standardize it."""

    name: str
    mean: float
    std: float


@dataclass(frozen=True)
class CategoricalColumn:
    """A categorical column and its known values, most frequent first (slot i + 1 is vocabulary[i])."""

    name: str
    vocabulary: tuple[str, ...]

    def __post_init__(self) -> None:
        # "" is "missing" and must stay in the unknown slot; a repeated value would get two slots.
        if "" in self.vocabulary or len(set(self.vocabulary)) != len(self.vocabulary):
            raise NasError(f"data: the vocabulary of column '{self.name}' holds '' or a repeated value")


@dataclass(frozen=True)
class TabularFeatures:
    """Everything needed to encode a table the same way everywhere: stored in the prepared manifest."""

    numeric: tuple[NumericColumn, ...]
    categorical: tuple[CategoricalColumn, ...]

    def __post_init__(self) -> None:
        names = self.names
        if len(set(names)) != len(names):
            raise NasError(f"data: duplicate column names in {names}")
        by_input: dict[str, str] = {}
        for name in names:
            other = by_input.setdefault(input_name(name), name)
            if other != name:
                raise NasError(
                    f"data: columns '{other}' and '{name}' both become the model input '{input_name(name)}'; "
                    "rename one of them"
                )

    @property
    def names(self) -> list[str]:
        """Column names in encoding order: numeric, then categorical."""
        return [c.name for c in self.numeric] + [c.name for c in self.categorical]

    @property
    def width(self) -> int:
        """Columns of the encoded matrix: one per numeric column, vocabulary + 1 per categorical one."""
        return len(self.numeric) + sum(len(c.vocabulary) + 1 for c in self.categorical)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (the manifest's "features")."""
        return {
            "numeric": [{"name": c.name, "mean": c.mean, "std": c.std} for c in self.numeric],
            "categorical": [{"name": c.name, "vocabulary": list(c.vocabulary)} for c in self.categorical],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TabularFeatures:
        return cls(
            tuple(NumericColumn(str(c["name"]), float(c["mean"]), float(c["std"])) for c in data.get("numeric", [])),
            tuple(
                CategoricalColumn(str(c["name"]), tuple(str(v) for v in c["vocabulary"]))
                for c in data.get("categorical", [])
            ),
        )


def input_name(column: str) -> str:
    """The model input name for a column: every character outside [A-Za-z0-9_] becomes "_", and a
    name that would not start with a letter gets the prefix "col_" (`"petal length (cm)"` ->
    `"petal_length__cm_"`, `"2nd"` -> `"col_2nd"`).

    Keras forbids "/" in names, and exported signatures and JSON clients are happiest with identifiers.
    """
    name = re.sub(r"[^A-Za-z0-9_]", "_", column)
    if not name or not ("a" <= name[0].lower() <= "z"):
        name = "col_" + name
    return name


def _column(columns: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    """One column as a 1-D array; a missing column is a user-fixable error that names it."""
    if name not in columns:
        raise NasError(f"data: column '{name}' is missing (have {sorted(columns)})")
    values = np.asarray(columns[name])
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise NasError(f"data: column '{name}' has shape {values.shape}, expected one value per row")
    return values


def _as_numbers(values: np.ndarray, name: str) -> np.ndarray:
    try:
        return values.astype(np.float32)
    except (TypeError, ValueError):
        raise NasError(f"data: column '{name}' is not numeric; list it as categorical") from None


def _as_strings(values: np.ndarray) -> np.ndarray:
    """A categorical column as Python strings, None and NaN counted as missing ("") as pandas has them."""
    if values.dtype.kind == "U":
        return values.astype(object)
    return np.array(["" if v is None or v != v else _text(v) for v in values.tolist()], dtype=object)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def fit_features(
    columns: Mapping[str, np.ndarray], categorical: Collection[str], max_vocabulary: int = MAX_VOCABULARY
) -> TabularFeatures:
    """Fit the encoding on the TRAINING rows only, so validation and test rows stay unseen.

    `columns` holds the feature columns only (not the label); the ones named in `categorical` are
    categorical, the others numeric. Column order follows `columns`, numeric first, so the encoding
    never depends on how `categorical` happens to be ordered. A column with no value at all in the
    training rows is an error: it could only ever encode as a constant.
    """
    unknown = sorted(set(categorical) - set(columns))
    if unknown:
        raise NasError(f"data: categorical columns {unknown} are not in the table (have {sorted(columns)})")
    if not columns:
        raise NasError("data: the table has no feature columns")
    numeric: list[NumericColumn] = []
    categories: list[CategoricalColumn] = []
    for name in columns:
        if name in categorical:
            counts = Counter(v for v in _as_strings(_column(columns, name)).tolist() if v != "")
            if not counts:
                raise NasError(f"data: categorical column '{name}' has no values in the training rows; drop it")
            ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:max_vocabulary]
            categories.append(CategoricalColumn(name, tuple(value for value, _ in ranked)))
        else:
            values = _as_numbers(_column(columns, name), name).astype(np.float64)
            values = values[np.isfinite(values)]
            if not values.size:
                raise NasError(f"data: numeric column '{name}' has no values in the training rows; drop it")
            std = float(values.std())
            numeric.append(NumericColumn(name, float(values.mean()), std if std > 0 and np.isfinite(std) else 1.0))
    return TabularFeatures(tuple(numeric), tuple(categories))


def encode(features: TabularFeatures, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """The float32 matrix (rows, `features.width`) that candidates train on.

    Arithmetic is in float32, as in the Keras layers of `with_raw_inputs`, so both agree to the bit
    on numeric columns.
    """
    lengths = {name: len(_column(columns, name)) for name in features.names}
    if len(set(lengths.values())) > 1:
        raise NasError(f"data: columns have different lengths {lengths}")
    rows = next(iter(lengths.values()))
    out = np.zeros((rows, features.width), dtype=np.float32)
    for i, num in enumerate(features.numeric):
        values = (_as_numbers(_column(columns, num.name), num.name) - np.float32(num.mean)) / np.float32(num.std)
        out[:, i] = np.where(np.isfinite(values), values, np.float32(0.0))
    offset = len(features.numeric)
    for cat in features.categorical:
        slots = {value: i + 1 for i, value in enumerate(cat.vocabulary)}
        uniques, inverse = np.unique(_as_strings(_column(columns, cat.name)).astype(str), return_inverse=True)
        index = np.array([slots.get(str(u), 0) for u in uniques], dtype=np.int64)[inverse.reshape(-1)]
        out[np.arange(rows), offset + index] = 1.0
        offset += len(cat.vocabulary) + 1
    return out


def raw_inputs(
    features: TabularFeatures,
    columns: Mapping[str, np.ndarray],
    index: Sequence[int] | np.ndarray | slice | None = None,
) -> dict[str, np.ndarray]:
    """The dict the `with_raw_inputs` model takes: {input_name(column): (rows, 1) array}.

    Numeric columns become float32 (NaN for missing); categorical ones object arrays of `str`
    ("" for missing). `index` picks rows (e.g. the test split) before converting.
    """
    out: dict[str, np.ndarray] = {}
    for num in features.numeric:
        values = _column(columns, num.name)
        out[input_name(num.name)] = _as_numbers(values if index is None else values[index], num.name)[:, None]
    for cat in features.categorical:
        values = _column(columns, cat.name)
        out[input_name(cat.name)] = _as_strings(values if index is None else values[index])[:, None]
    return out


def predict_raw(model: keras.Model, inputs: Mapping[str, np.ndarray], batch_size: int = 1024) -> np.ndarray:
    """Predict raw rows batch by batch.

    `model.predict` rejects numpy string arrays in Keras 3 ("Invalid dtype: object"), while
    `predict_on_batch` and calling the model accept them; this keeps the memory of `predict`.
    """
    rows = len(next(iter(inputs.values())))
    batches = [
        np.asarray(model.predict_on_batch({k: v[start : start + batch_size] for k, v in inputs.items()}))
        for start in range(0, rows, batch_size)
    ]
    return np.concatenate(batches) if batches else np.zeros((0, *model.output_shape[1:]), dtype=np.float32)


def _oov_token(vocabulary: Sequence[str]) -> str:
    """StringLookup's token for slot 0, chosen outside the vocabulary so no real value is taken for it."""
    token = "[UNK]"
    while token in vocabulary:
        token += "_"
    return token


def with_raw_inputs(model: keras.Model, features: TabularFeatures) -> keras.Model:
    """`model` (which takes encoded rows) behind the encoding, so the exported model takes raw rows.

    One input per column, named `input_name(column)`, shape (1,): float32 for numeric columns (NaN
    for missing), string for categorical ones ("" for missing). Built from Keras layers and
    `keras.ops` only, so `keras.saving.load_model` reads it back in safe mode with no custom objects.

    The encoding and `model` sit in one nested model whose own inputs and layers carry names with
    "-", which `input_name` never produces: no column name can clash with a layer name.
    """
    if not features.names:
        raise NasError("data: the table has no feature columns")
    raw: list[Any] = []
    encoded_inputs: list[Any] = []
    parts: list[Any] = []
    for num in features.numeric:
        name = input_name(num.name)
        raw.append(keras.Input(shape=(1,), dtype="float32", name=name))
        inner = keras.Input(shape=(1,), dtype="float32", name=f"raw-{name}")
        encoded_inputs.append(inner)
        z = keras.ops.divide(keras.ops.subtract(inner, np.float32(num.mean)), np.float32(num.std))
        parts.append(keras.ops.where(keras.ops.isfinite(z), z, keras.ops.zeros_like(z)))
    for cat in features.categorical:
        name = input_name(cat.name)
        raw.append(keras.Input(shape=(1,), dtype="string", name=name))
        inner = keras.Input(shape=(1,), dtype="string", name=f"raw-{name}")
        encoded_inputs.append(inner)
        lookup = keras.layers.StringLookup(
            vocabulary=list(cat.vocabulary),
            num_oov_indices=1,
            oov_token=_oov_token(cat.vocabulary),
            output_mode="one_hot",
            name=f"one_hot-{name}",
        )
        parts.append(keras.ops.cast(lookup(inner), "float32"))
    encoded = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="encoded-rows")(parts)
    encode_and_predict = keras.Model(encoded_inputs, model(encoded), name="encode-and-predict")
    return keras.Model(
        {input_name(name): tensor for name, tensor in zip(features.names, raw, strict=True)},
        encode_and_predict(raw),
        name=f"{model.name}-raw-rows",
    )
