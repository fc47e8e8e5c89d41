"""The re-scoring of the top candidates, run as Prefect tasks that train real folds on tiny digits."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prefect import flow

from flows.engine.reevaluate import Reevaluation, reevaluate
from nas_core.config import NasConfig
from nas_core.objectives import Objective
from nas_core.results import COMPLETED, CandidateResult
from tests.conftest import TINY_CNN, digits_arrays

LOGGER = logging.getLogger("test-reevaluate")
CFG = NasConfig.model_validate({"search": {"reevaluate_top_k": 2}, "retrain": {"epochs": 2, "folds": 2}})


def candidate(index: int, val: float, architecture: dict[str, Any]) -> CandidateResult:
    history = {"val_loss": [0.5, 0.4]}
    return CandidateResult(
        f"k{index}", architecture, COMPLETED, val_accuracy=val, val_loss=0.4, index=index, epochs_run=2, history=history
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prepared")
    arrays = digits_arrays(240, 60)
    np.savez(folder / "train.npz", x=arrays.x_train, y=arrays.y_train)
    np.savez(folder / "val.npz", x=arrays.x_val, y=arrays.y_val)
    return folder


@flow
def rescore(contenders: list[CandidateResult], data_dir: Path) -> Reevaluation | None:
    return reevaluate(CFG, Objective(), contenders, None, str(data_dir), 10, LOGGER)


def test_the_best_cross_validated_of_the_top_k_wins_and_carries_its_promotion_record(
    prefect_api: str, data_dir: Path
) -> None:
    wider = TINY_CNN | {"filters_0": 16}
    contenders = [
        candidate(0, 0.95, TINY_CNN),
        candidate(1, 0.97, wider),
        candidate(2, 0.50, TINY_CNN | {"kernel_0": 5}),
    ]
    outcome = rescore(contenders, data_dir)
    assert outcome is not None
    # The top 2 by val, best first; the third is never trained again.
    assert [r.index for r in outcome.rescored] == [1, 0]
    assert all(r.cv_accuracy is not None and 0.0 <= r.cv_accuracy <= 1.0 for r in outcome.rescored)
    assert outcome.winner.cv_accuracy == max(r.cv_accuracy or 0.0 for r in outcome.rescored)
    record = outcome.promotion_record()
    assert record["promotion_accuracy"] == outcome.winner.cv_accuracy
    assert record["promotion_examples"] == 300 and len(record["promotion_fold_accuracies"]) == 2  # train+val, once
    assert (record["folds"], record["data_seed"], record["epochs"]) == (2, 0, 2)  # retrain.epochs: 2
    assert outcome.summary()["winner_changed_by_reevaluation"] == (outcome.winner.index != 1)


def test_a_candidate_whose_folds_fail_keeps_its_val_score_and_cannot_win(prefect_api: str, data_dir: Path) -> None:
    broken = TINY_CNN | {"activation": "no-such-activation"}  # val ranked it first; it cannot be built again
    outcome = rescore([candidate(0, 0.99, broken), candidate(1, 0.90, TINY_CNN)], data_dir)
    assert outcome is not None
    assert outcome.winner.index == 1 and outcome.winner.cv_accuracy is not None
    assert outcome.rescored[0].index == 0 and outcome.rescored[0].cv_accuracy is None


def test_nothing_to_rescore_leaves_the_winner_to_val(prefect_api: str, data_dir: Path, tmp_path: Path) -> None:
    assert rescore([candidate(0, 0.9, TINY_CNN)], data_dir) is None  # one candidate: nothing to choose between
    both = [candidate(0, 0.9, TINY_CNN), candidate(1, 0.8, TINY_CNN | {"filters_0": 16})]
    assert rescore(both, tmp_path / "missing") is None  # no fold could train: val's winner stands
