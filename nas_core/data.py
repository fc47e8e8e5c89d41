"""Checking, sub-sampling, splitting and scaling image datasets: pure numpy, no file formats.

Every loader in `flows/io/datasets.py` hands its arrays to `check_arrays`, so a bad dataset fails here,
once, with a message naming where it came from, and never later as a shape error inside Keras.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nas_core.errors import NasError

MIN_PER_CLASS = 3  # one example each for train, val and test
SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True, eq=False)
class Splits:
    """The prepared data, int64 labels 0..k-1 and x as the models take it: float32 images in [0, 1] shaped
    (n, h, w, c), a table's encoded rows (n, width) float32, or a text's token ids (n, length) int32."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def num_classes(self) -> int:
        """The number of classes; every class is present in the training split."""
        return int(max(self.y_train.max(), self.y_val.max(), self.y_test.max())) + 1

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One example's shape, as a model's input layer wants it: (height, width, channels) for an image."""
        return tuple(int(d) for d in self.x_train.shape[1:])

    def arrays(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The (x, y) pair of each split by name, in the fixed order train, val, test."""
        return {
            "train": (self.x_train, self.y_train),
            "val": (self.x_val, self.y_val),
            "test": (self.x_test, self.y_test),
        }


def _describe_labels(values: np.ndarray, limit: int = 12) -> str:
    shown = ", ".join(str(v) for v in values[:limit].tolist())
    more = f", ... ({len(values)} distinct)" if len(values) > limit else ""
    return shown + more


def check_arrays(x: np.ndarray, y: np.ndarray, source: str) -> None:
    """Refuse data that would fail late or train silently wrong; each message names `source`.

    Accepted images are (n, h, w) and (n, h, w, c); flat (n, d) rows are accepted only when d is a
    perfect square (digits has 64 = 8x8 features), which `as_images` then reshapes.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim == 0 or y.ndim == 0 or len(x) == 0 or len(y) == 0 or x.size == 0:
        raise NasError(f"{source}: the dataset is empty (x has shape {x.shape}, y has shape {y.shape})")
    if len(x) != len(y):
        raise NasError(f"{source}: x has {len(x)} examples but y has {len(y)} labels; they must match")
    if x.dtype == np.bool_ or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise NasError(f"{source}: x must hold numbers (integer or float pixels), got dtype {x.dtype}")
    if x.ndim == 2:
        side = math.isqrt(x.shape[1])
        if side * side != x.shape[1]:
            raise NasError(
                f"{source}: x has shape {x.shape}: flat rows of {x.shape[1]} values are not a square image; "
                "give images as (n, height, width) or (n, height, width, channels)"
            )
    elif x.ndim not in (3, 4):
        raise NasError(
            f"{source}: x has shape {x.shape}; images must be (n, height, width) or (n, height, width, channels)"
        )
    if np.issubdtype(x.dtype, np.floating):
        finite = np.isfinite(x)
        if not finite.all():
            bad = int(x.size - np.count_nonzero(finite))
            raise NasError(f"{source}: x holds {bad} NaN or infinite pixel value{'s' if bad > 1 else ''}")
    if x.min() < 0:
        raise NasError(f"{source}: x holds negative pixel values (min {x.min()}); pixels must be >= 0")
    if y.ndim != 1:
        raise NasError(f"{source}: y must be one label per example (shape (n,)), got shape {y.shape}")
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)) or y.dtype == np.bool_:
        raise NasError(f"{source}: labels must be integers 0..k-1, got dtype {y.dtype}")
    if np.issubdtype(y.dtype, np.floating) and not (np.isfinite(y).all() and np.array_equal(y, np.round(y))):
        raise NasError(f"{source}: labels must be integers 0..k-1, found non-integer values such as {y[0]!r}")
    found = np.unique(y)
    if len(found) < 2:
        raise NasError(f"{source}: all {len(y)} labels are {found[0]}: a classifier needs at least 2 classes")
    expected = np.arange(len(found))
    if not np.array_equal(found, expected):
        raise NasError(
            f"{source}: labels must be the integers 0..k-1 with every class present; found {_describe_labels(found)}"
        )


def as_images(x: np.ndarray) -> np.ndarray:
    """Reshape checked flat square rows (n, s*s) to images (n, s, s); leave images as they are."""
    if x.ndim == 2:
        side = math.isqrt(x.shape[1])
        return x.reshape(len(x), side, side)
    return x


def _labels_int64(y: np.ndarray) -> np.ndarray:
    return np.asarray(y).astype(np.int64, copy=False)


def subsample(
    x: np.ndarray, y: np.ndarray, limit: int, seed: int, key: str = "data.limit"
) -> tuple[np.ndarray, np.ndarray]:
    """Keep at most `limit` examples, in class proportion, so a quick run still sees every class.

    Each class keeps at least `MIN_PER_CLASS` examples (where it has them) so the split still works.
    """
    y = _labels_int64(y)
    if limit >= len(y):
        return x, y
    classes, counts = np.unique(y, return_counts=True)
    floor = np.minimum(counts, MIN_PER_CLASS)
    if floor.sum() > limit:
        raise NasError(
            f"{key}: {limit} is too small for {len(classes)} classes; "
            f"keep at least {int(floor.sum())} ({MIN_PER_CLASS} per class)"
        )
    # Largest-remainder allocation of what is left above the per-class floor.
    spare = counts - floor
    share = spare * ((limit - floor.sum()) / spare.sum()) if spare.sum() else np.zeros(len(counts))
    keep = floor + np.floor(share).astype(np.int64)
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    for index in order[: limit - int(keep.sum())]:
        keep[index] += 1
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, keep, strict=True)]
    index = np.sort(np.concatenate(chosen))
    return x[index], y[index]


def scale_pixels(images: np.ndarray, scale: float, in_place: bool = False) -> np.ndarray:
    """float32 pixels divided by `scale` and capped at 1, with a channel axis added to (n, h, w) images.

    The prepare stage's scale is the training split's maximum (255 for 8-bit images), so a val or
    test pixel brighter than any in train is capped; `nas predict` scales a user's images the same way.
    """
    images = images.astype(np.float32, copy=not in_place)
    if scale != 1.0:
        images /= np.float32(scale)
    np.minimum(images, np.float32(1.0), out=images)
    return images[..., np.newaxis] if images.ndim == 3 else images


def _cut(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """How many of a class's `n` examples go to val and to test: at least one each, train keeps one."""
    n_val = max(1, round(n * val_fraction))
    n_test = max(1, round(n * test_fraction))
    while n_val + n_test > n - 1:  # only for tiny classes; shrink the larger share first
        if n_val >= n_test:
            n_val -= 1
        else:
            n_test -= 1
    return n_val, n_test


