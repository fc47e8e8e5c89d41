"""The champion in use: its signature, `mlflow models serve`, `nas serve`, `nas predict` and `nas export`.

One real pipeline on tiny digits registers the champion in a real SQLite MLflow store. Two real
scoring servers (`mlflow models serve` as a user types it, and `nas serve` from a shell without the
venv on PATH) start together on free 127.0.0.1 ports and must answer with the Keras model's classes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
import pytest
import tensorflow as tf
from mlflow.types.schema import TensorSpec
from PIL import Image
from typer.testing import CliRunner

from flows.cli import app
from flows.prepare import prepare_flow
from flows.retrain import retrain_flow
from flows.runtime.model_server import wait_until_serving
from flows.runtime.prefect_server import free_port
from flows.search import run_search_stage
from flows.space import space_flow
from nas_core.prepared import load_split
from tests.conftest import in_directory, write_params

pytestmark = pytest.mark.slow

MODEL_NAME = "nas-test"  # TINY_PARAMS' retrain.model_name
CHAMPION_URI = f"models:/{MODEL_NAME}@champion"
# Six retrain epochs: a champion whose classes are clear, so equal answers are not luck of ties.
OVERRIDES = {"search": {"max_candidates": 2}, "retrain": {"epochs": 6}}
VENV_BIN = Path(sys.executable).parent
NAS = VENV_BIN / "nas"
BARE_PATH = "/usr/bin:/bin"  # a shell without the venv activated
runner = CliRunner()


@pytest.fixture(scope="module")
def root(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """prepare, space, search and retrain for real: retrain registers version 1 and makes it the champion."""
    folder = tmp_path_factory.mktemp("serving")
    with in_directory(folder):
        params = str(write_params(folder / "params.yaml", OVERRIDES))
        prepare_flow(params_path=params)
        space_flow(params_path=params)
        run_search_stage(params_path=params)
        retrain_flow(params_path=params)
    yield folder


@pytest.fixture(scope="module")
def tracking_uri(root: Path) -> str:
    return f"sqlite:///{root / 'mlflow.db'}"


@pytest.fixture(scope="module")
def champion(tracking_uri: str) -> keras.Model:
    mlflow.set_tracking_uri(tracking_uri)
    return mlflow.keras.load_model(CHAMPION_URI)


@pytest.fixture(scope="module")
def test_split(root: Path) -> tuple[np.ndarray, np.ndarray]:
    return load_split(root / "data/prepared/test.npz")


@pytest.fixture
def inside(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI reads params.yaml, data/prepared and models/ relative to the working directory."""
    monkeypatch.chdir(root)
    return root


def classes(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x, verbose=0)).argmax(axis=1)


