"""Evaluation of a network on one split: top-1, CE and, on request, the method's transfer statistics
and the per-class evidence (per-class accuracy and confusion matrix)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..methods import TransferMethod
from ..models import FeatureNet


def class_evidence(labels: np.ndarray, predictions: np.ndarray, classes: int) -> dict:
    """Per-class accuracy (recall: correct / images of the class, in %, None for a class without
    images) and the confusion matrix (rows: true class, columns: predicted).

    sklearn.metrics' confusion_matrix and recall_score give the same numbers (the tests' oracle),
    but importing them costs a training job 0.5 CPU-s, more than a run's whole test pass (issue 28)."""
    confusion = np.bincount(labels * classes + predictions, minlength=classes * classes).reshape(classes, classes)
    recall = [None if n == 0 else float(confusion[c, c] / n) for c, n in enumerate(confusion.sum(axis=1))]
    return {
        "test_class_acc": [None if r is None else round(100.0 * r, 4) for r in recall],
        "test_confusion": confusion.tolist(),
    }


@torch.no_grad()
def evaluate(
    target: FeatureNet,
    loader,
    method: TransferMethod | None = None,
    sources=(),
    observe: bool = False,
    classes: int | None = None,
    source_cache: list | None = None,
) -> dict:
    """Top-1 and CE on `loader` in eval mode; with `observe`, the method's averaged statistics; with
    `classes`, the per-class accuracy and confusion matrix (class_evidence).

    `source_cache` (observe only): a list, empty at the first call, that keeps what the method reads
    of the sources per batch (`observed_sources`), so later calls on the same loader skip the
    sources' forwards. Valid because the sources are frozen (eval mode, no gradient) and an eval
    loader yields the same batches in the same order every time: the same numbers, computed once."""
    target.eval()
    correct = torch.zeros((), device=loader.labels.device)
    loss_sum = torch.zeros((), device=loader.labels.device)
    stats: dict[str, torch.Tensor] = {}
    batches = 0
    predicted, truth = [], []
    for i, (x, y) in enumerate(loader.epoch()):
        out = target(x)
        pred = out.logits.argmax(1)
        correct += (pred == y).sum()
        loss_sum += F.cross_entropy(out.logits.float(), y, reduction="sum")
        if classes is not None:
            predicted.append(pred)
            truth.append(y)
        if observe and method is not None:
            if source_cache is not None and i < len(source_cache):
                observed = source_cache[i]
            else:
                observed = method.observed_sources([s(x) for s in sources])
                if source_cache is not None:
                    source_cache.append(observed)
            for k, v in method.observe_summary(out, observed).items():
                stats[k] = stats.get(k, 0) + v
            batches += 1
    n = len(loader)
    result = {"acc": 100.0 * correct.item() / n, "loss": loss_sum.item() / n}
    if stats:
        result["transfer"] = {k: (v / batches).tolist() for k, v in stats.items()}
    if classes is not None:
        result["classes"] = class_evidence(torch.cat(truth).cpu().numpy(), torch.cat(predicted).cpu().numpy(), classes)
    target.train()
    return result