def split_indices(
    y: np.ndarray, val_fraction: float, test_fraction: float, seed: int, source: str = "data"
) -> dict[str, np.ndarray]:
    """A stratified, seeded train/val/test split as each split's example indices, shuffled within the split.

    Images, table rows and texts are split by the same rule, so `data.seed` means the same thing for each.
    """
    y = _labels_int64(y)
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise NasError(
            f"data.val_fraction / data.test_fraction: {val_fraction} and {test_fraction} "
            "must each be in (0, 1) and leave some data to train on"
        )
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLIT_NAMES}
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) < MIN_PER_CLASS:
            raise NasError(
                f"{source}: class {c} has only {len(members)} example{'s' if len(members) != 1 else ''}; "
                f"each class needs at least {MIN_PER_CLASS} (one each for train, val and test)"
            )
        members = rng.permutation(members)
        n_val, n_test = _cut(len(members), val_fraction, test_fraction)
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test : n_test + n_val])
        parts["train"].append(members[n_test + n_val :])
    # Shuffle inside each split so no consumer ever sees the data sorted by class.
    return {name: rng.permutation(np.concatenate(chunks)) for name, chunks in parts.items()}


def split_and_scale(
    x: np.ndarray, y: np.ndarray, val_fraction: float, test_fraction: float, seed: int, source: str = "data"
) -> Splits:
    """A stratified, seeded train/val/test split, scaled to float32 [0, 1] by the training split's max.

    Scaling by the training maximum keeps test pixels from leaking into preprocessing; data already
    in [0, 1] is left as it is.
    """
    x = as_images(np.asarray(x))
    y = _labels_int64(y)
    index = split_indices(y, val_fraction, test_fraction, seed, source)
    x_train = x[index["train"]].astype(np.float32, copy=False)
    peak = float(x_train.max())
    scale = peak if peak > 1.0 else 1.0

    def scaled(images: np.ndarray) -> np.ndarray:
        return scale_pixels(images, scale, in_place=True)  # fancy indexing already made a copy

    return Splits(
        x_train=scaled(x_train),
        y_train=y[index["train"]],
        x_val=scaled(x[index["val"]]),
        y_val=y[index["val"]],
        x_test=scaled(x[index["test"]]),
        y_test=y[index["test"]],
    )
