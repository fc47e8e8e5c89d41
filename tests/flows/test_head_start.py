"""The head start: the requests planned before the flow runs are the ones the flow then submits first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flows.engine.head_start import first_requests
from flows.io.params import load_params
from flows.io.paths import PREPARED_DIR
from flows.prepare import prepare_flow
from flows.search import run_search_stage
from tests.conftest import in_directory, write_params

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def root(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with in_directory(tmp_path_factory.mktemp("head-start")) as root:
        prepare_flow(params_path=str(write_params(root / "params.yaml")))
        yield root


def planned_then_searched(root: Path, name: str, search: dict[str, Any]) -> tuple[list[Any], list[dict[str, Any]]]:
    params = write_params(root / f"{name}.yaml", {"search": search, "tracking": {"experiment": name}})
    planned = first_requests(load_params(params), PREPARED_DIR, fresh=False)
    run_search_stage(params_path=str(params))
    results = sorted(json.loads((root / "artifacts/search_results.json").read_text()), key=lambda r: r["index"])
    return planned, results


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [("random", 2), ("evolution", 1)],  # results decide evolution's next proposal: only the first is certain
)
def test_planned_requests_are_the_searchs_first_candidates(root: Path, strategy: str, expected: int) -> None:
    search = {"strategy": strategy, "max_candidates": 3, "parallelism": 1, "seed": 5}
    planned, results = planned_then_searched(root, f"plan-{strategy}", search)
    assert len(planned) == expected
    assert len(results) == 3 and all(r["status"] == "COMPLETED" for r in results)
    for request, result in zip(planned, results, strict=False):
        planned_as = (request.index, request.key, request.architecture)
        assert planned_as == (result["index"], result["key"], result["architecture"])


def test_nothing_is_planned_when_the_first_submissions_are_not_candidates(root: Path) -> None:
    params = write_params(root / "sh.yaml", {"search": {"estimation": "successive_halving"}})
    assert first_requests(load_params(params), PREPARED_DIR, fresh=True) == []
