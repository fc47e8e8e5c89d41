"""Issue 7: every broken dataset a user can hand us fails as one NasError naming the file, never a traceback."""

from __future__ import annotations

import gzip
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flows.io.datasets import load_dataset
from nas_core.config import DataConfig
from nas_core.errors import NasError

NPZ = "data/raw/set.npz"


def _npz(root: Path, **arrays: np.ndarray) -> Path:
    path = root / NPZ
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def _load_npz(root: Path) -> NasError:
    with pytest.raises(NasError) as caught:
        load_dataset(DataConfig(source="npz", path=NPZ), root)
    assert str(root / NPZ) in str(caught.value), "the message must name the file"
    return caught.value


def _images(n: int = 6) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(n, 4, 4), dtype=np.uint8)


def test_missing_file(tmp_path: Path) -> None:
    assert "does not exist" in str(_load_npz(tmp_path))


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / NPZ).parent.mkdir(parents=True)
    (tmp_path / NPZ).write_bytes(b"")
    assert "is empty (0 bytes)" in str(_load_npz(tmp_path))


def test_file_that_is_not_an_npz(tmp_path: Path) -> None:
    (tmp_path / NPZ).parent.mkdir(parents=True)
    (tmp_path / NPZ).write_text("label,pixel0\n1,0\n")
    message = str(_load_npz(tmp_path))
    assert "not an .npz file (not a zip archive)" in message and "allow_pickle" not in message


def test_truncated_npz(tmp_path: Path) -> None:
    path = _npz(tmp_path, x=_images(), y=np.arange(6) % 2)
    path.write_bytes(path.read_bytes()[:-200])
    assert "npz" in str(_load_npz(tmp_path))


def test_npz_with_a_damaged_member(tmp_path: Path) -> None:
    path = _npz(tmp_path, x=_images(), y=np.arange(6) % 2)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", members["x.npy"][:40])  # header cut short
        archive.writestr("y.npy", members["y.npy"])
    assert "corrupt .npz file" in str(_load_npz(tmp_path))


def test_npz_without_the_expected_keys(tmp_path: Path) -> None:
    _npz(tmp_path, images=_images(), labels=np.arange(6) % 2)
    message = str(_load_npz(tmp_path))
    assert "no array 'x' or 'y'" in message and "it has: images, labels" in message


def test_npz_with_object_arrays_is_not_unpickled(tmp_path: Path) -> None:
    _npz(tmp_path, x=np.array([_images(1), "text"], dtype=object), y=np.array([0, 1]))
    assert "object arrays, which need pickle" in str(_load_npz(tmp_path))


def test_x_and_y_of_different_lengths(tmp_path: Path) -> None:
    _npz(tmp_path, x=_images(6), y=np.array([0, 1, 0, 1, 0]))
    assert "x has 6 examples but y has 5 labels" in str(_load_npz(tmp_path))


def test_a_single_class(tmp_path: Path) -> None:
    _npz(tmp_path, x=_images(), y=np.zeros(6, dtype=np.int64))
    assert "all 6 labels are 0" in str(_load_npz(tmp_path))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_pixels(tmp_path: Path, bad: float) -> None:
    x = _images().astype(np.float32)
    x[2, 1, 1] = bad
    _npz(tmp_path, x=x, y=np.arange(6) % 2)
    assert "1 NaN or infinite pixel value" in str(_load_npz(tmp_path))


@pytest.mark.parametrize(
    ("labels", "found"),
    [
        ([1, 2, 1, 2, 1, 2], "found 1, 2"),
        ([0, 1, 3, 0, 1, 3], "found 0, 1, 3"),
        ([0, 1, -1, 0, 1, 0], "found -1, 0, 1"),
    ],
)
def test_labels_not_0_to_k_minus_1(tmp_path: Path, labels: list[int], found: str) -> None:
    _npz(tmp_path, x=_images(), y=np.array(labels))
    message = str(_load_npz(tmp_path))
    assert "labels must be the integers 0..k-1" in message and found in message


def test_images_of_mixed_sizes_name_one_file_of_each_size(tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(folder / label / f"{i}.png")
    Image.fromarray(np.zeros((8, 9), dtype=np.uint8)).save(folder / "b" / "wide.png")
    with pytest.raises(NasError) as caught:
        load_dataset(DataConfig(source="image_folder", path="pics"), tmp_path)
    message = str(caught.value)
    assert "different sizes" in message
    assert f"8x8: {folder / 'a' / '0.png'}" in message and f"9x8: {folder / 'b' / 'wide.png'}" in message


def test_unreadable_image_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(folder / label / "ok.png")
    (folder / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(NasError, match=r"broken\.png: not a readable image"):
        load_dataset(DataConfig(source="image_folder", path="pics"), tmp_path)


def test_missing_image_folder(tmp_path: Path) -> None:
    with pytest.raises(NasError, match=rf"data\.path: {tmp_path / 'nowhere'} does not exist"):
        load_dataset(DataConfig(source="image_folder", path="nowhere"), tmp_path)


def _mnist_cache(root: Path) -> Path:
    path = root / "data" / "external" / "mnist.pkl.gz"
    path.parent.mkdir(parents=True)
    return path


@pytest.mark.parametrize(
    "content",
    [
        b"",  # empty cache file
        b"definitely not gzip",  # not gzip at all
        gzip.compress(b"\x80\x02garbage that is no pickle"),  # gzip of a corrupt pickle
        gzip.compress(pickle.dumps(((np.zeros((2, 784), np.float32), np.zeros(2)),) * 3, protocol=2))[:-30],
    ],
    ids=["empty", "not-gzip", "corrupt-pickle", "truncated"],
)
def test_corrupt_mnist_cache_file(tmp_path: Path, content: bytes) -> None:
    path = _mnist_cache(tmp_path)
    path.write_bytes(content)
    with pytest.raises(NasError) as caught:
        load_dataset(DataConfig(source="mnist"), tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not a readable MNIST pickle") and "delete it" in message


def test_mnist_cache_with_bad_labels_names_the_file(tmp_path: Path) -> None:
    path = _mnist_cache(tmp_path)
    part = (np.zeros((3, 784), np.float32), np.array([1, 2, 1], np.int64))
    path.write_bytes(gzip.compress(pickle.dumps((part, part, part), protocol=2)))
    with pytest.raises(NasError, match=rf"{path}: labels must be the integers 0\.\.k-1"):
        load_dataset(DataConfig(source="mnist"), tmp_path)


def test_npy_file_given_as_npz(tmp_path: Path) -> None:
    (tmp_path / NPZ).parent.mkdir(parents=True)
    with (tmp_path / NPZ).open("wb") as stream:
        np.save(stream, _images())
    assert "holds a single .npy array" in str(_load_npz(tmp_path))
