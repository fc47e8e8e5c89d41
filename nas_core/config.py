"""Typed, validated configuration: one pydantic model per section of params.yaml.

`flows/io/params.py` reads the YAML; this module only validates plain data, so the core stays
free of file formats. Every problem becomes one `NasError` line that names the key.
"""

from __future__ import annotations

import difflib
import os
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from nas_core.errors import NasError
from nas_core.estimation_config import (
    MULTI_FIDELITY,
    WEIGHT_SHARING,
    DartsConfig,
    Estimation,
    HyperbandConfig,
    MedianStopConfig,
    OneShotConfig,
)

DatasetSource = Literal[
    "digits",
    "npz",
    "image_folder",
    "mnist",
    "keras:mnist",
    "keras:fashion_mnist",
    "keras:cifar10",
    "csv",
    "diamonds",
    "text_csv",
    "tweet_sentiment",
]
DataKind = Literal["image", "tabular", "text"]
TABULAR_SOURCES = ("csv", "diamonds")
TEXT_SOURCES = ("text_csv", "tweet_sentiment")
# The space kind each kind of data is searched with (`space.kind`).
SPACE_FOR_DATA: dict[str, str] = {"image": "cnn", "tabular": "mlp", "text": "text"}
Activation = Literal["relu", "elu", "gelu", "swish", "tanh"]
ACTIVATIONS: tuple[Activation, ...] = ("relu", "elu", "gelu", "swish", "tanh")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _choices(values: list[Any], name: str) -> list[Any]:
    if not values:
        raise ValueError(f"{name} needs at least one choice")
    if len(set(map(repr, values))) != len(values):
        raise ValueError(f"{name} has duplicate choices: {values}")
    return values


class DataConfig(_Section):
    """Where the dataset comes from and how it is split."""

    source: DatasetSource = "digits"
    path: str | None = Field(default=None, description="file or folder for npz / image_folder")
    val_fraction: float = Field(default=0.15, gt=0.0, lt=0.5)
    test_fraction: float = Field(default=0.15, gt=0.0, lt=0.5)
    limit: int | None = Field(default=None, gt=0, description="keep at most this many examples")
    seed: int = 0
    # Tabular and text sources (csv, text_csv and their built-ins):
    label: str | None = Field(default=None, description="the label column; null: 'label' (a built-in knows its own)")
    categorical: list[str] | None = Field(
        default=None, description="csv: columns read as categories; null: every column that is not numeric"
    )
    text_column: str | None = Field(default=None, description="text_csv: the text column; null: 'text'")
    max_tokens: int = Field(default=20000, ge=10, description="text: the vocabulary's size, from the train split")
    sequence_length: int = Field(default=64, ge=4, description="text: tokens per document, cut or padded")

    @property
    def kind(self) -> DataKind:
        """What the examples are: images, table rows or texts; it decides the space kind that fits."""
        if self.source in TABULAR_SOURCES:
            return "tabular"
        if self.source in TEXT_SOURCES:
            return "text"
        return "image"

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> DataConfig:
        if self.val_fraction + self.test_fraction > 0.6:
            raise ValueError(
                f"val_fraction + test_fraction is {self.val_fraction + self.test_fraction:.2f}; "
                "keep it at most 0.6 so that training keeps most of the data"
            )
        return self

    @model_validator(mode="after")
    def _path_when_needed(self) -> DataConfig:
        if self.source in ("npz", "image_folder", "csv", "text_csv") and not self.path:
            raise ValueError(f"path: source '{self.source}' needs data.path")
        return self


