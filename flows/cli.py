"""`nas`: the pipeline, its stages, reports, a space check and the MLflow UI from one command.

Every command takes `--params PATH`. A problem the user can fix prints one red line on stderr
and exits with code 2, without a traceback. Flow modules are imported inside the commands, so
`nas --help` is instant and `--quiet` can set Prefect's log level before Prefect is imported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from flows.engine.progress import QUIET_ENV
from flows.io.params import load_params
from flows.io.paths import PARAMS, PREPARED_DIR, REPORTS_DIR, SEARCH_SPACE
from flows.runtime.entry import quiet_user_error_tracebacks, user_error_in
from flows.runtime.environment import apply_defaults
from flows.summary import print_results, print_search
from flows.tracking.run_labels import training_runs_path
from nas_core.config import NasConfig
from nas_core.prepared import MANIFEST_NAME
from nas_core.worker import spawn_without_parent_main

app = typer.Typer(
    name="nas",
    help="Neural architecture search: run the pipeline or one stage, check the space, see reports and the MLflow UI, "
    "compare two searches, serve, predict with and export the champion.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

Params = Annotated[
    Path,
    typer.Option("--params", "-p", help="The params file to read (every key is documented in docs/configuration.md)."),
]
Quiet = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="No live display or progress lines: only the final summary and errors."),
]
DEFAULT_PARAMS = PARAMS


def fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] [red]{escape(message)}[/]", soft_wrap=True)  # a run name may hold [brackets]
    raise typer.Exit(2)


def set_quiet(quiet: bool) -> None:
    """Quiet reaches the flows (also through `dvc repro`) as an environment variable."""
    if quiet:
        os.environ[QUIET_ENV] = "1"
        os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
        os.environ["MLFLOW_LOGGING_LEVEL"] = "WARNING"


def run_user_step(step: Callable[[], Any]) -> Any:
    """Run `step`; a `NasError` anywhere inside (Prefect may wrap it) becomes one red line and exit code 2."""
    try:
        return step()
    except (typer.Exit, KeyboardInterrupt):
        raise
    except Exception as error:
        user_error = user_error_in(error)
        if user_error is None:
            raise
        fail(str(user_error))


def read_config(params: Path) -> NasConfig:
    return run_user_step(lambda: load_params(params))  # type: ignore[no-any-return]


StageLoader = Callable[[NasConfig], tuple[Callable[..., Any], Callable[[NasConfig], object] | None]]


def run_stage_command(params: Path, quiet: bool, load_stage: StageLoader) -> Any:
    """Validate, preflight, then run one stage flow in this process; `load_stage` gets the validated config."""
    set_quiet(quiet)
    cfg = read_config(params)
    stage, preflight = load_stage(cfg)

    def step() -> Any:
        if preflight is not None:
            preflight(cfg)
        return stage(params_path=str(params))

    return run_user_step(step)


@app.command()
def prepare(params: Params = DEFAULT_PARAMS, quiet: Quiet = False) -> None:
    """Stage 1: load, split and scale the dataset into data/prepared/."""

    def load(cfg: NasConfig) -> tuple[Callable[..., Any], None]:
        from flows.prepare import prepare_flow

        return prepare_flow, None

    info = run_stage_command(params, quiet, load)
    out.print(f"prepared: input shape {tuple(info['input_shape'])}, {info['num_classes']} classes")


@app.command()
def space(params: Params = DEFAULT_PARAMS, quiet: Quiet = False) -> None:
    """Stage 2: describe the search space on the prepared data into artifacts/search_space.json."""

    def load(cfg: NasConfig) -> tuple[Callable[..., Any], None]:
        from flows.space import space_flow

        return space_flow, None

    record = run_stage_command(params, quiet, load)
    size = "unbounded (graphs)" if record["size"] is None else f"{record['size']:,} distinct architectures"
    out.print(f"search space: {size}; written to {SEARCH_SPACE}")


@app.command()
def search(
    params: Params = DEFAULT_PARAMS,
    quiet: Quiet = False,
    fresh: Annotated[bool, typer.Option(help="Start a new search even if an unfinished one could be resumed.")] = False,
) -> None:
    """Stage 3: the search. Shows live progress on a terminal and writes a report at the end."""

    def load(cfg: NasConfig) -> tuple[Callable[..., Any], Callable[[NasConfig], object]]:
        from flows.engine.setup import search_preflight
        from flows.search import run_search_stage

        return (lambda params_path: run_search_stage(params_path=params_path, fresh=fresh, cfg=cfg)), search_preflight

    summary = run_stage_command(params, quiet, load)
    print_search(summary)


@app.command()
def retrain(params: Params = DEFAULT_PARAMS, quiet: Quiet = False) -> None:
    """Stage 4: retrain the winner on train+val, score it once on test, register it."""

    def load(cfg: NasConfig) -> tuple[Callable[..., Any], Callable[[NasConfig], object]]:
        from flows.retrain import retrain_flow, retrain_preflight

        return retrain_flow, retrain_preflight

    test = run_stage_command(params, quiet, load)
    out.print(f"test accuracy {test['test_accuracy']:.4f}; model saved to models/winner.keras")


@app.command()
def run(
    params: Params = DEFAULT_PARAMS,
    quiet: Quiet = False,
    direct: Annotated[
        bool, typer.Option("--direct", help="Run the pipeline flow in this process instead of `dvc repro`.")
    ] = False,
) -> None:
    """The whole pipeline: `dvc repro` (reruns only what changed) with one Prefect server, or the flow with --direct."""
    set_quiet(quiet)
    read_config(params)
    if direct:

        def load(cfg: NasConfig) -> tuple[Callable[..., Any], None]:
            from flows.pipeline import pipeline_flow

            return pipeline_flow, None

        run_stage_command(params, quiet, load)
    else:
        if params.resolve() != DEFAULT_PARAMS.resolve():
            fail(f"--params: dvc repro always reads params.yaml, not {params}; use --direct to run with {params}")
        if shutil.which("dvc") is None:
            fail("dvc not found on PATH: activate the project's .venv (make setup), or use --direct")
        command = ["dvc", "repro", *(["--quiet"] if quiet else [])]

        def repro() -> int:
            from flows.runtime.prefect_server import shared_api

            with shared_api():  # one Prefect server for every stage, not a temporary one per stage
                return subprocess.run(command, check=False).returncode

        code = run_user_step(repro)
        if code != 0:
            raise typer.Exit(2 if code == 255 else code)  # a stage's own error line is already on stderr
    print_results()


@app.command()
def report(
    params: Params = DEFAULT_PARAMS,
    search_id: Annotated[
        str | None, typer.Option("--search", help="The search's MLflow run id (default: the latest search).")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Where reports/<run id>/ goes.")] = REPORTS_DIR,
) -> None:
    """(Re)build a search's report - HTML and PNGs in reports/<run id>/ - and attach it to its MLflow run."""
    cfg = read_config(params)

    def step() -> Path:
        from flows.tracking.search_record import report_search
        from flows.tracking.tracker import MlflowTracker

        tracker = MlflowTracker(cfg.tracking.uri, cfg.tracking.experiment)
        manifest_path = PREPARED_DIR / MANIFEST_NAME
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
        return report_search(tracker.client, tracker.experiment_id, search_id, out_dir, manifest)

    index = run_user_step(step)
    out.print(f"report: {index}")