def invocations(url: str, body: dict[str, Any]) -> np.ndarray:
    request = urllib.request.Request(
        f"{url}/invocations", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return np.asarray(json.loads(response.read())["predictions"])


def start(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """In its own process group, so the test can stop MLflow and its uvicorn child together."""
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def servers(root: Path, tracking_uri: str) -> Iterator[dict[str, str]]:
    """Both servers at once (each takes ~20 s to load TensorFlow and the model): their base URLs by name."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | {"MLFLOW_TRACKING_URI": tracking_uri}
    plain_port, wrapped_port = free_port(), free_port()
    # As the docs tell a user: the venv activated (its bin on PATH), MLflow's own command.
    plain = [str(VENV_BIN / "mlflow"), "models", "serve", "-m", CHAMPION_URI, "--env-manager", "local"]
    plain += ["--host", "127.0.0.1", "--port", str(plain_port)]
    wrapped = [str(NAS), "serve", "--port", str(wrapped_port)]
    started = {
        "plain": (start(plain, root, env | {"PATH": f"{VENV_BIN}:{BARE_PATH}"}, root / "plain.log"), plain_port),
        "nas serve": (start(wrapped, root, env | {"PATH": BARE_PATH}, root / "wrapped.log"), wrapped_port),
    }
    try:
        urls = {}
        for name, (process, port) in started.items():
            url = f"http://127.0.0.1:{port}"
            log = root / ("plain.log" if name == "plain" else "wrapped.log")
            try:
                wait_until_serving(url, process, timeout=240)
            except Exception as error:
                pytest.fail(f"{name}: {error}\n{log.read_text()[-3000:]}")
            urls[name] = url
        yield urls
    finally:
        for process, _ in started.values():
            stop_group(process)


def test_champion_has_a_signature_and_an_input_example(tracking_uri: str, root: Path) -> None:
    mlflow.set_tracking_uri(tracking_uri)
    info = mlflow.models.get_model_info(CHAMPION_URI)
    assert info.signature is not None
    (inputs,) = info.signature.inputs.inputs
    (outputs,) = info.signature.outputs.inputs
    assert isinstance(inputs, TensorSpec) and isinstance(outputs, TensorSpec)
    assert inputs.type == np.dtype("float32") and inputs.shape == (-1, 8, 8, 1)
    assert outputs.shape == (-1, 10)
    assert info.saved_input_example_info is not None
    assert info.saved_input_example_info["type"] == "ndarray"
    # The serving example is a request body that `mlflow models serve` takes as it is.
    with tempfile.TemporaryDirectory() as scratch:
        local = Path(mlflow.artifacts.download_artifacts(CHAMPION_URI, dst_path=scratch))
        body = json.loads((local / info.saved_input_example_info["serving_input_path"]).read_text())
    example = np.asarray(body["inputs"], dtype=np.float32)
    assert example.shape[1:] == (8, 8, 1) and 0.0 <= example.min() and example.max() <= 1.0


def test_plain_mlflow_models_serve_needs_the_venv_on_path(root: Path, tracking_uri: str) -> None:
    """Why `nas serve` exists: MLflow starts `uvicorn` through bash, found on PATH or not at all."""
    env = os.environ | {"PATH": BARE_PATH, "MLFLOW_TRACKING_URI": tracking_uri}
    command = [str(VENV_BIN / "mlflow"), "models", "serve", "-m", CHAMPION_URI, "--env-manager", "local"]
    command += ["--port", str(free_port())]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "Return code = 127" in done.stderr  # bash: uvicorn: command not found


@pytest.mark.parametrize("server", ["plain", "nas serve"])
def test_served_champion_answers_with_the_keras_classes(
    servers: dict[str, str], server: str, champion: keras.Model, test_split: tuple[np.ndarray, np.ndarray]
) -> None:
    x = test_split[0][:20]
    expected = classes(champion, x)
    for body in ({"inputs": x.tolist()}, {"instances": x.tolist()}):  # both tensor formats MLflow documents
        probabilities = invocations(servers[server], body)
        assert probabilities.shape == (20, 10)
        np.testing.assert_array_equal(probabilities.argmax(axis=1), expected)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)


def write_png(path: Path, pixels: np.ndarray) -> None:
    Image.fromarray(pixels).save(path)


def as_8bit(images: np.ndarray) -> np.ndarray:
    return np.round(images[..., 0] * 255).astype(np.uint8)


def predicted(output: str) -> dict[str, int]:
    """`name  class 7  p 0.98 ...` lines -> {name: 7}."""
    found = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "class":
            found[parts[0]] = int(parts[2])
    return found


def test_predict_an_image_file(inside: Path, champion: keras.Model, test_split: tuple[np.ndarray, np.ndarray]) -> None:
    digit = as_8bit(test_split[0][:1])[0]
    write_png(inside / "digit.png", digit)
    result = runner.invoke(app, ["predict", "digit.png"])
    assert result.exit_code == 0, result.output
    expected = classes(champion, (digit / 255.0).astype(np.float32)[None, ..., None])[0]
    assert predicted(result.output) == {"digit.png": expected}
    assert " p 0." in result.output or " p 1." in result.output


def test_predict_resizes_and_greys_a_colour_image(inside: Path, champion: keras.Model) -> None:
    """The prepare stage's reading: PIL's grayscale, resized (bilinear) to the model's 8x8, over 255."""
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, size=(24, 16, 3), dtype=np.uint8)  # 16 wide, 24 high, RGB
    write_png(inside / "photo.png", photo)
    grey = Image.fromarray(photo).convert("L").resize((8, 8), Image.Resampling.BILINEAR)
    expected = classes(champion, (np.asarray(grey) / 255.0).astype(np.float32)[None, ..., None])[0]
    result = runner.invoke(app, ["predict", "photo.png"])
    assert result.exit_code == 0, result.output
    assert predicted(result.output) == {"photo.png": expected}


def test_predict_a_folder(inside: Path, champion: keras.Model, test_split: tuple[np.ndarray, np.ndarray]) -> None:
    folder = inside / "inbox"
    folder.mkdir()
    digits = as_8bit(test_split[0][:5])
    for i, digit in enumerate(digits):
        write_png(folder / f"{i}.png", digit)
    (folder / "README.txt").write_text("not an image")
    result = runner.invoke(app, ["predict", str(folder)])
    assert result.exit_code == 0, result.output
    expected = classes(champion, (digits / 255.0).astype(np.float32)[..., None])
    assert predicted(result.output) == {f"{i}.png": int(c) for i, c in enumerate(expected)}
    assert "accuracy" not in result.output


def test_predict_an_npz_with_labels_prints_the_accuracy(
    inside: Path, champion: keras.Model, test_split: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = test_split
    np.savez(inside / "labelled.npz", x=x, y=y)
    result = runner.invoke(app, ["predict", "labelled.npz"])
    assert result.exit_code == 0, result.output
    expected = classes(champion, x)
    assert predicted(result.output) == {f"labelled.npz[{i}]": int(c) for i, c in enumerate(expected)}
    accuracy = float(np.mean(expected == y))
    assert f"accuracy {accuracy:.4f} on {len(y)} images ({MODEL_NAME}-v1)" in result.output


def test_predict_an_npz_of_8bit_pixels_with_a_keras_file(
    inside: Path, champion: keras.Model, test_split: tuple[np.ndarray, np.ndarray]
) -> None:
    """(n, h, w) uint8, no labels; `--model` a .keras file: the retrain stage's models/winner.keras."""
    digits = as_8bit(test_split[0][:4])
    np.savez(inside / "raw.npz", x=digits)
    result = runner.invoke(app, ["predict", "raw.npz", "--model", "models/winner.keras"])
    assert result.exit_code == 0, result.output
    winner = keras.saving.load_model(inside / "models/winner.keras")
    expected = classes(winner, (digits / 255.0).astype(np.float32)[..., None])
    assert predicted(result.output) == {f"raw.npz[{i}]": int(c) for i, c in enumerate(expected)}


def tflite_classes(path: Path, x: np.ndarray) -> np.ndarray:
    interpreter = tf.lite.Interpreter(model_path=str(path))
    (name,) = interpreter.get_signature_list()["serving_default"]["inputs"]
    (probabilities,) = interpreter.get_signature_runner()(**{name: x}).values()
    return np.asarray(probabilities).argmax(axis=1)


@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")
def test_export_tflite_scores_as_keras_does(
    inside: Path, champion: keras.Model, test_split: tuple[np.ndarray, np.ndarray]
) -> None:
    result = runner.invoke(app, ["export", "--format", "tflite"])
    assert result.exit_code == 0, result.output
    path = inside / "models" / f"{MODEL_NAME}-v1.tflite"
    assert path.is_file() and path.stat().st_size > 0
    x, y = test_split
    keras_accuracy = float(np.mean(classes(champion, x) == y))
    tflite_accuracy = float(np.mean(tflite_classes(path, x) == y))
    assert abs(tflite_accuracy - keras_accuracy) <= 0.001
    assert f"Keras {keras_accuracy:.4f}, tflite {tflite_accuracy:.4f}" in result.output
    assert f"test accuracy on {len(y)} images" in result.output


def test_export_saved_model_serves_the_keras_classes(
    inside: Path, champion: keras.Model, test_split: tuple[np.ndarray, np.ndarray]
) -> None:
    out = inside / "exported" / "champion"
    result = runner.invoke(app, ["export", "--format", "saved_model", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "saved_model.pb").is_file()
    x = test_split[0]
    loaded = tf.saved_model.load(str(out))  # held: its functions need its variables alive
    served = loaded.serve(x).numpy()
    np.testing.assert_array_equal(served.argmax(axis=1), classes(champion, x))
    again = runner.invoke(app, ["export", "--format", "saved_model", "--out", str(out)])  # replaces its own export
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in out.parent.iterdir()) == ["champion"]  # no temporary folder left beside it


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["predict", "nowhere.png"], "nowhere.png: no such file or folder"),
        (["predict", "bad.png"], "bad.png: not a readable image"),
        (["predict", "small.npz"], "x has shape (3, 5, 5); the model takes images of 8x8x1"),
        (["predict", "labelled-wrong.npz"], "y must be one integer label per image"),
        (["predict", "bad.png", "--model", "99"], "no version 99 of the registered model 'nas-test'"),
        (["predict", "bad.png", "--model", "missing.keras"], "--model: missing.keras is no file or folder"),
        (["predict", "bad.png", "--params", "other.yaml"], "no champion of the registered model 'nobody'"),
        (["serve", "--model", "models/winner.keras"], "is not an MLflow model"),
        (["export", "--format", "tflite", "--out", "champion.bin"], "a TFLite model is a file ending in .tflite"),
        (["export", "--format", "saved_model", "--out", "params.yaml"], "is not a SavedModel folder"),
    ],
)
def test_errors_exit_2_naming_the_problem(inside: Path, args: list[str], message: str) -> None:
    (inside / "bad.png").write_text("not a PNG")
    np.savez(inside / "small.npz", x=np.zeros((3, 5, 5), dtype=np.float32))
    np.savez(inside / "labelled-wrong.npz", x=np.zeros((3, 8, 8), dtype=np.float32), y=np.zeros(2, dtype=np.int64))
    write_params(inside / "other.yaml", OVERRIDES | {"retrain": {"model_name": "nobody"}})
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_serve_refuses_a_port_in_use(inside: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port)])
    assert result.exit_code == 2
    assert f"--port: cannot listen on 127.0.0.1:{port}" in result.stderr
