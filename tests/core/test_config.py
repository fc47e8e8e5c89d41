"""params.yaml validation: defaults are valid, every bad value is one line naming the key."""

from __future__ import annotations

import os

import pytest

from nas_core.config import NasConfig, validate_config
from nas_core.errors import NasError


def test_defaults_are_valid() -> None:
    cfg = validate_config({})
    assert isinstance(cfg, NasConfig)
    assert cfg.data.source == "digits"
    assert cfg.search.strategy == "random"
    assert cfg.tracking.uri == "sqlite:///mlflow.db"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"serch": {}}, "serch: unknown key (did you mean 'search'?)"),
        ({"space": {"unitz": [1]}}, "space.unitz: unknown key (did you mean 'units'?)"),
        ({"search": {"max_candidates": "many"}}, "search.max_candidates"),
        ({"space": {"filters": []}}, "space.filters: filters needs at least one choice"),
        ({"space": {"filters": [16, 16]}}, "space.filters: filters has duplicate choices"),
        ({"train": {"epochs": -1}}, "train.epochs"),
        ({"search": {"max_candidates": 0}}, "search.max_candidates"),
        ({"data": {"source": "imagenet"}}, "data.source"),
        ({"search": {"strategy": "randm"}}, "unknown strategy 'randm' (did you mean 'random'?)"),
        ({"search": {"executor": "slurm"}}, "search.executor"),
        ({"data": {"source": "npz"}}, "data.path"),
        ({"space": {"activation": ["relu", "sigmoidal"]}}, "space.activation.1"),
    ],
)
def test_bad_values_name_the_key(raw: dict, expected: str) -> None:
    with pytest.raises(NasError) as caught:
        validate_config(raw)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    assert message.startswith("params.yaml: ")


def test_parallelism_above_cores_is_refused() -> None:
    cores = os.cpu_count() or 1
    with pytest.raises(NasError, match=r"search.parallelism: parallelism \d+ is above the \d+ cores"):
        validate_config({"search": {"parallelism": cores + 1}})
    with pytest.raises(NasError, match=r"search.parallelism"):  # a local Dask cluster shares this machine's cores
        validate_config({"search": {"parallelism": cores + 1, "executor": "dask"}})


def test_a_remote_dask_cluster_may_run_more_candidates_than_local_cores() -> None:
    cores = os.cpu_count() or 1
    remote = {"executor": "dask", "dask_address": "tcp://scheduler:8786", "parallelism": cores * 4}
    assert validate_config({"search": remote}).search.parallelism == cores * 4


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(NasError, match="top level must be a mapping"):
        validate_config(["data"])