@app.command()
def check(params: Params = DEFAULT_PARAMS) -> None:
    """Validate params.yaml and the search space against the data's input shape, without training anything."""
    cfg = read_config(params)

    def step() -> Any:
        from flows.engine.space_check import check_space, data_manifest

        manifest, source = data_manifest(cfg, Path.cwd())
        return check_space(cfg, manifest, source)

    found = run_user_step(step)
    out.print(f"[green]✓[/] {params} is valid")
    out.print(
        f"input shape {'×'.join(map(str, found.input_shape))}, {found.num_classes} classes ({found.shape_source})"
    )
    out.print(f"search space: {found.size:,} distinct architectures ({found.how_counted()})")
    if cfg.space.kind == "cnn":
        out.print(
            f"shape rule: {found.share(found.repaired)} repaired (a pooling dropped), "
            f"{found.share(found.rejected)} rejected (cannot be built: recorded FAILED, not trained)"
        )
    if found.smallest is not None:
        out.print(f"model sizes: {found.smallest:,} to {found.largest:,} parameters")
    if cfg.search.max_params is not None:
        limit = cfg.search.max_params
        out.print(f"search.max_params {limit:,}: {found.share(found.over_limit)} above it (skipped before training)")


@app.command()
def ui(
    params: Params = DEFAULT_PARAMS,
    host: Annotated[str, typer.Option(help="Interface to bind; keep 127.0.0.1 unless others must reach it.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port of the UI.")] = 5000,
) -> None:
    """The MLflow UI over the tracking store of params.yaml (default http://127.0.0.1:5000)."""
    cfg = read_config(params)
    uri = cfg.tracking.uri
    if uri.startswith(("http://", "https://")):
        out.print(f"tracking.uri is a server already: open {uri}")
        return
    mlflow = shutil.which("mlflow") or str(Path(sys.executable).with_name("mlflow"))
    out.print(f"MLflow UI on http://{host}:{port} (Ctrl-C stops it)")
    if (runs := training_runs_path(uri, cfg.tracking.experiment)) is not None:
        out.print(f"The experiment's training runs: http://{host}:{port}/{runs}")
    try:
        code = subprocess.run(
            [mlflow, "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port), "--workers", "1"]
        ).returncode
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


ModelRef = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="champion (the registered model's alias), a version number of it, or a path: a .keras file "
        "(predict, export) or an MLflow model folder (serve).",
    ),
]


