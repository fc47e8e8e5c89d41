"""What a user asks a model about: an image file, a folder of images, or an `.npz`, as the model's input.

An image is read and scaled as the prepare stage reads an image-folder dataset
(`flows.io.datasets.read_image`, then `nas_core.data.scale_pixels`): grayscale or RGB as the model
has 1 or 3 channels, 8-bit pixels divided by 255 (the training maximum of any 8-bit image folder).
An image of another size is resized to the model's, since a photo rarely comes at 28x28; an
`.npz` array is taken as it is, since resizing a whole array silently could hide a wrong dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flows.io.datasets import image_files, read_image, read_npz
from nas_core.data import scale_pixels
from nas_core.errors import NasError

PIXEL_SCALE = 255.0  # 8-bit pixels, as every image folder's training split peaks at


@dataclass(frozen=True, eq=False)
class Inputs:
    """Model-ready images (float32 (n, h, w, c) in [0, 1]), a name for each, and labels if the file had them."""

    names: list[str]
    x: np.ndarray
    y: np.ndarray | None = None


def read_inputs(path: Path, input_shape: tuple[int, int, int]) -> Inputs:
    """An image file, a folder of images or an `.npz` (x, optional y), fitted to `input_shape` (h, w, c)."""
    if not path.exists():
        raise NasError(f"{path}: no such file or folder")
    if path.is_dir():
        return _folder(path, input_shape)
    if path.suffix.lower() == ".npz":
        return _npz(path, input_shape)
    return Inputs([path.name], read_images([path], input_shape))


def colour_mode(input_shape: tuple[int, int, int]) -> str:
    """PIL's mode for a model's channels: "L" for 1, "RGB" for 3; images cannot fill any other count."""
    channels = input_shape[2]
    if channels not in (1, 3):
        raise NasError(
            f"the model takes {channels} channels per pixel; images can be read only for 1 (grayscale) or 3 (RGB): "
            "give an .npz with x shaped like the model's input instead"
        )
    return "L" if channels == 1 else "RGB"


def read_images(files: list[Path], input_shape: tuple[int, int, int]) -> np.ndarray:
    """Images in the model's colour mode and size, scaled to [0, 1]: float32 (n, h, w, c)."""
    height, width, _ = input_shape
    mode = colour_mode(input_shape)
    pixels = np.stack([read_image(file, mode, size=(width, height)) for file in files])
    return scale_pixels(pixels, PIXEL_SCALE, in_place=True)


def _folder(path: Path, input_shape: tuple[int, int, int]) -> Inputs:
    files = image_files(path)
    if not files:
        raise NasError(f"{path}: holds no images (PNG, JPEG, ... directly in the folder)")
    return Inputs([f.name for f in files], read_images(files, input_shape))


def _npz(path: Path, input_shape: tuple[int, int, int]) -> Inputs:
    arrays = read_npz(path, ("x",), ("y",))
    x = fit_array(arrays["x"], input_shape, str(path))
    y = arrays.get("y")
    if y is not None:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
            raise NasError(f"{path}: y must be one integer label per image of x ({len(x)}), got {y.dtype} {y.shape}")
    return Inputs([f"{path.name}[{i}]" for i in range(len(x))], x, y)


def fit_array(x: np.ndarray, input_shape: tuple[int, int, int], source: str) -> np.ndarray:
    """`x` as the model's input: (n, h, w, c); (n, h, w) for one channel and flat rows are reshaped.

    Floats must already be in [0, 1], as data/prepared holds them; integers are 8-bit pixels.
    """
    height, width, channels = input_shape
    x = np.asarray(x)
    given = x.shape
    if x.ndim == 2 and x.shape[1] == height * width * channels:
        x = x.reshape(len(x), height, width, channels)
    if x.ndim == 3 and channels == 1:
        x = x[..., np.newaxis]
    if x.ndim != 4 or x.shape[1:] != input_shape or len(x) == 0:
        raise NasError(
            f"{source}: x has shape {given}; the model takes images of {height}x{width}x{channels}, "
            f"so x must be (n, {height}, {width}, {channels})"
            + (f" or (n, {height}, {width})" if channels == 1 else "")
        )
    if x.dtype == np.bool_ or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise NasError(f"{source}: x must hold numbers (pixels), got dtype {x.dtype}")
    if np.issubdtype(x.dtype, np.integer):
        if x.min() < 0 or x.max() > 255:
            raise NasError(f"{source}: integer pixels must be 8-bit (0 to 255), found {x.min()} to {x.max()}")
        return scale_pixels(x, PIXEL_SCALE)
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise NasError(
            f"{source}: float pixels must be in [0, 1] as data/prepared holds them, found {x.min()} to {x.max()}; "
            "scale them, or give 8-bit integers"
        )
    return x.astype(np.float32, copy=False)
