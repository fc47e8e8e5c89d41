"""Median stopping: the pure rule, and a clearly bad candidate stopped in real Keras training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nas_core.estimation.median_stop import MedianStopRule, median_stop_rule
from nas_core.estimation.median_stop_callback import MedianStopCallback
from nas_core.estimation_config import MedianStopConfig
from nas_core.results import COMPLETED
from nas_core.training import Arrays, TrainSettings, train_candidate
from nas_core.worker import TrainRequest, train_request
from tests.conftest import TINY_CNN, digits_arrays

ARCH = TINY_CNN
GOOD_PEERS = ((0.6, 0.8, 0.9, 0.95, 0.96, 0.97),) * 3


def test_the_rule_compares_with_the_median_of_peers_at_the_same_epoch() -> None:
    rule = MedianStopRule(min_epochs=2, min_candidates=3).with_peers([[0.1, 0.5], [0.2, 0.6], [0.3, 0.7], [0.9]])
    assert rule.median_at(1) == pytest.approx(0.25)  # four peers reached epoch 1
    assert rule.median_at(2) == pytest.approx(0.6)  # three reached epoch 2
    assert not rule.should_stop(1, 0.0)  # before min_epochs
    assert rule.should_stop(2, 0.59) and not rule.should_stop(2, 0.6)
    assert rule.median_at(3) is None and not rule.should_stop(3, 0.0)  # too few peers got that far
    assert median_stop_rule(MedianStopConfig()) is None  # disabled by default
    assert median_stop_rule(MedianStopConfig(enabled=True, min_epochs=4)) == MedianStopRule(4, 3)


@pytest.fixture(scope="module")
def digits() -> Arrays:
    return digits_arrays(400, 200)


@pytest.mark.slow
def test_a_clearly_bad_candidate_is_stopped_and_still_counts(digits: Arrays) -> None:
    noise = Arrays(digits.x_train, np.random.default_rng(0).permutation(digits.y_train), digits.x_val, digits.y_val)
    callback = MedianStopCallback(MedianStopRule(min_epochs=2, min_candidates=3, peer_curves=GOOD_PEERS))
    result = train_candidate(ARCH, noise, TrainSettings(epochs=6, patience=6), seed=0, callbacks=[callback])
    assert result.status == COMPLETED and result.val_accuracy is not None
    assert result.stopped_early and callback.stopped_epoch == 2
    assert result.epochs_run == 2


@pytest.mark.slow
def test_the_worker_applies_the_rule_sent_in_the_request(digits: Arrays, tmp_path: Path) -> None:
    for name, x, y in (("train", digits.x_train, digits.y_train[::-1]), ("val", digits.x_val, digits.y_val)):
        np.savez(tmp_path / f"{name}.npz", x=x, y=y)  # reversed labels: learns nothing useful
    rule = MedianStopRule(min_epochs=1, min_candidates=3, peer_curves=GOOD_PEERS)
    request = TrainRequest("bad", 0, ARCH, str(tmp_path), TrainSettings(epochs=4, patience=4), seed=0, median_stop=rule)
    stopped = train_request(request)
    assert stopped.ok and stopped.stopped_early and stopped.epochs_run == 1
    unstopped = train_request(TrainRequest("bad", 0, ARCH, str(tmp_path), TrainSettings(epochs=2, patience=4), 0))
    assert unstopped.ok and not unstopped.stopped_early and unstopped.epochs_run == 2