class SpaceConfig(_Section):
    """The CNN search space (`space.kind: cnn`, the default): every list is the set of choices for that dimension."""

    kind: Literal["cnn"] = "cnn"
    conv_blocks: list[int] = Field(default=[1, 2, 3])
    filters: list[int] = Field(default=[16, 32, 64])
    kernel_size: list[int] = Field(default=[3, 5])
    pooling: list[Literal["max", "avg", "none"]] = Field(default=["max", "avg", "none"])
    padding: list[Literal["same", "valid"]] = Field(default=["same"])
    skip: list[bool] = Field(default=[False, True])
    dense_layers: list[int] = Field(default=[0, 1, 2])
    units: list[int] = Field(default=[32, 64, 128])
    activation: list[Activation] = Field(default=list(ACTIVATIONS))
    dropout: list[float] = Field(default=[0.0, 0.25])
    batch_norm: list[bool] = Field(default=[False, True])

    @field_validator("*", mode="after")
    @classmethod
    def _non_empty_unique(cls, values: Any, info: Any) -> Any:
        return values if info.field_name == "kind" else _choices(values, info.field_name)

    @field_validator("conv_blocks", "dense_layers")
    @classmethod
    def _counts(cls, values: list[int]) -> list[int]:
        if any(v < 0 or v > 8 for v in values):
            raise ValueError("must be between 0 and 8")
        return values

    @field_validator("filters", "units", "kernel_size")
    @classmethod
    def _positive(cls, values: list[int]) -> list[int]:
        if any(v < 1 for v in values):
            raise ValueError("must be positive")
        return values

    @field_validator("dropout")
    @classmethod
    def _dropout(cls, values: list[float]) -> list[float]:
        if any(not 0.0 <= v < 1.0 for v in values):
            raise ValueError("dropout must be in [0, 1)")
        return values


def _check_choices(values: Any, name: str, low: float = 1, high: float | None = None) -> Any:
    """Non-empty, unique, and (for numbers) within [low, high]."""
    values = _choices(values, name)
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if any(v < low or (high is not None and v > high) for v in numbers):
        raise ValueError(f"{name} must be between {low} and {high}" if high is not None else f"{name} must be >= {low}")
    return values


class MlpSpaceConfig(_Section):
    """The tabular search space (`space.kind: mlp`): a stack of dense layers over the table's encoded columns."""

    kind: Literal["mlp"]
    hidden_layers: list[int] = Field(default=[1, 2, 3])
    units: list[int] = Field(default=[32, 64, 128, 256])
    activation: list[Activation] = Field(default=["relu", "gelu", "swish"])
    dropout: list[float] = Field(default=[0.0, 0.1, 0.3])
    batch_norm: list[bool] = Field(default=[False, True])
    residual: list[bool] = Field(default=[False, True])

    @field_validator("*", mode="after")
    @classmethod
    def _valid(cls, values: Any, info: Any) -> Any:
        limits = {"hidden_layers": (0, 8), "units": (1, None), "dropout": (0.0, 0.95)}
        if info.field_name == "kind":
            return values
        low, high = limits.get(info.field_name, (float("-inf"), None))
        return _check_choices(values, info.field_name, low, high)


class TextSpaceConfig(_Section):
    """The text search space (`space.kind: text`): embedding, Conv1D blocks, an optional bidirectional
    recurrent layer and an optional transformer-encoder block, pooled over the sequence."""

    kind: Literal["text"]
    embedding_dim: list[int] = Field(default=[32, 64, 128])
    conv_blocks: list[int] = Field(default=[0, 1, 2])
    filters: list[int] = Field(default=[32, 64, 128])
    kernel_size: list[int] = Field(default=[3, 5, 7])
    recurrent_layers: list[int] = Field(default=[0, 1], description="0 or 1 bidirectional recurrent layer")
    recurrent_cell: list[Literal["lstm", "gru"]] = Field(default=["lstm", "gru"])
    recurrent_units: list[int] = Field(default=[32, 64])
    transformer_blocks: list[int] = Field(default=[0, 1], description="0 or 1 transformer-encoder block")
    heads: list[int] = Field(default=[2, 4])
    pooling: list[Literal["max", "avg"]] = Field(default=["max", "avg"])
    dense_units: list[int] = Field(default=[0, 64], description="a dense layer before the output; 0: none")
    activation: list[Activation] = Field(default=["relu", "gelu"])
    dropout: list[float] = Field(default=[0.0, 0.25])

    @field_validator("*", mode="after")
    @classmethod
    def _valid(cls, values: Any, info: Any) -> Any:
        limits = {
            "conv_blocks": (0, 6),
            "recurrent_layers": (0, 1),
            "transformer_blocks": (0, 1),
            "dense_units": (0, None),
            "dropout": (0.0, 0.95),
        }
        if info.field_name == "kind":
            return values
        low, high = limits.get(info.field_name, (1, None))
        return _check_choices(values, info.field_name, low, high)


AnySpaceConfig = Annotated[SpaceConfig | MlpSpaceConfig | TextSpaceConfig, Field(discriminator="kind")]
SPACE_KINDS = ("cnn", "mlp", "text")