@app.command()
def serve(
    params: Params = DEFAULT_PARAMS,
    model: ModelRef = "champion",
    host: Annotated[str, typer.Option(help="Interface to bind; keep 127.0.0.1 unless others must reach it.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port of the scoring server.")] = 5001,
) -> None:
    """Serve a registered model (default: the champion) with `mlflow models serve`, whatever PATH holds."""
    cfg = read_config(params)

    def ready(url: str, model_uri: str) -> None:
        out.print(f"serving {model_uri} on {url}/invocations (Ctrl-C stops it)", markup=False)
        out.print('POST {"inputs": [images as nested lists]}, see docs/operations/serving.md', markup=False)

    def step() -> int:
        from flows.serving import serve as serve_model

        return serve_model(cfg, model, host, port, ready)

    raise typer.Exit(run_user_step(step))


@app.command()
def predict(
    file: Annotated[
        Path, typer.Argument(help="An image (PNG, JPEG, ...), a folder of images, or an .npz with x (and y).")
    ],
    params: Params = DEFAULT_PARAMS,
    model: ModelRef = "champion",
) -> None:
    """Classify images with the champion: a line per image (class, probability), accuracy when the .npz has y."""
    cfg = read_config(params)

    def step() -> Any:
        from flows.serving import predict as predict_images

        return predict_images(cfg, model, file)

    report = run_user_step(step)
    for prediction in report.predictions:
        out.print(report.line(prediction), markup=False)
    if report.accuracy is not None:
        out.print(f"accuracy {report.accuracy:.4f} on {len(report.predictions)} images ({report.model})")


