"""The search space of params.yaml's `space` for each space kind (cnn, mlp, text), and what each kind needs
of the prepared data. Keras is imported only where a model is made: the flow process that only
searches never loads TensorFlow.

Strategies see only the generic `SearchSpace`; which kind an architecture belongs to is read from
its own keys (`is_mlp`, `is_text`), so building, describing and drawing need nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from nas_core.architecture import check_space_for_input, cnn_search_space
from nas_core.config import SPACE_FOR_DATA, MlpSpaceConfig, SpaceConfig, TextSpaceConfig
from nas_core.errors import NasError
from nas_core.mlp_space import mlp_search_space
from nas_core.space import SearchSpace
from nas_core.text import TextFeatures
from nas_core.text_space import text_search_space

if TYPE_CHECKING:
    import keras

DATA_FOR_SPACE = {space: data for data, space in SPACE_FOR_DATA.items()}


def search_space(cfg: SpaceConfig | MlpSpaceConfig | TextSpaceConfig, manifest: Mapping[str, Any]) -> SearchSpace:
    """The space of `cfg`'s kind over the prepared data that `manifest` describes; the data must be its kind."""
    data_kind = str(manifest.get("kind", "image"))
    if DATA_FOR_SPACE[cfg.kind] != data_kind:
        raise NasError(
            f"space.kind: {cfg.kind!r} needs {DATA_FOR_SPACE[cfg.kind]} data, but the prepared data is {data_kind}"
            " data; run the prepare stage again (`dvc repro prepare`)"
        )
    if isinstance(cfg, MlpSpaceConfig):
        return mlp_search_space(cfg)
    if isinstance(cfg, TextSpaceConfig):
        return text_search_space(cfg, TextFeatures.from_dict(manifest["features"]).vocabulary_size)
    space = cnn_search_space(cfg)
    check_space_for_input(space, manifest["input_shape"])
    return space


def with_raw_input(model: keras.Model, manifest: Mapping[str, Any]) -> keras.Model:
    """The model as it is exported: a table's or a text's preprocessing put in front, so that it takes raw
    rows or strings rather than the encoded x it trained on. An image model is returned as it is."""
    from nas_core.tabular import TabularFeatures, with_raw_inputs  # Keras: only where a model is exported
    from nas_core.text import with_raw_text_input

    kind = manifest.get("kind", "image")
    if kind == "tabular":
        return with_raw_inputs(model, TabularFeatures.from_dict(manifest["features"]))
    if kind == "text":
        return with_raw_text_input(model, TextFeatures.from_dict(manifest["features"]))
    return model


def raw_example(manifest: Mapping[str, Any]) -> dict[str, np.ndarray] | np.ndarray | None:
    """A few raw val examples, as the exported model of a table or a text takes them (None for images)."""
    from nas_core.tabular import TabularFeatures, raw_inputs

    kind = manifest.get("kind", "image")
    if kind == "tabular":
        features = TabularFeatures.from_dict(manifest["features"])
        numeric = {column.name for column in features.numeric}
        columns = {
            name: np.array([np.nan if v is None else v for v in values], dtype=np.float64)
            if name in numeric
            else np.array(["" if v is None else str(v) for v in values], dtype=object)
            for name, values in manifest["raw_examples"].items()
        }
        return raw_inputs(features, columns)
    if kind == "text":
        return np.array(manifest["raw_examples"], dtype=str).reshape(-1, 1)
    return None
