"""A Keras model written as a TensorFlow SavedModel or a TFLite file, and each read back to predict.

Both go through Keras 3's own `model.export` (TFLite is its "litert" format, converted by
TensorFlow's TFLite converter), so the files are what Keras supports. Reading them back is
TensorFlow itself: the point is to score the exported file, not the Keras model again.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from nas_core.errors import NasError, reason

if TYPE_CHECKING:
    import keras

ExportFormat = Literal["saved_model", "tflite"]
SAVED_MODEL_FILE = "saved_model.pb"


def check_target(path: Path, fmt: ExportFormat) -> None:
    """Refuse a target that would clobber something other than an earlier export of the same format."""
    if fmt == "tflite":
        if path.suffix != ".tflite":
            raise NasError(f"--out: {path}: a TFLite model is a file ending in .tflite")
        if path.is_dir():
            raise NasError(f"--out: {path} is a folder; give the .tflite file to write")
    elif path.exists() and not (path / SAVED_MODEL_FILE).is_file():
        raise NasError(f"--out: {path} exists and is not a SavedModel folder; give a new folder")


def export_model(model: keras.Model, path: Path, fmt: ExportFormat) -> Path:
    """Write `model` to `path` in `fmt`, through a temporary sibling so a failure leaves no half export."""
    check_target(path, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as scratch:
        partial = Path(scratch) / path.name
        try:
            if fmt == "tflite":
                model.export(str(partial), format="litert", verbose=False)
            else:
                model.export(str(partial), format="tf_saved_model", verbose=False)
        except Exception as error:  # the converter's errors are many and untyped
            raise NasError(f"{path}: could not export the model as {fmt} ({reason(error)})") from None
        if path.is_dir():
            shutil.rmtree(path)  # an earlier SavedModel (check_target made sure)
        partial.replace(path)
    return path


def predict_exported(path: Path, x: np.ndarray, fmt: ExportFormat, batch_size: int = 256) -> np.ndarray:
    """Class probabilities from the exported file itself, for `x` (n, h, w, c) float32."""
    import tensorflow as tf

    if fmt == "saved_model":
        served = tf.saved_model.load(str(path))
        return np.concatenate([served.serve(x[i : i + batch_size]).numpy() for i in range(0, len(x), batch_size)])
    with warnings.catch_warnings():
        # TF 2.21 points to the ai-edge-litert package; its own interpreter still runs the same file.
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner()
    (input_name,) = interpreter.get_signature_list()["serving_default"]["inputs"]
    # The runner resizes its input to each batch (the file keeps a dynamic batch dimension).
    outputs = [runner(**{input_name: x[i : i + batch_size]}) for i in range(0, len(x), batch_size)]
    return np.concatenate([next(iter(out.values())) for out in outputs])
