"""Reading tables and text corpora (csv, text_csv and their built-ins) into plain columns and labels.

Each reader explains what is wrong with its own file in one line naming the file and the column;
splitting and encoding are the core's (nas_core.data, nas_core.tabular, nas_core.text).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flows.io.builtin_data import BUILTIN_COLUMNS, builtin_file, ensure_builtin, is_builtin
from nas_core.config import DataConfig
from nas_core.data import Splits, split_indices, subsample
from nas_core.errors import NasError, reason

MAX_CLASSES = 1000


@dataclass(frozen=True, eq=False)
class Table:
    """A table's feature columns (numeric float64 with NaN for missing, or categorical str with "" for
    missing), which of them are categorical, labels 0..k-1 and the class names in label order."""

    columns: dict[str, np.ndarray]
    categorical: tuple[str, ...]
    y: np.ndarray
    class_names: tuple[str, ...]

    def rows(self, index: np.ndarray) -> dict[str, np.ndarray]:
        return {name: values[index] for name, values in self.columns.items()}


@dataclass(frozen=True, eq=False)
class Corpus:
    """Texts (one str per document), labels 0..k-1 and the class names in label order."""

    texts: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise NasError(f"data.path: {path} does not exist")
    if not path.is_file():
        raise NasError(f"data.path: {path} is not a file")
    try:
        # Bytes that are not UTF-8 (a corpus scraped from the web has some) become U+FFFD, not an error.
        frame = pd.read_csv(path, encoding="utf-8", encoding_errors="replace", skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise NasError(f"data.path: {path} is empty") from None
    except (pd.errors.ParserError, ValueError, OSError) as error:
        raise NasError(f"{path}: not a readable CSV file ({reason(error)})") from None
    if frame.empty:
        raise NasError(f"{path}: has a header but no rows")
    return frame


def _column(frame: pd.DataFrame, name: str, key: str, path: Path) -> pd.Series:
    if name not in frame.columns:
        raise NasError(f"{key}: {path} has no column {name!r} (it has: {', '.join(map(str, frame.columns))})")
    return frame[name]


def labels(values: pd.Series, path: Path, column: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """A label column as 0..k-1, classes in sorted order of their text; rows without a label are refused."""
    missing = int(values.isna().sum())
    if missing:
        raise NasError(f"{path}: column {column!r} has {missing} rows without a label; remove or label them")
    text = values.astype(str).str.strip()
    names = tuple(sorted(text.unique()))
    if len(names) < 2:
        raise NasError(f"{path}: column {column!r} has one class only ({names[0]!r}); a classifier needs 2 or more")
    if len(names) > MAX_CLASSES:
        raise NasError(f"{path}: column {column!r} has {len(names)} distinct labels; is it really the label column?")
    lookup = {name: i for i, name in enumerate(names)}
    return text.map(lookup).to_numpy(dtype=np.int64), names


def read_table(path: Path, label: str, categorical: list[str] | None = None) -> Table:
    """A CSV with a label column: every other column is a feature, categorical when it is not numeric
    (or when `categorical` names it), numeric otherwise."""
    frame = _read_csv(path)
    y, names = labels(_column(frame, label, "data.label", path), path, label)
    features = frame.drop(columns=[label])
    if features.shape[1] == 0:
        raise NasError(f"{path}: has only the label column {label!r}; a table needs feature columns too")
    for name in categorical or []:
        _column(features, name, "data.categorical", path)
    forced = set(categorical or [])
    columns: dict[str, np.ndarray] = {}
    kinds: list[str] = []
    for name in features.columns:
        values = features[name]
        if name not in forced and pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            columns[str(name)] = values.to_numpy(dtype=np.float64, na_value=np.nan)
            if not np.isfinite(columns[str(name)][~np.isnan(columns[str(name)])]).all():
                raise NasError(f"{path}: column {name!r} holds infinite values")
        else:
            text = values.astype("string").fillna("").str.strip()
            columns[str(name)] = text.to_numpy(dtype=str)
            kinds.append(str(name))
    return Table(columns, tuple(kinds), y, names)


def read_corpus(path: Path, text_column: str, label: str) -> Corpus:
    """Texts with labels: a CSV with a text and a label column, or a folder with one sub-folder of
    .txt files per class (the folder's name is the class)."""
    if path.is_dir():
        return read_text_folder(path)
    frame = _read_csv(path)
    y, names = labels(_column(frame, label, "data.label", path), path, label)
    texts = _column(frame, text_column, "data.text_column", path).astype("string").fillna("")
    return Corpus(texts.to_numpy(dtype=str), y, names)


def read_text_folder(path: Path) -> Corpus:
    """One sub-folder per class holding .txt files (UTF-8; other bytes become U+FFFD), labels in sorted folder order."""
    classes = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise NasError(
            f"data.path: {path} needs one sub-folder of .txt files per class (at least 2), found {len(classes)}"
        )
    texts: list[str] = []
    y: list[int] = []
    for label, folder in enumerate(classes):
        files = sorted(f for f in folder.glob("*.txt") if f.is_file())
        if not files:
            raise NasError(f"data.path: class folder {folder} holds no .txt files")
        texts += [f.read_bytes().decode("utf-8", errors="replace") for f in files]
        y += [label] * len(files)
    return Corpus(np.array(texts, dtype=str), np.array(y, dtype=np.int64), tuple(c.name for c in classes))


RAW_EXAMPLES = 5  # raw val rows kept in the manifest: they sign the exported model in MLflow


def _source_file(cfg: DataConfig, root: Path) -> tuple[Path, dict[str, str]]:
    """The CSV (or text folder) to read and the columns a built-in fixes; `data.label`/`text_column` win."""
    if is_builtin(cfg.source):
        ensure_builtin(cfg.source, root)
        return builtin_file(cfg.source, root), BUILTIN_COLUMNS[cfg.source]
    assert cfg.path is not None  # DataConfig requires it for csv and text_csv
    path = Path(cfg.path).expanduser()
    return (path if path.is_absolute() else root / path), {}


def _split(y: np.ndarray, cfg: DataConfig, path: Path) -> dict[str, np.ndarray]:
    """Each split's example indices: the examples `data.limit` keeps (stratified), split as images are."""
    kept = np.arange(len(y))
    if cfg.limit is not None:
        kept = subsample(kept, y, cfg.limit, cfg.seed)[0]
    split = split_indices(y[kept], cfg.val_fraction, cfg.test_fraction, cfg.seed, str(path))
    return {name: kept[part] for name, part in split.items()}


def _json_value(value: Any) -> Any:
    return None if isinstance(value, float) and np.isnan(value) else value.item() if hasattr(value, "item") else value


def table_splits(cfg: DataConfig, root: Path) -> tuple[Splits, dict[str, Any]]:
    """A table split like images are, encoded by statistics of its train split only; the manifest's extras."""
    from nas_core.tabular import encode, fit_features

    path, fixed = _source_file(cfg, root)
    table = read_table(path, cfg.label or fixed.get("label", "label"), cfg.categorical)
    index = _split(table.y, cfg, path)
    features = fit_features(table.rows(index["train"]), table.categorical)  # numeric columns first, as encoded
    x = {name: encode(features, table.rows(part)) for name, part in index.items()}
    val = table.rows(index["val"][:RAW_EXAMPLES])
    examples = {name: [_json_value(v) for v in values] for name, values in val.items()}
    extras = {"features": features.to_dict(), "class_names": list(table.class_names), "raw_examples": examples}
    return _splits(x, {name: table.y[part] for name, part in index.items()}), extras


def corpus_splits(cfg: DataConfig, root: Path) -> tuple[Splits, dict[str, Any]]:
    """A corpus split like images are, its vocabulary built from the train split only; the manifest's extras."""
    from nas_core.text import fit_vocabulary, vectorize

    path, fixed = _source_file(cfg, root)
    corpus = read_corpus(
        path, cfg.text_column or fixed.get("text_column", "text"), cfg.label or fixed.get("label", "label")
    )
    index = _split(corpus.y, cfg, path)
    features = fit_vocabulary(corpus.texts[index["train"]], cfg.max_tokens, cfg.sequence_length)
    x = {name: vectorize(features, corpus.texts[part]) for name, part in index.items()}
    examples = [str(t) for t in corpus.texts[index["val"][:RAW_EXAMPLES]]]
    extras = {"features": features.to_dict(), "class_names": list(corpus.class_names), "raw_examples": examples}
    return _splits(x, {name: corpus.y[part] for name, part in index.items()}), extras


def _splits(x: dict[str, np.ndarray], y: dict[str, np.ndarray]) -> Splits:
    return Splits(x["train"], y["train"], x["val"], y["val"], x["test"], y["test"])
