"""Metrics for speaker-independent evaluation, and probability calibration.

Accuracy, macro-F1, unweighted average recall (UAR: the mean of per-class recalls, the usual
headline for emotion corpora with unequal classes), per-class recall and the confusion matrix;
expected calibration error and temperature scaling on out-of-fold logits.
"""
from __future__ import annotations

import numpy as np

from avemo.config import EMOTIONS


def classification_report(y_true, y_pred, labels: tuple[str, ...] = EMOTIONS) -> dict:
    """Metrics over the classes present in y_true (SAVEE has no 'calm', so it is left out there).

    The confusion matrix covers the true classes and every predicted class, so it sums to n.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    present = sorted(set(y_true.tolist()))
    shown = sorted(set(present) | set(y_pred.tolist()))  # every prediction lands in the matrix
    recalls = recall_score(y_true, y_pred, labels=present, average=None, zero_division=0)
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "uar": float(recall_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "per_class_recall": {labels[c]: float(r) for c, r in zip(present, recalls)},
        "labels": [labels[c] for c in shown],
        "confusion": confusion_matrix(y_true, y_pred, labels=shown).tolist(),
    }


def accuracy_without(report: dict, left_out: tuple[str, ...] = ("neutral", "calm")) -> tuple[float, int]:
    """Accuracy over the items whose true class is not in `left_out`, any answer in `left_out` counting
    wrong, from a `classification_report`'s confusion matrix; and how many items that is.

    This is how a 6-class benchmark (the six basic emotions, no neutral) scores an 8-class model: it is
    shown only faces of those six, and a 'neutral' answer is a miss."""
    labels, confusion = report["labels"], np.asarray(report["confusion"])
    kept = [i for i, name in enumerate(labels) if name not in left_out]
    n = int(confusion[kept].sum())
    return (float(confusion[kept, kept].sum()) / n if n else float("nan")), n


def mean_and_std(reports: list[dict], key: str) -> tuple[float, float]:
    values = np.array([r[key] for r in reports], dtype=float)
    return float(values.mean()), float(values.std())


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, n_bins: int = 15) -> float:
    """ECE: the confidence-weighted gap between confidence and accuracy over equal-width bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def reliability_bins(probs: np.ndarray, y_true: np.ndarray, n_bins: int = 10) -> list[dict]:
    """Per-bin confidence, accuracy and count, for a reliability diagram."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        bins.append({
            "lo": float(lo), "hi": float(hi), "count": int(in_bin.sum()),
            "confidence": float(confidence[in_bin].mean()) if in_bin.any() else None,
            "accuracy": float(correct[in_bin].mean()) if in_bin.any() else None,
        })
    return bins


def fit_temperature(logits: np.ndarray, y_true: np.ndarray) -> float:
    """The temperature T > 0 that minimises the negative log-likelihood of softmax(logits / T)."""
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, dtype=np.float64)
    y_true = np.asarray(y_true)

    def nll(log_t: float) -> float:
        z = logits / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-log_probs[np.arange(len(y_true)), y_true].mean())

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))
