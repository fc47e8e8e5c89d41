"""One-shot search with weight sharing (`search.estimation: oneshot`): SPOS on the reduced cell space.

    python -m flows.search      # with search.estimation: oneshot in params.yaml

1. Train a single-path supernet once (`search.oneshot.epochs`), a uniformly sampled path per
   step (nas_core/estimation/supernet.py). MLflow child run `supernet`: loss and accuracy per epoch.
2. Let `search.strategy` (evolution is a good choice) score `search.oneshot.evaluations`
   paths with the weights they inherit, in seconds: the `search.objective` of their accuracy,
   never a path above `search.max_params`. The supernet run gets `oneshot_score` at
   step = evaluation and `oneshot_scores.json`, also written to artifacts/oneshot_scores.json.
3. Retrain the `search.oneshot.top_k` best paths stand-alone, in parallel candidate tasks; each
   is an ordinary candidate run, tagged `nas.oneshot_score`. The best of them is the winner.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from flows.engine.weight_sharing import WeightSharingSearch, finish_weight_sharing, open_search, train_standalone
from flows.io.artifacts import write_json
from flows.io.paths import ONESHOT_SCORES, PREPARED_DIR
from flows.tracking.schema import ONESHOT_SCORE_TAG
from nas_core.constraints import ParamBudget
from nas_core.estimation.supernet import SinglePathSupernet, search_supernet, top_k
from nas_core.space import Sample, sample_key
from nas_core.strategies import Wrapper, available_strategies, make_strategy
from nas_core.strategies.base import Strategy


@task(name="oneshot-supernet", cache_policy=NONE)
def train_and_score_supernet(search: WeightSharingSearch) -> dict[str, Any]:
    """Train the supernet, then let the strategy score paths with inherited weights; plain data out."""
    cfg, options = search.cfg, search.cfg.search.oneshot
    logger = get_run_logger()
    strategy_name = cfg.search.strategy
    if strategy_name not in available_strategies() or strategy_name == "fixed":
        logger.warning("strategy %r cannot search the one-shot space; using random", strategy_name)
        strategy_name = "random"
    params = {"method": "spos", "strategy": strategy_name, "blocks": search.cell.blocks} | options.model_dump()
    run_id = search.tracker.start_child("supernet", "supernet", params)
    arrays = search.arrays
    net = SinglePathSupernet(search.cell, search.input_shape, search.num_classes, seed=cfg.search.seed)

    def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
        search.tracker.log_series(run_id, {k: [v] for k, v in metrics.items()}, first_step=epoch)
        logger.info("supernet epoch %d: loss %.4f, accuracy %.4f", epoch, metrics["loss"], metrics["accuracy"])

    started = time.perf_counter()
    net.train(
        arrays.x_train,
        arrays.y_train,
        options.epochs,
        cfg.train.batch_size,
        options.learning_rate,
        seed=cfg.search.seed,
        on_epoch=on_epoch,
    )
    trained = time.perf_counter()
    strategy: Strategy | Wrapper = make_strategy(strategy_name, search.cell.search_space(), seed=cfg.search.seed)
    budget = None
    if cfg.search.max_params is not None:  # a path above the limit is never scored, so never chosen
        strategy = budget = ParamBudget(strategy, search.count, cfg.search.max_params)
    objective = search.objective.objective
    measured: dict[str, tuple[float, int]] = {}  # each scored path's accuracy and parameter count

    def score_of(path: Sample, accuracy: float) -> float:
        """The search's objective on the inherited-weight accuracy (the config refuses latency here)."""
        params = search.count(path)
        measured[sample_key(path)] = (accuracy, params)
        score = objective.trade(accuracy, params)
        return accuracy if score is None else score

    scored = search_supernet(net, strategy, options.evaluations, arrays.x_val, arrays.y_val, score_of)
    scoring_seconds = time.perf_counter() - trained
    records = [
        {
            "sample": s,
            "score": score,
            "accuracy": measured[sample_key(s)][0],
            "params": measured[sample_key(s)][1],
            "architecture": (arch := search.architecture(s)),
            "key": sample_key(arch),
        }
        for s, score in scored
    ]
    search.tracker.log_series(run_id, {"oneshot_score": [score for _, score in scored]})
    search.tracker.client.log_dict(run_id, {"scored": records}, "oneshot_scores.json")
    write_json(ONESHOT_SCORES, records)
    search.tracker.end_child(run_id)
    logger.info("scored %d paths with inherited weights in %.1fs", len(scored), scoring_seconds)
    return {
        "scored": scored,
        "supernet_seconds": round(trained - started, 2),
        "scoring_seconds": round(scoring_seconds, 2),
        "evaluations": len(scored),
        "paths_over_max_params": budget.skipped if budget is not None else 0,
    }


@flow(name="nas-oneshot")
def oneshot_flow(
    params_path: str = "params.yaml", data_dir: str = str(PREPARED_DIR), scheduled: bool = False
) -> dict[str, Any]:
    """Supernet, inherited-weight scores, top-k retrained stand-alone; writes the search stage's outputs."""
    search = open_search(params_path, Path(data_dir), "oneshot", scheduled)
    try:
        scores = train_and_score_supernet(search)
        chosen = top_k(scores.pop("scored"), search.cfg.search.oneshot.top_k)
        retrain_started = time.perf_counter()
        results = train_standalone(
            search,
            [search.architecture(sample) for sample, _ in chosen],
            tags=lambda i: {ONESHOT_SCORE_TAG: f"{chosen[i][1]:.4f}"},
        )
        scores["standalone_seconds"] = round(time.perf_counter() - retrain_started, 2)
    except BaseException:
        search.tracker.finish_search({"interrupted": 1}, failed=True)
        raise
    return finish_weight_sharing(search, results, scores | {"top_k": len(chosen)})
