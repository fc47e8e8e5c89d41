"""The params.yaml keys of the estimation methods: defaults, the shipped file, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nas_core.config import validate_config
from nas_core.errors import NasError

REPO = Path(__file__).resolve().parents[3]


def test_defaults_keep_full_training_and_the_shipped_params_list_every_key() -> None:
    cfg = validate_config({})
    assert cfg.search.estimation == "full" and not cfg.search.median_stop.enabled
    assert cfg.search.hyperband.max_epochs is None and cfg.search.hyperband.eta == 3
    shipped = yaml.safe_load((REPO / "params.yaml").read_text())["search"]
    for key in ("estimation", "median_stop", "hyperband", "oneshot", "darts"):
        assert key in shipped  # DVC lists `search`, and the README documents every key
    assert validate_config(yaml.safe_load((REPO / "params.yaml").read_text())).search == cfg.search


@pytest.mark.parametrize(
    ("search", "train", "message"),
    [
        ({"estimation": "bohb"}, {}, "search.estimation"),
        ({"median_stop": {"enabeld": True}}, {}, "unknown key (did you mean 'enabled'?)"),
        ({"hyperband": {"eta": 1}}, {}, "search.hyperband.eta"),
        ({"hyperband": {"min_epochs": 5, "max_epochs": 5}}, {}, "search.hyperband"),
        ({"estimation": "hyperband", "hyperband": {"min_epochs": 3}}, {"epochs": 3}, "search.hyperband.min_epochs (3)"),
        ({"oneshot": {"top_k": 0}}, {}, "search.oneshot.top_k"),
        # What a supernet cannot honour is refused, never silently ignored.
        ({"estimation": "darts", "max_params": 50_000}, {}, "max_params: not available with estimation 'darts'"),
        ({"estimation": "darts", "objective": "accuracy_params"}, {}, "search: objective: 'accuracy_params' is not"),
        ({"estimation": "oneshot", "objective": "accuracy_latency"}, {}, "objective: 'accuracy_latency' is not"),
    ],
)
def test_bad_keys_are_one_line_errors_naming_the_key(search: dict, train: dict, message: str) -> None:
    with pytest.raises(NasError) as error:
        validate_config({"search": search, "train": train})
    assert message in str(error.value) and "\n" not in str(error.value)
