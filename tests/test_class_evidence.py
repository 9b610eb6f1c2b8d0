"""Per-class evidence: each run's metrics.json records its per-class test accuracy and confusion
matrix (on the best-val weights, the same pass as test_acc; sklearn.metrics is the oracle) and its
image counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from l2tww.config import Run
from l2tww.io import read_json
from l2tww.stages.split import make_split
from l2tww.stages.train import train_run
from l2tww.training.evaluation import class_evidence


def test_class_evidence_by_hand():
    # class 0: 2 of 3 right, class 1: 1 of 1, class 2: no image (None, not 0), class 3: 0 of 2
    labels = np.array([0, 0, 0, 1, 3, 3])
    predicted = np.array([0, 1, 0, 1, 0, 1])
    ev = class_evidence(labels, predicted, 4)
    assert ev["test_class_acc"] == [pytest.approx(66.6667), 100.0, None, 0.0]
    assert ev["test_confusion"] == [[2, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0]]


def test_class_evidence_equals_sklearn_metrics():
    """The same numbers as sklearn.metrics' confusion_matrix and recall_score (what the evidence was
    computed with before issue 28), on 10,000 predictions with one class never shown and one never
    predicted: catches a transposed matrix, a recall over predictions (precision) or a lost class."""
    from sklearn.metrics import confusion_matrix, recall_score

    rng = np.random.default_rng(0)
    labels = rng.choice([0, 1, 2, 4, 5, 6, 7, 8, 9], size=10_000)  # class 3: no image
    predicted = np.where(rng.random(10_000) < 0.7, labels, rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8], size=10_000))
    ev = class_evidence(labels, predicted, 10)
    ids = list(range(10))
    recall = recall_score(labels, predicted, labels=ids, average=None, zero_division=math.nan)
    assert ev["test_class_acc"] == [None if math.isnan(r) else round(100.0 * float(r), 4) for r in recall]
    assert ev["test_confusion"] == confusion_matrix(labels, predicted, labels=ids).tolist()


@pytest.mark.parametrize("test_every_epoch", [False, True])
def test_a_run_records_per_class_accuracy_consistent_with_its_test_accuracy(tiny, test_every_epoch):
    from .conftest import with_changes

    recipes = {**tiny["recipes"], "target": {**tiny["recipes"]["target"], "test_every_epoch": test_every_epoch}}
    params = with_changes(tiny, recipes=recipes)
    run = Run("animal", "scratch", 5, 0)
    make_split(params, "animal_mnist")
    make_split(params, "animal_mnist", 5, 0)
    metrics = train_run(params, run)
    confusion = np.array(metrics["test_confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == metrics["images"]["test"] == 200  # 20 per class
    assert metrics["images"] == {"train": 50, "val": 100, "test": 200}
    # the diagonal over the total is test_acc: the same pass, the same (best-val) weights
    assert 100 * np.trace(confusion) / confusion.sum() == pytest.approx(metrics["test_acc"])
    per_class = 100 * np.diag(confusion) / confusion.sum(axis=1)
    assert metrics["test_class_acc"] == pytest.approx(per_class.round(4).tolist())
    on_disk = read_json(params.layout.run_dir(run.relpath) / "metrics.json")
    assert on_disk["test_confusion"] == metrics["test_confusion"]
