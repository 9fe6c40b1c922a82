"""The face-AU expert: a classifier of a clip's OpenFace action units (clip means) over the 8 emotions.

    expert = load_au_expert(Path("weights/face_aus"))
    result = expert.analyse(read_clip_action_units("clip.csv"))   # a modality result (avemo.results)

The model is a scikit-learn pipeline (standardisation and a classifier) over `expert_features`: the 35
action-unit means in `avemo.face.openface.AU_COLUMNS` order, log(1 + x)-compressed, since intensities are
skewed (most near 0, a few up to 5). Which classifier, and its regularisation, is chosen by
`select_model` on speaker-independent folds (train/fusion.py), never on the clips it is scored on.
Its probabilities are calibrated by a temperature fitted on out-of-fold outputs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemo.config import ACTION_UNITS_SOURCE, EMOTIONS
from avemo.face.openface import AU_COLUMNS, ClipActionUnits
from avemo.results import modality_result
from avemo.sklearn_io import is_fitted_classifier, load_sklearn, save_sklearn

MODEL_FILE = "model.skops"


def expert_features(means: np.ndarray) -> np.ndarray:
    """(n, 35) action-unit means -> the expert's input: log(1 + x) of each (negatives clipped to 0)."""
    means = np.atleast_2d(np.asarray(means, dtype=float))
    if means.shape[1] != len(AU_COLUMNS):
        raise ValueError(f"expected {len(AU_COLUMNS)} action-unit columns, got {means.shape[1]}")
    return np.log1p(np.clip(means, 0.0, None))


def candidate_models(seed: int = 0) -> dict:
    """The classifiers screened for the expert, each a fresh unfitted scikit-learn estimator."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    def lr(c):
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))

    def svm(c):  # Platt-calibrated, as SVC(probability=True) gave (deprecated in scikit-learn 1.9)
        return make_pipeline(StandardScaler(), CalibratedClassifierCV(SVC(C=c), ensemble=False, cv=3))

    def mlp():
        return make_pipeline(StandardScaler(), MLPClassifier((128,), alpha=1.0, max_iter=2000, random_state=seed))

    return {
        "logistic regression (C=0.03)": lr(0.03),
        "logistic regression (C=0.1)": lr(0.1),
        "logistic regression (C=1)": lr(1.0),
        "SVM, RBF (C=1)": svm(1.0),
        "SVM, RBF (C=3)": svm(3.0),
        "MLP (128 units)": mlp(),
        "soft vote (LR C=0.1, SVM C=1, MLP)": VotingClassifier(
            [("lr", lr(0.1)), ("svm", svm(1.0)), ("mlp", mlp())], voting="soft"),
    }


def full_probabilities(model, features: np.ndarray) -> np.ndarray:
    """predict_proba spread over all 8 emotions (a class missing from training gets 0)."""
    probs = np.zeros((len(features), len(EMOTIONS)))
    probs[:, np.asarray(model.classes_)] = model.predict_proba(features)
    return probs


def calibrate(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature scaling of probabilities: softmax(log p / T)."""
    logits = np.log(np.maximum(probs, 1e-9)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)


def out_of_fold(estimator, features: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Out-of-fold probabilities (n, 8) of `estimator`, one fit per fold (whole speakers held out)."""
    from sklearn.base import clone

    probs = np.zeros((len(labels), len(EMOTIONS)))
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        probs[test] = full_probabilities(clone(estimator).fit(features[train], labels[train]), features[test])
    return probs


def select_model(features: np.ndarray, labels: np.ndarray, folds: np.ndarray, seed: int = 0) -> dict:
    """Every candidate's out-of-fold probabilities on `folds`, the one with the best macro-F1 (its name), and
    the temperature fitted on its out-of-fold outputs."""
    from sklearn.metrics import f1_score

    from avemo.evaluation import fit_temperature

    scores, probs = {}, {}
    for name, estimator in candidate_models(seed).items():
        probs[name] = out_of_fold(estimator, features, labels, folds)
        scores[name] = float(f1_score(labels, probs[name].argmax(1), average="macro"))
    best = max(scores, key=scores.get)
    temperature = fit_temperature(np.log(np.maximum(probs[best], 1e-9)), labels)
    return {"best": best, "macro_f1": scores, "probs": probs, "temperature": temperature}


@dataclass
class ActionUnitExpert:
    model: object          # a fitted scikit-learn classifier on expert_features()
    temperature: float
    name: str
    measured_accuracy: float | None = None  # speaker-independent, nested (evaluation.json, protocol A)

    def probabilities(self, means: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (n, 8) in EMOTIONS order for (n, 35) action-unit means."""
        return calibrate(full_probabilities(self.model, expert_features(means)), self.temperature)

    def analyse(self, aus: ClipActionUnits) -> dict:
        """The face modality's result from a clip's action units (no timeline: clip means only)."""
        probs = self.probabilities(aus.means[None])[0]
        return modality_result(
            probs, [], [], reliability=aus.tracked_share, source=ACTION_UNITS_SOURCE,
            faces_found=aus.tracked_frames, frames=aus.frames, openface_input=aus.source,
            measured_accuracy=self.measured_accuracy,
            strongest_action_units=[{"name": name, "intensity": round(value, 2)} for name, value in aus.strongest()])


def save_au_expert(folder: Path, expert: ActionUnitExpert, extra: dict | None = None) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_sklearn(expert.model, folder / MODEL_FILE)
    config = {"model": expert.name, "temperature": expert.temperature, "features": list(AU_COLUMNS),
              "transform": "log1p of the clip means", "labels": list(EMOTIONS), **(extra or {})}
    (folder / "config.json").write_text(json.dumps(config, indent=1) + "\n")


def load_au_expert(folder: Path) -> ActionUnitExpert | None:
    """The expert in `folder`, or None if it has none, or holds a file that is not a fitted classifier."""
    folder = Path(folder)
    if not (folder / MODEL_FILE).is_file() or not (folder / "config.json").is_file():
        return None
    config = json.loads((folder / "config.json").read_text())
    if list(config.get("features", [])) != list(AU_COLUMNS):
        return None
    model = load_sklearn(folder / MODEL_FILE, what="action-unit expert")
    if model is None or not is_fitted_classifier(model, len(EMOTIONS)):
        return None
    evaluation = folder / "evaluation.json"
    nested = json.loads(evaluation.read_text()).get("nested", {}) if evaluation.is_file() else {}
    accuracy = nested["A"]["accuracy"] if "A" in nested else None
    return ActionUnitExpert(model, float(config.get("temperature", 1.0)), config.get("model", "?"), accuracy)
