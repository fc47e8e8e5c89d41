"""What a search derives from params.yaml and the prepared data before it trains anything."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from flows.engine.objective import SearchObjective
from flows.io.artifacts import read_manifest
from flows.io.paths import PREPARED_DIR
from flows.tracking.tracker import MlflowTracker
from nas_core.architecture import InfeasibleArchitecture, architecture_key, prepare_architecture
from nas_core.config import NasConfig
from nas_core.graph_space import GraphSpace, graph_space_from_config
from nas_core.search_loop import Candidate
from nas_core.space import Sample, SearchSpace, sample_key
from nas_core.spaces import search_space
from nas_core.strategies import Wrapper, make_strategy
from nas_core.train_settings import TrainSettings


def search_preflight(cfg: NasConfig, data_dir: Path = PREPARED_DIR) -> tuple[dict[str, Any], MlflowTracker]:
    """Everything that can fail before training: data present, space feasible, tracking reachable.

    Returns the manifest and the tracker, which the search goes on with.
    """
    manifest = read_manifest(data_dir)
    search_space(cfg.space, manifest)  # the data is the space's kind, and (CNN) some architecture fits it
    return manifest, MlflowTracker(cfg.tracking.uri, cfg.tracking.experiment)


def make_candidate(space: SearchSpace, input_shape: tuple[int, ...], index: int, sample: Sample) -> Candidate:
    """What will really be trained for `sample`; an impossible one is marked so it is recorded, not trained."""
    try:
        arch = prepare_architecture(space, sample, input_shape)
        return Candidate(index, dict(sample), arch, sample_key(arch))
    except InfeasibleArchitecture as error:
        arch = space.canonical(sample)
        return Candidate(index, dict(sample), arch, sample_key(arch), f"infeasible architecture: {error}")


def make_graph_candidate(space: GraphSpace, index: int, sample: Sample) -> Candidate:
    """A graph sample as a candidate; one outside the space is recorded as such, not trained."""
    problem = space.problem(sample)
    arch = space.canonical(sample)
    return Candidate(index, dict(sample), arch, sample_key(arch), f"invalid graph: {problem}" if problem else None)


def search_space_for(
    cfg: NasConfig, manifest: dict[str, Any]
) -> tuple[SearchSpace | GraphSpace, Callable[[int, Sample], Candidate], Callable[[Sample], str]]:
    """The space the strategy searches, how its samples become candidates, and their identity.

    `graph` searches layer graphs built from the same params.yaml `space` (docs "Search
    strategies"); every other strategy searches the space of `space.kind` (cnn, mlp or text), of
    fixed, conditional dimensions.
    """
    if cfg.search.strategy == "graph":
        graphs = graph_space_from_config(cfg.cnn_space)  # the config refuses 'graph' for the other kinds
        return graphs, partial(make_graph_candidate, graphs), lambda sample: sample_key(graphs.canonical(sample))
    input_shape = tuple(int(d) for d in manifest["input_shape"])
    space = search_space(cfg.space, manifest)
    return space, partial(make_candidate, space, input_shape), partial(architecture_key, space, input_shape=input_shape)


@dataclass
class SearchSetup:
    """What a search derives from params.yaml and the prepared data before it trains anything."""

    cfg: NasConfig
    manifest: dict[str, Any]
    input_shape: tuple[int, ...]
    space: SearchSpace | GraphSpace
    to_candidate: Callable[[int, Sample], Candidate]
    key: Callable[[Sample], str]  # when two samples are the same architecture
    objective: SearchObjective
    settings: TrainSettings

    def strategy(self, seed: int, first: Sequence[Sample] = ()) -> Wrapper:
        """The strategy of params.yaml on `seed` (`search.seed`, or a warm-started night's own), taking in
        `first` from a transfer; not yet constrained to `search.max_params`."""
        search = self.cfg.search
        options = search.strategy_options
        return make_strategy(search.strategy, self.space, seed=seed, key=self.key, first=first, **options)


def set_up_search(cfg: NasConfig, manifest: dict[str, Any]) -> SearchSetup:
    input_shape = tuple(int(d) for d in manifest["input_shape"])
    space, to_candidate, key = search_space_for(cfg, manifest)
    objective = SearchObjective(cfg.search, space, input_shape, manifest["num_classes"])  # docs "Multi-objective"
    settings = objective.train_settings(cfg.train.model_dump(), cfg.schedule_epochs)
    return SearchSetup(cfg, manifest, input_shape, space, to_candidate, key, objective, settings)