@app.command()
def export(
    fmt: Annotated[Literal["saved_model", "tflite"], typer.Option("--format", "-f", help="The format to write.")],
    params: Params = DEFAULT_PARAMS,
    model: ModelRef = "champion",
    out_path: Annotated[
        Path | None,
        typer.Option("--out", help="The .tflite file or SavedModel folder (default models/<name>-v<version>...)."),
    ] = None,
) -> None:
    """Write the champion as a TensorFlow SavedModel or TFLite file, and compare its test accuracy with Keras's."""
    cfg = read_config(params)

    def step() -> Any:
        from flows.serving import export as export_model

        return export_model(cfg, model, fmt, out_path)

    report = run_user_step(step)
    out.print(f"exported {report.model} as {fmt}: {report.path}", markup=False)
    if not report.examples:
        out.print(f"no test accuracy: {PREPARED_DIR / 'test.npz'} is missing or holds images of another shape")
        return
    out.print(
        f"test accuracy on {report.examples} images: Keras {report.keras_accuracy:.4f}, "
        f"{fmt} {report.exported_accuracy:.4f}"
    )
    if not report.agrees:
        err.print(
            f"[bold red]error:[/] [red]the {fmt} export's accuracy differs from Keras's by more than 0.1 points[/]"
        )
        raise typer.Exit(1)


data_app = typer.Typer(
    help="Datasets: add your own as a DVC-tracked folder or .npz under data/raw.", no_args_is_help=True
)
app.add_typer(data_app, name="data")


@data_app.command("add")
def data_add(
    path: Annotated[
        Path,
        typer.Argument(
            help="A folder with one sub-folder of images per class, or an .npz file with arrays x and y. "
            "Outside data/raw it is copied to data/raw/<name> first."
        ),
    ],
    params: Params = DEFAULT_PARAMS,
) -> None:
    """Add your dataset: check it loads, `dvc add` it, and set data.source and data.path in params.yaml."""

    def step() -> Any:
        from flows.io.data_add import add_dataset

        return add_dataset(path, Path.cwd(), params)

    added = run_user_step(step)
    if added.copied_from is not None:
        out.print(f"copied {added.copied_from} to {added.path} (the prepare stage reads data/raw)", markup=False)
    shape = "×".join(str(d) for d in added.input_shape)
    out.print(
        f"{added.path}: {added.examples:,} images of {shape}, {added.num_classes} classes ({added.source})",
        markup=False,
    )
    out.print(f"dvc add {added.path}: versioned by {added.dvc_file}", markup=False)
    out.print(f"{params}: data.source: {added.source}, data.path: {added.path}", markup=False)
    out.print(f"next: git add {' '.join(added.commit)}, commit, and `dvc push` uploads the data", markup=False)


@app.command()
def schedule(params: Params = DEFAULT_PARAMS) -> None:
    """Serve the nightly search on schedule.cron (Prefect deployment); runs until stopped."""
    read_config(params)
    from flows.schedule import serve_schedule

    run_user_step(lambda: serve_schedule(str(params)))


@app.command()
def compare(
    a: Annotated[str, typer.Argument(help="A search: its MLflow run id, a prefix of that, or its run name.")],
    b: Annotated[str, typer.Argument(help="The other search, named the same ways.")],
    params: Params = DEFAULT_PARAMS,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="The report's folder, or its .html (default reports/compare-<A>-<B>/).")
    ] = None,
) -> None:
    """Two searches side by side: best so far, accuracy against size, both winners drawn, and whether they differ
    beyond the noise; HTML and PNGs in reports/compare-<A>-<B>/."""
    cfg = read_config(params)

    def step() -> Path:
        from flows.tracking.compare_record import compare_searches
        from flows.tracking.tracker import MlflowTracker

        tracker = MlflowTracker(cfg.tracking.uri, cfg.tracking.experiment)
        manifest_path = PREPARED_DIR / MANIFEST_NAME
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
        return compare_searches(tracker.client, tracker.experiment_id, a, b, out_dir, manifest)

    index = run_user_step(step)
    out.print(f"comparison: {index}", markup=False)


def main() -> None:
    spawn_without_parent_main()  # training workers need nas_core, not the CLI's imports
    apply_defaults()  # before the commands import Prefect, which reads its settings once
    quiet_user_error_tracebacks()
    app()


if __name__ == "__main__":
    main()
