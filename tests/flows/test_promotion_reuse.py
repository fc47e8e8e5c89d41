"""The retrain reuses the search's cross-validation of its winner only when it is the very recipe it would run."""

from __future__ import annotations

from typing import Any

from flows.retrain import score_from_search
from nas_core.config import NasConfig
from nas_core.train_settings import retrain_settings

PROMOTION = {
    "promotion_accuracy": 0.99,
    "promotion_loss": 0.04,
    "promotion_fold_accuracies": [0.98, 1.0],
    "promotion_examples": 300,
}


def winner(**recipe: Any) -> dict[str, Any]:
    return {"best_epoch": 7, "promotion": PROMOTION | {"folds": 2, "data_seed": 0, "epochs": 7} | recipe}


def test_the_same_folds_seed_and_epochs_reuse_the_score_and_anything_else_recomputes_it() -> None:
    cfg = NasConfig.model_validate({"retrain": {"folds": 2}})
    settings = retrain_settings(cfg, 7)
    reused = score_from_search(cfg, winner(), settings)
    assert reused is not None and reused.accuracy == 0.99 and reused.fold_accuracies == (0.98, 1.0)
    assert score_from_search(cfg, winner(folds=3), settings) is None  # retrain.folds changed since the search
    assert score_from_search(cfg, winner(data_seed=1), settings) is None
    assert score_from_search(cfg, winner(epochs=9), settings) is None  # retrain.epochs set: another recipe
    assert score_from_search(cfg, {"best_epoch": 7}, settings) is None  # re-scoring was off, or one-shot/DARTS
