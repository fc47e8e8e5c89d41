"""The search flow's side of multi-objective search: objective, `max_params`, Pareto front, extra metrics.

The pure parts live in nas_core (`objectives`, `constraints`, `param_count`, `pareto`); this
class wires them to one search run in a handful of calls from flows/search.py, so that file
only grows by a few lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric

from nas_core.architecture import InfeasibleArchitecture, prepare_architecture
from nas_core.config import SearchConfig
from nas_core.constraints import ParamBudget
from nas_core.graph_space import GraphSpace
from nas_core.objectives import Objective, best_by
from nas_core.param_count import count_params
from nas_core.pareto import ParetoFront
from nas_core.results import CandidateResult
from nas_core.space import Sample, SearchSpace
from nas_core.strategies import Wrapper
from nas_core.train_settings import TrainSettings


class SearchObjective:
    """One search's objective (what the strategy is told), size limit and Pareto front."""

    def __init__(
        self, cfg: SearchConfig, space: SearchSpace | GraphSpace, input_shape: Sequence[int], num_classes: int
    ) -> None:
        self.objective = Objective(cfg.objective, cfg.objective_weight, cfg.objective_target)
        self.max_params = cfg.max_params
        self.latency_batch = cfg.latency_batch if self.objective.needs_latency else 0
        self.space = space
        self.input_shape = tuple(int(d) for d in input_shape)
        self.num_classes = int(num_classes)
        self.front = ParetoFront()
        self.budget: ParamBudget | None = None

    def count(self, sample: Sample) -> int | None:
        """Parameters of what would be trained for `sample`; `None` if it cannot be built at all."""
        if not isinstance(self.space, SearchSpace):
            return None  # a graph is counted when it trains (config refuses max_params with 'graph')
        try:
            arch = prepare_architecture(self.space, sample, self.input_shape)
            return count_params(arch, self.input_shape, self.num_classes)
        except InfeasibleArchitecture:
            return None

    def constrain(self, strategy: Wrapper, on_skip: Callable[[Sample, int], None] | None = None) -> Wrapper:
        """The strategy, wrapped so that nothing above `max_params` is ever proposed (if there is a limit)."""
        if self.max_params is None:
            return strategy
        self.budget = ParamBudget(strategy, self.count, self.max_params, on_skip=on_skip)
        return self.budget

    def train_settings(self, train: dict[str, Any], schedule_epochs: int) -> TrainSettings:
        """params.yaml `train`, the epochs its schedule spans (`NasConfig.schedule_epochs`), and the
        latency measurement when the objective needs it."""
        return TrainSettings(**train, schedule_epochs=schedule_epochs, latency_batch=self.latency_batch)

    @property
    def skipped(self) -> int:
        return self.budget.skipped if self.budget is not None else 0

    def record(self, client: MlflowClient, run_id: str, result: CandidateResult) -> None:
        """Keep the front up to date and put the score (and latency) on the candidate's MLflow run."""
        self.front.add_result(result)
        values = {"objective_score": self.objective(result), "latency_ms": result.latency_ms}
        stamp = int(time.time() * 1000)
        metrics = [Metric(name, float(v), stamp, 0) for name, v in values.items() if v is not None]
        if metrics:
            client.log_batch(run_id, metrics=metrics)

    def winner(self, results: Sequence[CandidateResult]) -> CandidateResult | None:
        """The documented rule (nas_core.objectives.ranked_by): the best score, then val loss, then size."""
        return best_by(results, self.objective)

    def summary(self, results: Sequence[CandidateResult], winner: CandidateResult | None) -> dict[str, Any]:
        """What metrics/search.json and the parent run get; numbers become parent-run metrics.

        The front is rebuilt from every result, recovered ones of a resumed search included.
        """
        self.front = ParetoFront()
        for result in results:
            self.front.add_result(result)
        return {
            "objective": self.objective.name,
            "best_objective_score": self.objective(winner) if winner is not None else None,
            "skipped_over_max_params": self.skipped,
            "pareto_front_size": len(self.front.points),
        }