class WarmStartConfig(_Section):
    """Start a search from the candidates earlier searches trained (docs/operations/nightly.md#warm-start).

    History is every finished candidate of earlier searches on the same data, space, training
    and objective: told to the strategy first, never trained again, and in the race for winner.
    `from` adds transfer: the `top_k` best architectures of another search (an experiment name
    or a search run id), trained fresh on this data as the first candidates.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    enabled: Literal[True, False, "scheduled"] = Field(
        default="scheduled", description="scheduled: nightly runs only; true: every run; false: never"
    )
    from_: str | None = Field(default=None, alias="from", description="experiment name or search run id to transfer")
    top_k: int = Field(default=5, gt=0, description="architectures taken over from `from`")

    def applies(self, scheduled: bool, estimation: str = "full") -> bool:
        """On for this run? Never for one-shot and DARTS, which have no candidates to carry over."""
        wanted = self.enabled is True or (self.enabled == "scheduled" and scheduled)
        return wanted and estimation not in ("oneshot", "darts")


class SearchConfig(_Section):
    """Which strategy, how many candidates, and how they run."""

    strategy: str = "random"
    max_candidates: int = Field(default=12, gt=0)
    executor: Literal["threads", "dask"] = "threads"
    dask_address: str | None = None  # before `parallelism`, whose check reads it
    parallelism: int = Field(default=2, gt=0)
    seed: int = 0
    recycle_after: int = Field(default=10, gt=0, description="restart a worker process after this many candidates")
    resume: bool = Field(default=True, description="continue an unfinished (killed) run of the same search")
    warm_start: WarmStartConfig = Field(default_factory=WarmStartConfig)
    strategy_options: dict[str, Any] = Field(default_factory=dict)
    # Cheaper performance estimation (docs/estimation.md):
    estimation: Estimation = "full"
    median_stop: MedianStopConfig = Field(default_factory=MedianStopConfig)
    hyperband: HyperbandConfig = Field(default_factory=HyperbandConfig)
    oneshot: OneShotConfig = Field(default_factory=OneShotConfig)
    darts: DartsConfig = Field(default_factory=DartsConfig)
    # Multi-objective search (docs/multi-objective.md):
    objective: Literal["accuracy", "accuracy_params", "accuracy_latency"] = "accuracy"
    objective_weight: float = Field(default=0.07, ge=0.0, description="how hard the cost pulls the score down")
    objective_target: float | None = Field(default=None, gt=0.0, description="params or ms where score = accuracy")
    latency_batch: int = Field(default=32, gt=0, description="examples per timed prediction (accuracy_latency)")
    max_params: int | None = Field(default=None, gt=0, description="never train a candidate with more parameters")
    reevaluate_top_k: int = Field(
        default=3,
        ge=0,
        description="re-score this many of the best candidates by retrain.folds-fold cross-validation on train+val"
        " and name the best of them the winner; 0 or 1: val alone names it",
    )

    @field_validator("parallelism")
    @classmethod
    def _cores(cls, value: int, info: ValidationInfo) -> int:
        """Local training cannot use more cores than there are; a remote Dask cluster has its own."""
        if info.data.get("executor") == "dask" and info.data.get("dask_address"):
            return value
        cores = os.cpu_count() or 1
        if value > cores:
            raise ValueError(
                f"parallelism {value} is above the {cores} cores of this machine"
                " (only a remote cluster, search.executor: dask with search.dask_address, may use more)"
            )
        return value

    @field_validator("warm_start", mode="before")
    @classmethod
    def _warm_start_shorthand(cls, value: Any) -> Any:
        """`warm_start: true` (or false, or scheduled) is short for `warm_start: {enabled: ...}`."""
        return {"enabled": value} if isinstance(value, bool | str) else value

    @model_validator(mode="after")
    def _warm_start_needs_candidates(self) -> SearchConfig:
        """One-shot and DARTS train no candidates one by one, so there is nothing to carry over."""
        wanted = self.warm_start.enabled is True or self.warm_start.from_ is not None
        if wanted and self.estimation in WEIGHT_SHARING:
            raise ValueError(f"warm_start: not available with search.estimation {self.estimation!r}")
        return self

    @model_validator(mode="after")
    def _weight_sharing_objective(self) -> SearchConfig:
        """What a supernet cannot honour is refused, not ignored: DARTS derives one architecture by
        argmax, so neither a trade-off nor a size limit can steer it; one-shot cannot time a path."""
        if self.estimation == "darts" and self.objective != "accuracy":
            raise ValueError(
                f"objective: {self.objective!r} is not available with estimation 'darts' (its one derived"
                " architecture is not chosen by a score); use estimation oneshot or full"
            )
        if self.estimation == "darts" and self.max_params is not None:
            raise ValueError(
                "max_params: not available with estimation 'darts' (its one derived architecture cannot be held"
                " to a size); use estimation oneshot or full, or offer smaller filters"
            )
        if self.estimation == "oneshot" and self.objective == "accuracy_latency":
            raise ValueError(
                "objective: 'accuracy_latency' is not available with estimation 'oneshot' (a path of the"
                " supernet cannot be timed on its own); use accuracy_params"
            )
        return self

    @model_validator(mode="after")
    def _graph_has_no_param_count(self) -> SearchConfig:
        if self.strategy == "graph" and self.max_params is not None:
            raise ValueError(
                "max_params: not available with strategy 'graph' (its parameters are counted only when it trains);"
                " use objective accuracy_params to favour small graphs"
            )
        return self

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        from nas_core.strategies import available_strategies

        known = available_strategies()
        if value not in known:
            raise ValueError(f"unknown strategy '{value}'{_suggest(value, known)}; choose from {', '.join(known)}")
        return value


class TrainConfig(_Section):
    """How each candidate is trained during the search."""

    epochs: int = Field(default=20, gt=0)
    patience: int = Field(default=5, gt=0)
    batch_size: int = Field(default=32, gt=0)
    learning_rate: float = Field(default=1e-3, gt=0.0)
    schedule: Literal["cosine", "constant"] = Field(
        default="cosine", description="cosine: Adam's rate decays to zero over train.epochs; constant: it stays"
    )


class RetrainConfig(_Section):
    """How the winner is retrained on train+val before its one look at the test split (nas_core.retraining)."""

    epochs: int | None = Field(
        default=None, gt=0, description="null: the epoch whose weights the winner's search training kept"
    )
    seeds: int = Field(default=3, gt=0, description="retrain this many times; each is scored on test")
    ensemble: bool | None = Field(
        default=None,
        description="save the mean of the seeds' predicted probabilities as one model; false: the first seed's "
        "model; null: an ensemble unless the search limits size or latency",
    )
    folds: int = Field(default=3, ge=2, le=10, description="k of the cross-validated promotion score")
    model_name: str = Field(default="nas-winner", min_length=1)


class TrackingConfig(_Section):
    """Where MLflow records runs; SQLite at the repo root unless a server URI is given."""

    uri: str = "sqlite:///mlflow.db"
    experiment: str = Field(default="nas", min_length=1)


class NotifyConfig(_Section):
    """Who hears of a nightly run that failed."""

    webhook: str | None = Field(default=None, description="an http(s) URL that gets a JSON POST when a night fails")

    @field_validator("webhook")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
        return value


class ScheduleConfig(_Section):
    """When the nightly search runs, and who hears when a night fails."""

    cron: str = "0 2 * * *"
    timezone: str = "UTC"
    notify: NotifyConfig = Field(default_factory=NotifyConfig)


class NasConfig(_Section):
    """The whole params.yaml."""

    data: DataConfig = Field(default_factory=DataConfig)
    space: AnySpaceConfig = Field(default_factory=SpaceConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    retrain: RetrainConfig = Field(default_factory=RetrainConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)

    @property
    def cnn_space(self) -> SpaceConfig:
        """The CNN space, for what only CNNs have (weight sharing, graphs, the shape rule); the config
        already refuses those methods for the other kinds, so this raising is a bug, not a user error."""
        if not isinstance(self.space, SpaceConfig):
            raise NasError(f"space.kind {self.space.kind!r}: this step needs space.kind 'cnn'")
        return self.space

    @property
    def schedule_epochs(self) -> int:
        """The epochs a candidate's learning-rate schedule spans: its full training (the top rung for
        successive halving and Hyperband, whose lower rungs train part of it and resume)."""
        if self.search.estimation in MULTI_FIDELITY:
            return self.search.hyperband.max_epochs or self.train.epochs
        return self.train.epochs

    @property
    def retrain_ensemble(self) -> bool:
        """Whether the retrain saves its seeds as one averaging model. By default it does, unless the search
        bounded the model's size or latency (`search.max_params`, a cost objective): an ensemble of k seeds
        has k times the parameters and the prediction cost of the architecture the search chose."""
        if self.retrain.ensemble is not None:
            return self.retrain.ensemble
        return self.search.max_params is None and self.search.objective == "accuracy"

    @model_validator(mode="before")
    @classmethod
    def _space_kind_default(cls, raw: Any) -> Any:
        """`space.kind` may be left out: a space without it is the CNN space, as before kinds existed."""
        if isinstance(raw, dict) and isinstance(raw.get("space"), dict) and "kind" not in raw["space"]:
            return raw | {"space": {"kind": "cnn"} | raw["space"]}
        return raw

    @model_validator(mode="after")
    def _space_fits_the_data(self) -> NasConfig:
        """Each kind of data has its space kind; the CNN-only searches are refused for the others."""
        wanted = SPACE_FOR_DATA[self.data.kind]
        if self.space.kind != wanted:
            raise ValueError(
                f"space.kind: {self.space.kind!r} does not fit data.source {self.data.source!r}"
                f" ({self.data.kind} data); use space.kind {wanted!r}"
            )
        if self.space.kind != "cnn":
            if self.search.estimation in WEIGHT_SHARING:
                raise ValueError(
                    f"search.estimation: {self.search.estimation!r} searches a CNN supernet and does not apply to"
                    f" space.kind {self.space.kind!r}; use full, successive_halving or hyperband"
                )
            if self.search.strategy == "graph":
                raise ValueError(
                    f"search.strategy: 'graph' grows CNN layer graphs and does not apply to space.kind"
                    f" {self.space.kind!r}; choose another strategy"
                )
            if self.search.max_params is not None:
                raise ValueError(
                    f"search.max_params: not available with space.kind {self.space.kind!r} (its candidates' sizes"
                    " are known only once built); use objective accuracy_params to favour small models"
                )
        return self

    @model_validator(mode="after")
    def _fidelity_range(self) -> NasConfig:
        schedule = self.search.hyperband
        max_epochs = schedule.max_epochs or self.train.epochs
        if self.search.estimation in MULTI_FIDELITY and max_epochs <= schedule.min_epochs:
            raise ValueError(
                f"search.hyperband.min_epochs ({schedule.min_epochs}) must be below max_epochs "
                f"({max_epochs}; null means train.epochs)"
            )
        return self


def _suggest(word: str, options: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _untagged(path: tuple[Any, ...]) -> tuple[tuple[Any, ...], type[BaseModel] | None]:
    """An error inside `space` carries the space kind in its location (space.mlp.units); drop it."""
    models: dict[str, type[BaseModel]] = {"cnn": SpaceConfig, "mlp": MlpSpaceConfig, "text": TextSpaceConfig}
    if len(path) >= 2 and path[0] == "space" and str(path[1]) in models:
        return (path[0], *path[2:]), models[str(path[1])]
    return path, None


def _section_fields(path: tuple[Any, ...], space_model: type[BaseModel] | None = None) -> list[str]:
    """The valid keys at the level where an unknown key was found, for a suggestion."""
    if space_model is not None and len(path) == 2:
        return list(space_model.model_fields)
    model: type[BaseModel] = NasConfig
    for part in path[:-1]:
        annotation = model.model_fields[str(part)].annotation if str(part) in model.model_fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def format_validation_error(error: ValidationError, source: str = "params.yaml") -> str:
    """One line naming the first bad key, with a suggestion when the key looks misspelt."""
    first = error.errors()[0]
    path, space_model = _untagged(tuple(first["loc"]))
    key = ".".join(str(p) for p in path) or "(top level)"
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = f"unknown key{_suggest(str(path[-1]), _section_fields(path, space_model))}"
    elif first["type"] == "literal_error":
        message = f"{message}, got {first.get('input')!r}"
    more = len(error.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{source}: {key}: {message}{tail}"


def validate_config(raw: Any, source: str = "params.yaml") -> NasConfig:
    """Validate plain data (as read from YAML) into a `NasConfig`, or raise one clear `NasError`."""
    if raw is None:  # an empty file: running every default silently would hide a lost or truncated config
        raise NasError(f"{source}: the params file is empty; give at least one section (see docs/configuration.md)")
    if not isinstance(raw, dict):
        raise NasError(f"{source}: the top level must be a mapping of sections, got {type(raw).__name__}")
    try:
        return NasConfig.model_validate(raw)
    except ValidationError as error:
        raise NasError(format_validation_error(error, source)) from None
