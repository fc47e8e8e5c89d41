"""The pure data layer: checks, subsampling, the stratified split, scaling, the manifest and split files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nas_core.data import Splits, as_images, check_arrays, split_and_scale, subsample
from nas_core.errors import NasError
from nas_core.prepared import load_split, manifest

SOURCE = "data/raw/tiny.npz"


def tiny_images(
    n_per_class: int = 20, classes: int = 3, shape: tuple[int, ...] = (6, 6)
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images whose pixels encode their class, so a mixed-up split would show."""
    rng = np.random.default_rng(7)
    y = np.repeat(np.arange(classes), n_per_class)
    x = rng.integers(0, 200, size=(len(y), *shape), dtype=np.uint8)
    x.reshape(len(y), -1)[:, 0] = y * 10 + 5
    return x, y


def test_split_is_stratified_and_complete() -> None:
    x, y = tiny_images(n_per_class=20, classes=3)
    splits = split_and_scale(x, y, val_fraction=0.2, test_fraction=0.2, seed=0)
    for part in (splits.y_train, splits.y_val, splits.y_test):
        assert np.bincount(part, minlength=3).tolist() == [len(part) // 3] * 3
    assert (len(splits.y_train), len(splits.y_val), len(splits.y_test)) == (36, 12, 12)
    # Every example lands in exactly one split, with its own label (pixel [0, 0] encodes the class).
    everything = np.concatenate([splits.x_train, splits.x_val, splits.x_test])
    labels = np.concatenate([splits.y_train, splits.y_val, splits.y_test])
    assert len(everything) == len(x)
    assert np.allclose(everything[:, 0, 0, 0] * 199, labels * 10 + 5, atol=1e-3)


def test_small_classes_still_reach_every_split() -> None:
    x, y = tiny_images(n_per_class=3, classes=4)
    splits = split_and_scale(x, y, val_fraction=0.1, test_fraction=0.1, seed=1)
    for part in (splits.y_train, splits.y_val, splits.y_test):
        assert sorted(set(part.tolist())) == [0, 1, 2, 3]


def test_split_depends_on_seed_only() -> None:
    x, y = tiny_images()
    first = split_and_scale(x, y, 0.2, 0.2, seed=3)
    again = split_and_scale(x, y, 0.2, 0.2, seed=3)
    other = split_and_scale(x, y, 0.2, 0.2, seed=4)
    assert np.array_equal(first.x_train, again.x_train) and np.array_equal(first.y_test, again.y_test)
    assert not np.array_equal(first.x_train, other.x_train)


def test_split_is_not_sorted_by_class() -> None:
    x, y = tiny_images(n_per_class=30)
    splits = split_and_scale(x, y, 0.2, 0.2, seed=0)
    assert not np.all(np.diff(splits.y_train) >= 0)


def test_scaling_uses_training_max_and_adds_channel_axis() -> None:
    x, y = tiny_images()
    splits = split_and_scale(x, y, 0.2, 0.2, seed=0)
    assert splits.x_train.dtype == np.float32 and splits.x_train.shape[1:] == (6, 6, 1)
    assert splits.input_shape == (6, 6, 1) and splits.num_classes == 3
    assert splits.x_train.max() == pytest.approx(1.0) and splits.x_train.min() >= 0.0
    train_max = 199  # the largest uint8 value tiny_images draws
    assert np.allclose(splits.x_val * train_max, np.rint(splits.x_val * train_max), atol=1e-3)


def test_data_already_in_unit_range_is_not_rescaled() -> None:
    x, y = tiny_images()
    unit = (x / 400.0).astype(np.float32)  # max 0.4975
    splits = split_and_scale(unit, y, 0.2, 0.2, seed=0)
    assert splits.x_train.max() == pytest.approx(unit.max())


def test_colour_images_keep_their_channels_and_flat_squares_become_images() -> None:
    x, y = tiny_images(shape=(5, 5, 3))
    assert split_and_scale(x, y, 0.2, 0.2, seed=0).input_shape == (5, 5, 3)
    flat = np.arange(4 * 64).reshape(4, 64)
    assert as_images(flat).shape == (4, 8, 8)
    flat_x, flat_y = tiny_images(shape=(16,))
    check_arrays(flat_x, flat_y, SOURCE)
    assert split_and_scale(flat_x, flat_y, 0.2, 0.2, seed=0).input_shape == (4, 4, 1)


def test_class_with_too_few_examples_is_named() -> None:
    x, y = tiny_images(n_per_class=5, classes=3)
    keep = np.concatenate([np.flatnonzero(y != 2), np.flatnonzero(y == 2)[:2]])
    with pytest.raises(NasError, match=r"class 2 has only 2 examples"):
        split_and_scale(x[keep], y[keep], 0.2, 0.2, seed=0, source=SOURCE)


def test_manifest_describes_splits_and_hash_is_stable() -> None:
    x, y = tiny_images()
    splits = split_and_scale(x, y, 0.2, 0.2, seed=0)
    info = manifest(splits, "npz")
    assert info["num_classes"] == 3 and info["input_shape"] == [6, 6, 1] and info["dtype"] == "float32"
    assert info["splits"]["train"]["class_counts"] == [12, 12, 12]
    assert info["splits"]["test"]["x_shape"] == [12, 6, 6, 1]
    assert info["content_hash"] == manifest(split_and_scale(x, y, 0.2, 0.2, seed=0), "npz")["content_hash"]
    assert len(info["content_hash"]) == 64


def test_manifest_hash_changes_with_one_pixel_a_label_or_the_seed() -> None:
    x, y = tiny_images()
    base = split_and_scale(x, y, 0.2, 0.2, seed=0)
    digest = manifest(base, "npz")["content_hash"]
    pixel = base.x_test.copy()
    pixel[0, 1, 1, 0] += 0.5
    label = base.y_val.copy()
    label[0] = (label[0] + 1) % 3
    changed = [
        Splits(base.x_train, base.y_train, base.x_val, base.y_val, pixel, base.y_test),
        Splits(base.x_train, base.y_train, base.x_val, label, base.x_test, base.y_test),
        split_and_scale(x, y, 0.2, 0.2, seed=1),
    ]
    hashes = {manifest(s, "npz")["content_hash"] for s in changed}
    assert digest not in hashes and len(hashes) == 3


def test_subsample_keeps_limit_and_class_balance() -> None:
    x, y = tiny_images(n_per_class=50, classes=4)
    y = y.copy()
    y[:30] = 1  # unbalanced: class 0 has 20, class 1 has 80
    small_x, small_y = subsample(x, y, limit=50, seed=0)
    counts = np.bincount(small_y, minlength=4)
    assert small_x.shape == (50, 6, 6) and len(small_y) == 50 and counts.sum() == 50
    assert counts[1] > counts[0] >= 3
    assert np.array_equal(subsample(x, y, 50, seed=0)[1], small_y)
    assert len(subsample(x, y, limit=10_000, seed=0)[1]) == 200
    with pytest.raises(NasError, match=r"data\.limit: 8 is too small for 4 classes"):
        subsample(x, y, limit=8, seed=0)


@pytest.mark.parametrize(
    ("x", "y", "problem"),
    [
        (np.zeros((0, 4, 4)), np.zeros(0, dtype=int), r"empty"),
        (np.zeros((5, 4, 4)), np.array([0, 1, 0, 1]), r"x has 5 examples but y has 4 labels"),
        (np.zeros((4, 4, 4)), np.array([1, 1, 1, 1]), r"all 4 labels are 1.*at least 2 classes"),
        (np.full((4, 4, 4), np.nan), np.array([0, 1, 0, 1]), r"64 NaN or infinite"),
        (np.array([[[np.inf]], [[1.0]]]), np.array([0, 1]), r"1 NaN or infinite pixel value\b"),
        (np.zeros((4, 4, 4)), np.array([1, 2, 1, 2]), r"integers 0\.\.k-1.*found 1, 2"),
        (np.zeros((4, 4, 4)), np.array([0, 2, 0, 2]), r"found 0, 2"),
        (np.zeros((4, 4, 4)), np.array([0, 1, 0, -1]), r"found -1, 0, 1"),
        (np.zeros((4, 4, 4)), np.array([0.0, 1.5, 0.0, 1.0]), r"non-integer"),
        (np.zeros((4, 4, 4)), np.array(["a", "b", "a", "b"]), r"dtype <U1"),
        (np.zeros((4, 10)), np.array([0, 1, 0, 1]), r"flat rows of 10 values are not a square image"),
        (np.zeros(4), np.array([0, 1, 0, 1]), r"shape \(4,\)"),
        (np.zeros((4, 2, 2, 2, 2)), np.array([0, 1, 0, 1]), r"shape \(4, 2, 2, 2, 2\)"),
        (np.full((4, 2, 2), -1.0), np.array([0, 1, 0, 1]), r"negative pixel values"),
        (np.zeros((4, 2, 2), dtype=bool), np.array([0, 1, 0, 1]), r"must hold numbers"),
        (np.zeros((4, 2, 2)), np.array([[0], [1], [0], [1]]), r"one label per example"),
    ],
)
def test_check_arrays_names_source_and_problem(x: np.ndarray, y: np.ndarray, problem: str) -> None:
    with pytest.raises(NasError, match=problem) as caught:
        check_arrays(x, y, SOURCE)
    assert str(caught.value).startswith(f"{SOURCE}: ")


def test_check_arrays_accepts_good_data_and_float_whole_labels() -> None:
    x, y = tiny_images()
    check_arrays(x, y, SOURCE)
    check_arrays(x.astype(np.float64), y.astype(np.float32), SOURCE)
    check_arrays(x[..., np.newaxis], y, SOURCE)


def test_check_arrays_lists_many_labels_briefly() -> None:
    with pytest.raises(NasError, match=r"found 1, 2, .*\.\.\. \(40 distinct\)"):
        check_arrays(np.zeros((40, 2, 2)), np.arange(1, 41), SOURCE)


def test_load_split_round_trip_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "train.npz"
    np.savez(good, x=np.ones((3, 2, 2, 1), dtype=np.float64), y=np.array([0, 1, 0], dtype=np.int32))
    x, y = load_split(good)
    assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape == (3, 2, 2, 1)

    with pytest.raises(NasError, match=r"missing\.npz: prepared split not found.*prepare"):
        load_split(tmp_path / "missing.npz")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(good.read_bytes()[:100])
    with pytest.raises(NasError, match=r"corrupt\.npz: prepared split is corrupt"):
        load_split(corrupt)
    wrong_keys = tmp_path / "keys.npz"
    np.savez(wrong_keys, images=np.ones((3, 2, 2, 1)))
    with pytest.raises(NasError, match=r"keys\.npz: not a prepared split \(it has \['images'\]"):
        load_split(wrong_keys)
    no_channels = tmp_path / "no_channels.npz"  # images lost their channel axis: neither images nor rows
    np.savez(no_channels, x=np.ones((3, 4, 4)), y=np.array([0, 1, 0]))
    with pytest.raises(NasError, match=r"no_channels\.npz: prepared split has x \(3, 4, 4\)"):
        load_split(no_channels)
    rows, tokens = tmp_path / "rows.npz", tmp_path / "tokens.npz"  # a table's encoded rows, a text's token ids
    np.savez(rows, x=np.ones((3, 4)), y=np.array([0, 1, 0]))
    np.savez(tokens, x=np.ones((3, 5), dtype=np.int64), y=np.array([0, 1, 0]))
    assert load_split(rows)[0].dtype == np.float32 and load_split(tokens)[0].dtype == np.int32


def test_val_and_test_pixels_brighter_than_train_are_clipped_to_one() -> None:
    x, y = tiny_images(n_per_class=10)
    x = np.minimum(x, 100)
    x[7] = 250  # one bright image; for some seeds it lands in val or test
    clipped = 0
    for seed in range(8):
        splits = split_and_scale(x, y, 0.2, 0.2, seed=seed)
        parts = (splits.x_train, splits.x_val, splits.x_test)
        assert all(0.0 <= part.min() and part.max() <= 1.0 for part in parts)
        bright_in_train = bool(np.all(splits.x_train == 1.0, axis=(1, 2, 3)).any())
        if not bright_in_train:  # scaled by 100, so 250 became 2.5 and was clipped
            assert np.all(np.concatenate(parts[1:]) == 1.0, axis=(1, 2, 3)).sum() == 1
            clipped += 1
    assert clipped > 0
