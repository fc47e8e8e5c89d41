"""DARTS (`search.estimation: darts`): a differentiable search on the reduced cell space.

    python -m flows.search      # with search.estimation: darts in params.yaml

1. Train the mixed-op supernet for `search.darts.epochs`, alternating first-order updates of
   the architecture parameters (on val batches) and the weights (on train batches). MLflow
   child run `darts-supernet`: per epoch the losses, the supernet's val accuracy and every
   architecture weight softmax(alpha) as `alpha.block<i>.f<filters>k<kernel>`, so the UI shows
   them converge; `architecture_weights.json` at the end.
2. Derive the discrete architecture (argmax per block) and retrain it stand-alone as an
   ordinary candidate (tag `nas.derived_by=darts`); it is the winner for the retrain stage.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from flows.engine.weight_sharing import WeightSharingSearch, finish_weight_sharing, open_search, train_standalone
from flows.io.paths import PREPARED_DIR
from flows.tracking.schema import DERIVED_BY_TAG
from nas_core.estimation.darts import DartsSupernet
from nas_core.space import Sample


@task(name="darts-supernet", cache_policy=NONE)
def darts_search(search: WeightSharingSearch) -> tuple[Sample, dict[str, Any]]:
    """Train the supernet and derive the architecture; returns it (reduced sample) and timings."""
    cfg, options = search.cfg, search.cfg.search.darts
    logger = get_run_logger()
    run_id = search.tracker.start_child("darts-supernet", "supernet", {"method": "darts"} | options.model_dump())
    net = DartsSupernet(search.cell, search.input_shape, search.num_classes, seed=cfg.search.seed)

    def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
        search.tracker.log_series(run_id, {k: [v] for k, v in metrics.items()}, first_step=epoch)
        logger.info(
            "DARTS epoch %d: loss %.4f, supernet val accuracy %.4f", epoch, metrics["loss"], metrics["val_accuracy"]
        )

    started = time.perf_counter()
    arrays = search.arrays
    net.search(
        arrays.x_train,
        arrays.y_train,
        arrays.x_val,
        arrays.y_val,
        options.epochs,
        batch_size=cfg.train.batch_size,
        learning_rate=options.learning_rate,
        arch_learning_rate=options.arch_learning_rate,
        arch_weight_decay=options.arch_weight_decay,
        seed=cfg.search.seed,
        on_epoch=on_epoch,
    )
    seconds = time.perf_counter() - started
    derived = net.derive()
    search.tracker.client.log_dict(run_id, net.architecture_weights(), "architecture_weights.json")
    search.tracker.client.log_dict(run_id, search.architecture(derived), "derived_architecture.json")
    search.tracker.end_child(run_id)
    logger.info("DARTS derived %s in %.1fs", derived, seconds)
    return derived, {"darts_seconds": round(seconds, 2), "darts_epochs": options.epochs}


@flow(name="nas-darts")
def darts_flow(
    params_path: str = "params.yaml", data_dir: str = str(PREPARED_DIR), scheduled: bool = False
) -> dict[str, Any]:
    """DARTS supernet, argmax architecture, retrained stand-alone; writes the search stage's outputs."""
    search = open_search(params_path, Path(data_dir), "darts", scheduled)
    try:
        derived, timings = darts_search(search)
        started = time.perf_counter()
        results = train_standalone(search, [search.architecture(derived)], tags=lambda _: {DERIVED_BY_TAG: "darts"})
        timings["standalone_seconds"] = round(time.perf_counter() - started, 2)
    except BaseException:
        search.tracker.finish_search({"interrupted": 1}, failed=True)
        raise
    return finish_weight_sharing(search, results, timings)
