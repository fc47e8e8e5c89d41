"""The search space described: `nas check`, and the space stage's artifacts/search_space.json.

Is params.yaml valid, does the space fit the data, and how much of it will really be trained?

Counts are exact when the space is small enough to enumerate, and otherwise estimated from a
uniform sample of its distinct architectures (each canonical architecture equally likely).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flows.io.paths import PREPARED_DIR, SEARCH_SPACE
from nas_core.architecture import InfeasibleArchitecture, check_space_for_input, cnn_search_space, repair
from nas_core.config import NasConfig
from nas_core.estimation.cell_space import CellSpace
from nas_core.estimation_config import WEIGHT_SHARING
from nas_core.graph_space import graph_space_from_config
from nas_core.param_count import count_params
from nas_core.prepared import MANIFEST_NAME
from nas_core.prepared import manifest as splits_manifest
from nas_core.space import Sample, SearchSpace
from nas_core.spaces import search_space

EXACT_LIMIT = 20_000  # enumerate spaces up to this size; sample the rest
SAMPLES = 2_000


@dataclass(frozen=True)
class SpaceReport:
    input_shape: tuple[int, ...]
    num_classes: int
    shape_source: str
    size: int
    examined: int
    exact: bool
    repaired: int
    rejected: int
    over_limit: int
    smallest: int | None
    largest: int | None

    def share(self, count: int) -> str:
        percent = 100.0 * count / max(1, self.examined)
        return f"{count:,} ({percent:.1f}%)" if self.exact else f"about {percent:.1f}%"

    def how_counted(self) -> str:
        if self.exact:
            return "all checked"
        return f"counts below estimated from {self.examined:,} drawn uniformly"


def data_manifest(cfg: NasConfig, root: Path, prepared: Path = PREPARED_DIR) -> tuple[dict[str, Any], str]:
    """The prepared data's manifest (input shape, classes, a table's or text's features) and where it came
    from: the prepared manifest if there is one, else made by loading the dataset as prepare would."""
    manifest_path = root / prepared / MANIFEST_NAME
    if manifest_path.is_file():
        return json.loads(manifest_path.read_text()), str(manifest_path)
    if cfg.data.kind != "image":
        from flows.io.tables import corpus_splits, table_splits

        splits, extras = (table_splits if cfg.data.kind == "tabular" else corpus_splits)(cfg.data, root)
        return splits_manifest(
            splits, cfg.data.source, cfg.data.kind, **extras
        ), f"data.source {cfg.data.source} (loaded)"
    from flows.io.datasets import load_dataset
    from nas_core.data import as_images

    x, y = load_dataset(cfg.data, root)
    images = as_images(np.asarray(x))
    shape = tuple(int(d) for d in images.shape[1:])
    shape = (*shape, 1) if len(shape) == 2 else shape
    made = {"input_shape": list(shape), "num_classes": len(np.unique(y))}
    return made, f"data.source {cfg.data.source} (loaded)"


def _parent_combos(space: SearchSpace) -> list[tuple[dict[str, Any], list[str], int]]:
    """Each assignment of the condition parents, its active free dimensions, and how many architectures it holds."""
    parents = sorted({c.parent for c in space.conditions})
    combos = []
    for values in itertools.product(*(space.dimension(p).choices for p in parents)):
        assignment = dict(zip(parents, values, strict=True))
        active = [
            d.name
            for d in space.dimensions
            if d.name not in parents and space.is_active(d.name, assignment | {d.name: d.choices[0]})
        ]
        combos.append((assignment, active, int(np.prod([len(space.dimension(n).choices) for n in active]))))
    return combos


def enumerate_architectures(space: SearchSpace) -> Iterator[Sample]:
    """Every distinct (canonical) architecture once."""
    for assignment, active, _ in _parent_combos(space):
        for values in itertools.product(*(space.dimension(n).choices for n in active)):
            yield assignment | dict(zip(active, values, strict=True))


def sample_architectures(space: SearchSpace, n: int, seed: int = 0) -> Iterator[Sample]:
    """`n` architectures drawn uniformly from the distinct ones (not from raw samples, which favour small nets)."""
    combos = _parent_combos(space)
    weights = np.array([count for _, _, count in combos], dtype=float)
    rng = np.random.default_rng(seed)
    for pick in rng.choice(len(combos), size=n, p=weights / weights.sum()):
        assignment, active, _ = combos[int(pick)]
        yield assignment | {
            name: space.dimension(name).choices[rng.integers(len(space.dimension(name).choices))] for name in active
        }


def check_space(cfg: NasConfig, manifest: Mapping[str, Any], shape_source: str = "") -> SpaceReport:
    """Raises `NasError` if nothing fits; otherwise counts repairs, rejections and (with max_params) oversize.

    The shape rule is the CNN space's: an mlp or text space builds every architecture it holds.
    """
    input_shape, num_classes = tuple(int(d) for d in manifest["input_shape"]), int(manifest["num_classes"])
    if cfg.space.kind != "cnn":
        size = search_space(cfg.space, manifest).size()
        return SpaceReport(input_shape, num_classes, shape_source, size, 0, True, 0, 0, 0, None, None)
    space = cnn_search_space(cfg.cnn_space)
    check_space_for_input(space, input_shape)
    size = space.size()
    exact = size <= EXACT_LIMIT
    archs = enumerate_architectures(space) if exact else sample_architectures(space, SAMPLES, cfg.search.seed)
    examined = repaired = rejected = over = 0
    sizes: list[int] = []
    for arch in archs:
        examined += 1
        try:
            fixed = repair(arch, input_shape)
        except InfeasibleArchitecture:
            rejected += 1
            continue
        repaired += fixed != arch
        params = count_params(fixed, input_shape, num_classes)
        sizes.append(params)
        over += cfg.search.max_params is not None and params > cfg.search.max_params
    return SpaceReport(
        tuple(int(d) for d in input_shape),
        num_classes,
        shape_source,
        size,
        examined,
        exact,
        repaired,
        rejected,
        over,
        min(sizes) if sizes else None,
        max(sizes) if sizes else None,
    )


def space_key(cfg: NasConfig, dataset_hash: str) -> str:
    """What a space description depends on: the params that shape it and the prepared data."""
    parts = {
        "space": cfg.space.model_dump(mode="json"),
        "strategy": cfg.search.strategy,
        "estimation": cfg.search.estimation,
        "max_params": cfg.search.max_params,
        "seed": cfg.search.seed,
        "dataset_hash": dataset_hash,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def describe_space(cfg: NasConfig, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """artifacts/search_space.json: the space the strategy searches, its size and, for the CNN space,
    the shape-rule summary that `nas check` prints."""
    record: dict[str, Any] = {"key": space_key(cfg, manifest["content_hash"]), "strategy": cfg.search.strategy}
    if cfg.search.estimation in WEIGHT_SHARING:  # the reduced cell space of the supernet
        cell = CellSpace.from_config(cfg.cnn_space)
        reduced = cell.search_space()
        described = {"space": reduced.to_dict(), "size": reduced.size(), "method": cfg.search.estimation}
        return record | described | {"fixed": cell.fixed, "blocks": cell.blocks}
    if cfg.search.strategy == "graph":
        graphs = graph_space_from_config(cfg.cnn_space)
        return record | {"space": graphs.to_dict(), "size": None}
    if cfg.space.kind != "cnn":
        space = search_space(cfg.space, manifest)
        return record | {"kind": cfg.space.kind, "space": space.to_dict(), "size": space.size()}
    report = check_space(cfg, manifest)
    rules = asdict(report)
    for field_name in ("input_shape", "num_classes", "shape_source", "size"):
        rules.pop(field_name)
    return record | {"space": cnn_search_space(cfg.cnn_space).to_dict(), "size": report.size, "shape_rule": rules}


def space_record(cfg: NasConfig, manifest: Mapping[str, Any], path: Path = SEARCH_SPACE) -> dict[str, Any]:
    """The space stage's record if it is there and current (`dvc repro`), else the same record made now."""
    if path.is_file():
        record: dict[str, Any] = json.loads(path.read_text())
        if record.get("key") == space_key(cfg, manifest["content_hash"]):
            return record
    return describe_space(cfg, manifest)
