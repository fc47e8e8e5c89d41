"""The registered model as its users reach it: logged with a signature, found as champion, version or path.

The retrain stage logs the winner with a signature (float32 images (-1, h, w, c) in, class
probabilities (-1, k) out) and an input example, so the model registry shows what it takes and
`mlflow models serve` checks each request against it. `nas serve`, `nas predict` and `nas export`
name a model the same three ways: `champion` (the alias the champion rule moves), a version
number of `retrain.model_name`, or a path.
"""

from __future__ import annotations

import os
import tempfile
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import Model, infer_signature

from flows.tracking.champion import CHAMPION
from flows.tracking.tracker import absolute_tracking_uri
from nas_core.errors import NasError, reason

if TYPE_CHECKING:
    import keras
    from mlflow.models.model import ModelInfo

# Pinned, not inferred: inferring loads the model in a subprocess, which costs the retrain seconds.
PIP_REQUIREMENTS = ["tensorflow-cpu~=2.21.0", "keras~=3.15"]
EXAMPLE_IMAGES = 2  # the input example, which is also the request body MLflow checks the model serves
MLMODEL_FILE = "MLmodel"
PROGRESS_BAR_ENV = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


def _save_keras_model(path: str, **kwargs: Any) -> None:
    os.makedirs(path, exist_ok=True)
    mlflow.keras.save_model(path=path, **kwargs)


# mlflow.keras itself, except that the model folder exists before the input example is written into
# it: mlflow.keras.save_model writes the example first and fails (mlflow/mlflow#16183, open in 3.17).
KERAS_FLAVOR = types.SimpleNamespace(__name__="mlflow.keras", save_model=_save_keras_model)


def log_signed_model(
    tracking_uri: str, run_id: str, model: keras.Model, images: np.ndarray | dict[str, np.ndarray], model_name: str
) -> ModelInfo:
    """Log `model` into run `run_id` with a signature inferred from `images` (or a table's raw columns)
    and the model's own output, and an input example of the first few, then register it as a new
    version of `model_name`."""
    import keras

    # predict_on_batch, not predict: Keras 3's predict refuses string inputs (a table's categories, a text).
    outputs = np.asarray(model.predict_on_batch(images))
    signature = infer_signature(images, outputs)
    # MLflow checks an input example by serving it through Keras' predict, which refuses strings (a table's
    # categories, a text): such a model is logged with its signature alone, and MLflow serving of it is
    # not supported (docs/spaces/index.md).
    columns = images if isinstance(images, dict) else {"x": images}
    strings = any(np.asarray(values).dtype.kind in "OUS" for values in columns.values())
    example: np.ndarray | dict[str, np.ndarray] | None = None
    if not strings:
        cut = {name: values[:EXAMPLE_IMAGES] for name, values in columns.items()}
        example = cut if isinstance(images, dict) else cut["x"]
    # MLflow checks that the example serves with model.predict, which would draw Keras progress bars.
    progress_bars = keras.utils.is_interactive_logging_enabled()
    keras.utils.disable_interactive_logging()
    # log_model has no client-level twin; the fluent call is pinned to this run id explicitly.
    mlflow.set_tracking_uri(tracking_uri)
    try:
        with mlflow.start_run(run_id=run_id):
            info: ModelInfo = Model.log(
                artifact_path=None,
                name="model",
                flavor=KERAS_FLAVOR,
                model=model,
                registered_model_name=model_name,
                pip_requirements=PIP_REQUIREMENTS,
                signature=signature,
                input_example=example,
            )
    finally:
        if progress_bars:
            keras.utils.enable_interactive_logging()
    return info


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: a registry URI (`models:/name@champion`, `models:/name/3`) or a local path."""

    uri: str | None = None
    path: Path | None = None
    label: str = ""  # for file names and messages: `nas-digits-v3`, `winner`


def resolve_model(ref: str, tracking_uri: str, model_name: str) -> ModelSource:
    """`champion`, a version number, an MLflow model URI, or a path (`.keras` file or MLflow model folder)."""
    if ref == CHAMPION or ref.isdigit():
        version = _registered_version(ref, absolute_tracking_uri(tracking_uri), model_name)
        uri = f"models:/{model_name}@{CHAMPION}" if ref == CHAMPION else f"models:/{model_name}/{ref}"
        return ModelSource(uri=uri, label=f"{model_name}-v{version}")
    if ref.startswith(("models:/", "runs:/")):
        return ModelSource(uri=ref, label=ref.split(":/", 1)[1].strip("/").replace("/", "-").replace("@", "-"))
    path = Path(ref)
    if not path.exists():
        raise NasError(
            f"--model: {ref} is no file or folder; give {CHAMPION}, a version number of the registered model, "
            "or the path of a .keras file"
        )
    return ModelSource(path=path, label=path.stem if path.is_file() else path.name)


def _registered_version(ref: str, tracking_uri: str, model_name: str) -> str:
    """The version that `ref` (`champion` or a number) names, or an error that says what is registered."""
    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        if ref == CHAMPION:
            return str(client.get_model_version_by_alias(model_name, CHAMPION).version)
        return str(client.get_model_version(model_name, ref).version)
    except MlflowException as error:
        if error.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise NasError(
                f"tracking.uri: cannot read the model registry at {tracking_uri} ({reason(error)})"
            ) from None
    what = f"no {CHAMPION}" if ref == CHAMPION else f"no version {ref}"
    raise NasError(
        f"retrain.model_name: {what} of the registered model {model_name!r} in {tracking_uri}; "
        "run the pipeline (nas run) or nas retrain to register one"
    )


@contextmanager
def _without_progress_bar() -> Iterator[None]:
    """MLflow draws a download bar per model on stderr; a command's output is its predictions."""
    previous = os.environ.get(PROGRESS_BAR_ENV)
    os.environ[PROGRESS_BAR_ENV] = "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(PROGRESS_BAR_ENV, None)
        else:
            os.environ[PROGRESS_BAR_ENV] = previous


def load_keras_model(source: ModelSource, tracking_uri: str) -> keras.Model:
    """The Keras model behind `source`: downloaded from the registry, or read from a file or MLflow folder."""
    import keras

    if source.uri is not None:
        uri = absolute_tracking_uri(tracking_uri)
        with tempfile.TemporaryDirectory() as scratch, _without_progress_bar():
            try:
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=source.uri, dst_path=scratch, tracking_uri=uri, registry_uri=uri
                )
            except MlflowException as error:
                raise NasError(f"--model: cannot download {source.uri} from {uri} ({reason(error)})") from None
            return mlflow.keras.load_model(local)
    assert source.path is not None
    if source.path.is_dir():
        if not (source.path / MLMODEL_FILE).is_file():
            raise NasError(f"--model: {source.path} is a folder without an MLmodel file; give a .keras file")
        return mlflow.keras.load_model(str(source.path))
    try:
        model = keras.saving.load_model(source.path)
    except Exception as error:  # Keras raises ValueError, OSError, zipfile errors... for a file it cannot read
        raise NasError(f"--model: {source.path} is not a Keras model file ({reason(error)})") from None
    if not isinstance(model, keras.Model):
        raise NasError(f"--model: {source.path} holds no Keras model")
    return model


def model_input_shape(model: keras.Model) -> tuple[int, int, int]:
    """(h, w, c) of the images `model` takes; a model for other inputs is refused, naming its shape."""
    shape = tuple(model.input_shape)
    if len(shape) != 4 or not all(isinstance(d, int) for d in shape[1:]):
        raise NasError(f"--model: the model takes inputs of shape {shape}, not images (n, height, width, channels)")
    return int(shape[1]), int(shape[2]), int(shape[3])
