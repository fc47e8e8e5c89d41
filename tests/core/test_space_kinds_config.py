"""`space.kind` in params: its default, its own keys, and the one-line errors for what does not fit it."""

from __future__ import annotations

from typing import Any

import pytest

from nas_core.config import MlpSpaceConfig, SpaceConfig, TextSpaceConfig, validate_config
from nas_core.errors import NasError

TABLE: dict[str, Any] = {"data": {"source": "csv", "path": "t.csv"}, "space": {"kind": "mlp"}}
TEXT: dict[str, Any] = {"data": {"source": "tweet_sentiment"}, "space": {"kind": "text"}}


def test_a_space_without_kind_is_the_cnn_space() -> None:
    assert isinstance(validate_config({"space": {"filters": [8]}}).space, SpaceConfig)


def test_each_kind_has_its_own_keys() -> None:
    assert isinstance(validate_config(TABLE).space, MlpSpaceConfig)
    assert isinstance(validate_config(TEXT).space, TextSpaceConfig)
    with pytest.raises(NasError, match=r"^params.yaml: space.filters: unknown key$"):
        validate_config(TABLE | {"space": {"kind": "mlp", "filters": [8]}})
    with pytest.raises(NasError, match=r"space.unit: unknown key \(did you mean 'units'\?\)"):
        validate_config(TABLE | {"space": {"kind": "mlp", "unit": [8]}})
    with pytest.raises(NasError, match=r"space.recurrent_layers: recurrent_layers must be between 0 and 1"):
        validate_config(TEXT | {"space": {"kind": "text", "recurrent_layers": [2]}})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"data": {"source": "csv", "path": "t.csv"}}, r"space.kind: 'cnn' does not fit data.source 'csv' \(tabular"),
        (
            {"space": {"kind": "mlp"}},
            r"space.kind: 'mlp' does not fit data.source 'digits' \(image data\); use space.kind 'cnn'",
        ),
        ({"data": {"source": "diamonds"}, "space": {"kind": "text"}}, r"use space.kind 'mlp'"),
        (TEXT | {"search": {"estimation": "oneshot"}}, r"search.estimation: 'oneshot' searches a CNN supernet"),
        (TABLE | {"search": {"estimation": "darts"}}, r"'darts' searches a CNN supernet .* use full, success"),
        (TABLE | {"search": {"strategy": "graph"}}, r"search.strategy: 'graph' grows CNN layer graphs"),
        (TABLE | {"search": {"max_params": 1000}}, r"search.max_params: not available with space.kind 'mlp'"),
        ({"data": {"source": "text_csv"}, "space": {"kind": "text"}}, r"source 'text_csv' needs data.path"),
    ],
)
def test_what_does_not_fit_the_kind_is_refused_in_one_line(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(NasError, match=message) as error:
        validate_config(raw)
    assert "\n" not in str(error.value)
