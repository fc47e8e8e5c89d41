"""Using the champion: serve it over HTTP, predict images with it, export it as a SavedModel or TFLite.

What `nas serve`, `nas predict` and `nas export` do (flows/cli.py prints the results). Each names
its model the same way (`flows.tracking.model_store.resolve_model`): `champion` by default.
See docs/operations/serving.md.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from flows.io.artifacts import read_manifest
from flows.io.images import read_inputs
from flows.io.model_formats import ExportFormat, export_model, predict_exported
from flows.io.paths import MODELS_DIR, PREPARED_DIR
from flows.runtime.model_server import base_url, check_port_free, serve_command, serve_env, stop, wait_until_serving
from flows.tracking.model_store import (
    MLMODEL_FILE,
    ModelSource,
    load_keras_model,
    model_input_shape,
    resolve_model,
)
from flows.tracking.tracker import absolute_tracking_uri
from nas_core.config import NasConfig
from nas_core.errors import NasError
from nas_core.prepared import load_split

if TYPE_CHECKING:
    import keras

PREDICT_BATCH = 256
TFLITE_TOLERANCE = 0.001  # 0.1 accuracy points: an export that loses more is not the model we chose


def serving_uri(source: ModelSource) -> str:
    """What `mlflow models serve -m` takes: a registry URI or an MLflow model folder, not a bare .keras file."""
    if source.uri is not None:
        return source.uri
    assert source.path is not None
    if not (source.path / MLMODEL_FILE).is_file():
        raise NasError(
            f"--model: {source.path} is not an MLflow model (no {MLMODEL_FILE}); serve champion or a version "
            "number, or use nas predict for a .keras file"
        )
    return str(source.path.resolve())


def serve(cfg: NasConfig, model: str, host: str, port: int, on_ready: Callable[[str, str], None]) -> int:
    """Run `mlflow models serve` for `model` until it stops or Ctrl-C; `on_ready(url, model_uri)` once it answers."""
    tracking_uri = absolute_tracking_uri(cfg.tracking.uri)
    model_uri = serving_uri(resolve_model(model, tracking_uri, cfg.retrain.model_name))
    check_port_free(host, port)
    url = base_url(host, port)
    process = subprocess.Popen(serve_command(model_uri, host, port), env=serve_env(tracking_uri))
    try:
        wait_until_serving(url, process)
        on_ready(url, model_uri)
        return process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop(process)


@dataclass(frozen=True)
class Prediction:
    name: str
    label: int
    probability: float
    truth: int | None = None


@dataclass(frozen=True)
class PredictionReport:
    model: str
    predictions: list[Prediction]
    class_names: list[str] | None

    @property
    def accuracy(self) -> float | None:
        """Share of correct predictions, when the inputs came with labels (an .npz with y)."""
        truths = [p.truth for p in self.predictions]
        if not truths or any(t is None for t in truths):
            return None
        return float(np.mean([p.label == p.truth for p in self.predictions]))

    def line(self, p: Prediction) -> str:
        """`name  class 7 (seven)  p 0.9821`, with `label 7` when the true class is known."""
        named = f" ({self.class_names[p.label]})" if self.class_names and p.label < len(self.class_names) else ""
        truth = "" if p.truth is None else f"  label {p.truth}{'' if p.truth == p.label else '  ✗'}"
        return f"{p.name}  class {p.label}{named}  p {p.probability:.4f}{truth}"


def class_names(data_dir: Path = PREPARED_DIR) -> list[str] | None:
    """The prepared data's class names, when its manifest records them (none of the built-in sources do)."""
    try:
        names = read_manifest(data_dir).get("class_names")
    except NasError:
        return None
    return [str(n) for n in names] if isinstance(names, list) else None


def predict(cfg: NasConfig, model: str, target: Path) -> PredictionReport:
    """The class and its probability for every image in `target` (an image, a folder, an .npz)."""
    tracking_uri = absolute_tracking_uri(cfg.tracking.uri)
    if not target.exists():  # before loading a model: the cheap mistake first
        raise NasError(f"{target}: no such file or folder")
    source = resolve_model(model, tracking_uri, cfg.retrain.model_name)
    keras_model = load_keras_model(source, tracking_uri)
    inputs = read_inputs(target, model_input_shape(keras_model))
    probabilities = np.asarray(keras_model.predict(inputs.x, batch_size=PREDICT_BATCH, verbose=0))
    labels = probabilities.argmax(axis=1)
    truths: list[int | None] = [None] * len(labels) if inputs.y is None else [int(t) for t in inputs.y]
    predictions = [
        Prediction(name, int(label), float(probs[label]), truth)
        for name, label, probs, truth in zip(inputs.names, labels, probabilities, truths, strict=True)
    ]
    return PredictionReport(source.label, predictions, class_names())


@dataclass(frozen=True)
class ExportReport:
    path: Path
    fmt: ExportFormat
    model: str
    examples: int = 0  # test images scored; 0 when data/prepared/test.npz is missing or of another shape
    keras_accuracy: float | None = None
    exported_accuracy: float | None = None

    @property
    def agrees(self) -> bool:
        """The export classifies the test split as the Keras model does, within 0.1 accuracy points."""
        if self.keras_accuracy is None or self.exported_accuracy is None:
            return True
        return abs(self.keras_accuracy - self.exported_accuracy) <= TFLITE_TOLERANCE


def default_export_path(source: ModelSource, fmt: ExportFormat) -> Path:
    """models/<name>-v<version>.tflite or models/<name>-v<version>_saved_model/ (the file's stem for a path)."""
    return MODELS_DIR / (f"{source.label}.tflite" if fmt == "tflite" else f"{source.label}_saved_model")


def accuracy(probabilities: Any, y: np.ndarray) -> float:
    return float(np.mean(np.asarray(probabilities).argmax(axis=1) == y))


def export(
    cfg: NasConfig, model: str, fmt: ExportFormat, out: Path | None, data_dir: Path = PREPARED_DIR
) -> ExportReport:
    """Write `model` as `fmt`; score the file and the Keras model on the test split when it fits the model."""
    tracking_uri = absolute_tracking_uri(cfg.tracking.uri)
    source = resolve_model(model, tracking_uri, cfg.retrain.model_name)
    path = out or default_export_path(source, fmt)
    keras_model: keras.Model = load_keras_model(source, tracking_uri)
    export_model(keras_model, path, fmt)
    test_file = data_dir / "test.npz"
    if not test_file.is_file():
        return ExportReport(path, fmt, source.label)
    x, y = load_split(test_file)
    if tuple(x.shape[1:]) != model_input_shape(keras_model):
        return ExportReport(path, fmt, source.label)
    keras_probabilities = keras_model.predict(x, batch_size=PREDICT_BATCH, verbose=0)
    exported_probabilities = predict_exported(path, x, fmt, PREDICT_BATCH)
    return ExportReport(
        path, fmt, source.label, len(y), accuracy(keras_probabilities, y), accuracy(exported_probabilities, y)
    )
