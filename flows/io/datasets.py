"""Reading datasets from where users keep them: each source as plain arrays (nas_core.prepared writes them out).

Each source turns into plain arrays (x images, y labels) that `nas_core.data.check_arrays` then checks
once, so every loader only has to explain what is wrong with its own file format. The built-in
sources are read from their versioned copy in data/raw/builtin (`flows/io/builtin_data.py`).
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from flows.io.builtin_data import (
    builtin_file,
    ensure_builtin,
    flat_labels,
    is_builtin,
    load_digits,
    load_keras_dataset,
)
from nas_core.config import DataConfig
from nas_core.data import as_images, check_arrays, subsample
from nas_core.errors import NasError, reason


def _resolve(cfg: DataConfig, root: Path) -> Path:
    """`data.path` as an absolute path: relative paths are read from the project root, not the cwd."""
    assert cfg.path is not None  # DataConfig requires it for the file sources
    path = Path(cfg.path).expanduser()
    return path if path.is_absolute() else root / path


def load_dataset(cfg: DataConfig, root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load the configured source as checked images (n, h, w[, c]) and labels 0..k-1, then apply `data.limit`.

    A built-in source is read from data/raw/builtin/<name>.npz, which the raw stage writes; when it
    is missing (a run outside `dvc repro`) it is written first, from the package or download.
    """
    source: str
    if is_builtin(cfg.source):
        ensure_builtin(cfg.source, root)
        path = builtin_file(cfg.source, root)
        source = str(path)
        x, y = load_builtin_npz(path)
    elif cfg.source == "npz":
        path = _resolve(cfg, root)
        source = str(path)
        x, y = load_npz(path)
    elif cfg.source == "image_folder":
        path = _resolve(cfg, root)
        source = str(path)
        x, y = load_image_folder(path)
    else:  # DataConfig's Literal makes this unreachable from params.yaml
        raise NasError(f"data.source: unknown source {cfg.source!r}")
    y = flat_labels(y)
    check_arrays(x, y, source)
    x = as_images(x)
    if cfg.limit is not None:
        x, y = subsample(x, y, cfg.limit, cfg.seed)
    return x, y.astype(np.int64, copy=False)


def load_builtin_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A built-in source's versioned copy; a damaged one says how to get it back."""
    try:
        return load_npz(path)
    except NasError as error:
        raise NasError(
            f"{error}; the raw stage writes this file: run `dvc repro raw`, or delete it and it is written again"
        ) from None


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
    arrays = read_npz(path, ("x", "y"))
    return arrays["x"], arrays["y"]


def read_npz(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The named arrays of an existing `.npz`, without pickle; every way the file can be wrong names it.

    Shared by the dataset loader (x and y) and `nas predict` (x, and y when there is one).
    """
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
            f"{path}: not a readable .npz file ({reason(error)}); save it with np.savez(x=..., y=...)"
        ) from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise NasError(f"{path}: holds a single .npy array; save x and y together with np.savez(path, x=..., y=...)")
    with data:
        missing = [key for key in required if key not in data.files]
        if missing:
            has = ", ".join(data.files) or "no arrays"
            needs = " and ".join(required)
            raise NasError(f"{path}: has no array {' or '.join(map(repr, missing))} (it has: {has}); needs {needs}")
        try:
            return {key: data[key] for key in (*required, *optional) if key in data.files}
        except ValueError as error:
            if "allow_pickle" in str(error):
                raise NasError(
                    f"{path}: holds object arrays, which need pickle to load; save plain numeric arrays instead"
                ) from None
            raise NasError(f"{path}: corrupt .npz file ({reason(error)})") from None
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
            raise NasError(f"{path}: corrupt .npz file ({reason(error)})") from None


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
    files: list[tuple[Path, int]] = []
    for label, folder in enumerate(classes):
        images = image_files(folder)
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
            raise NasError(f"{file}: not a readable image ({reason(error)})") from None
    if len(first_of_size) > 1:
        examples = "; ".join(f"{w}x{h}: {f}" for (w, h), f in sorted(first_of_size.items()))
        raise NasError(f"data.path: {path} has images of different sizes ({examples}); resize them to one size")

    (width, height), mode = next(iter(first_of_size)), "RGB" if colour else "L"
    x = np.empty((len(files), height, width, 3) if colour else (len(files), height, width), dtype=np.uint8)
    for i, (file, _) in enumerate(files):
        x[i] = read_image(file, mode)
    return x, np.array([label for _, label in files], dtype=np.int64)


def image_files(folder: Path) -> list[Path]:
    """The images directly in `folder`, sorted by name; files PIL does not know by extension are skipped."""
    from PIL import Image

    extensions = {ext.lower() for ext in Image.registered_extensions()}
    return sorted(
        f for f in folder.iterdir() if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in extensions
    )


def read_image(file: Path, mode: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """One image's 8-bit pixels in PIL `mode` ("L" grayscale or "RGB"), resized (bilinear) to `size`
    (width, height) when given: the prepare stage and `nas predict` read images the same way."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            converted = image.convert(mode)
            if size is not None and converted.size != size:
                converted = converted.resize(size, Image.Resampling.BILINEAR)
            return np.asarray(converted)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise NasError(f"{file}: not a readable image ({reason(error)})") from None


__all__ = [
    "image_files",
    "load_builtin_npz",
    "load_dataset",
    "load_digits",
    "load_image_folder",
    "load_keras_dataset",
    "load_npz",
    "read_image",
    "read_npz",
]
