"""Fusion methods compared on paired takes, and the nested, speaker-independent comparison itself.

Every method sees the same inputs: each take's calibrated voice probabilities and face probabilities
(n, 8), and learns (if at all) from training takes only:

- the default rule (avemo.fusion.rule.bayes_product) with confusion matrices counted on the training takes;
- the same product with an exponent per modality fitted by likelihood ("rule, fitted exponents");
- a reliability-weighted log-linear pool of the probabilities themselves, its weights fitted;
- the seed's four trained fusers (logistic regression, SVM, KNN, MLP) on the stacked probabilities,
  and logistic regression on the stacked log-probabilities, each with its hyper-parameter chosen by an
  inner cross-validation over the training actors.

`nested_comparison` scores every method out of fold: each outer fold holds out whole actors, and every
choice (a method's fitted numbers, its hyper-parameter) is made on the other folds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from avemo.config import EMOTIONS
from avemo.fusion.rule import bayes_product, normalise_rows

N = len(EMOTIONS)


def stack_features(audio: np.ndarray, face: np.ndarray, r_audio=1.0, r_face=1.0) -> np.ndarray:
    """Rows of avemo.fusion.rule.fusion_features for many takes: (n, 8 + 8 + 2)."""
    n = len(audio)
    return np.hstack([audio, face, np.broadcast_to(r_audio, (n,))[:, None], np.broadcast_to(r_face, (n,))[:, None]])


def confusion_counts(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """(8, 8) counts of (true class, predicted class) over the takes."""
    counts = np.zeros((N, N))
    np.add.at(counts, (labels, probs.argmax(1)), 1)
    return counts


def _log(p: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(p, 1e-9))


def _normalised(log_p: np.ndarray) -> np.ndarray:
    log_p = log_p - log_p.max(axis=1, keepdims=True)
    p = np.exp(log_p)
    return p / p.sum(axis=1, keepdims=True)


def fit_log_weights(log_terms: list[np.ndarray], labels: np.ndarray) -> np.ndarray:
    """Non-negative weights w minimising the NLL of softmax(sum_m w_m log_terms[m]) (one per modality)."""
    from scipy.optimize import minimize

    def nll(w):
        log_p = sum(wm * term for wm, term in zip(w, log_terms))
        log_p = log_p - log_p.max(axis=1, keepdims=True)
        log_p = log_p - np.log(np.exp(log_p).sum(axis=1, keepdims=True))
        return -log_p[np.arange(len(labels)), labels].mean()

    result = minimize(nll, x0=np.ones(len(log_terms)), bounds=[(0.0, 10.0)] * len(log_terms), method="L-BFGS-B")
    return np.asarray(result.x)


# -- the methods --------------------------------------------------------------------------------
@dataclass
class Method:
    """A fusion method: `fit` on training takes, then `predict` probabilities (n, 8) for others."""

    name: str

    def fit(self, audio, face, labels, groups):
        return self

    def predict(self, audio, face) -> np.ndarray:
        raise NotImplementedError


@dataclass
class AudioAlone(Method):
    name: str = "audio alone"

    def predict(self, audio, face):
        return audio


@dataclass
class FaceAlone(Method):
    name: str = "face alone"

    def predict(self, audio, face):
        return face


@dataclass
class FixedRule(Method):
    """The product rule with given (not fitted) confusion matrices, such as an earlier version's."""

    name: str = "v0.6.0 rule (face matrix assumed)"
    confusions: dict = field(default_factory=dict)  # "audio", "video" -> row-normalised (8, 8)

    def predict(self, audio, face):
        return np.array([bayes_product({"audio": a, "video": v}, {"audio": 1.0, "video": 1.0}, self.confusions)
                         for a, v in zip(audio, face)])


@dataclass
class MeasuredRule(Method):
    """The product rule with both confusion matrices counted on the training takes; with
    `fit_exponents`, each modality's log-likelihood also gets a fitted weight."""

    name: str = "rule, measured confusions"
    fit_exponents: bool = False
    confusions: dict = field(default_factory=dict)
    exponents: np.ndarray = field(default_factory=lambda: np.ones(2))

    def fit(self, audio, face, labels, groups):
        self.confusions = {"audio": normalise_rows(confusion_counts(labels, audio)),
                           "video": normalise_rows(confusion_counts(labels, face))}
        if self.fit_exponents:
            self.exponents = fit_log_weights(self._log_likelihoods(audio, face), labels)
        return self

    def _log_likelihoods(self, audio, face):
        return [_log(audio @ self.confusions["audio"].T), _log(face @ self.confusions["video"].T)]

    def predict(self, audio, face):
        terms = self._log_likelihoods(audio, face)
        return _normalised(self.exponents[0] * terms[0] + self.exponents[1] * terms[1])


@dataclass
class LogLinearPool(Method):
    """P(c) ∝ p_audio(c) ** w_audio * p_face(c) ** w_face, the weights fitted by likelihood."""

    name: str = "log-linear pool, fitted weights"
    weights: np.ndarray = field(default_factory=lambda: np.ones(2))

    def fit(self, audio, face, labels, groups):
        self.weights = fit_log_weights([_log(audio), _log(face)], labels)
        return self

    def predict(self, audio, face):
        return _normalised(self.weights[0] * _log(audio) + self.weights[1] * _log(face))


def fuser_grids(seed: int = 0) -> dict[str, tuple[str, list]]:
    """The trained fusers and the hyper-parameter grid each is tuned over: name -> (input, estimators)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    def scaled(estimator):
        return make_pipeline(StandardScaler(), estimator)

    return {
        "LR": ("probabilities", [scaled(LogisticRegression(C=c, max_iter=5000)) for c in (0.1, 1.0, 10.0)]),
        # Platt-calibrated probabilities, as SVC(probability=True) gave (deprecated in scikit-learn 1.9).
        "SVM": ("probabilities", [scaled(CalibratedClassifierCV(SVC(C=c), ensemble=False, cv=2))
                                  for c in (0.3, 1.0, 3.0)]),
        "KNN": ("probabilities", [scaled(KNeighborsClassifier(n_neighbors=k)) for k in (5, 15, 31)]),
        "MLP": ("probabilities", [scaled(MLPClassifier((32,), alpha=a, max_iter=2000, random_state=seed))
                                  for a in (1e-3, 1e-1, 1.0)]),
        "LR on log-probabilities": ("log-probabilities",
                                    [scaled(LogisticRegression(C=c, max_iter=5000)) for c in (0.01, 0.1, 1.0)]),
    }


def fuser_inputs(kind: str, audio: np.ndarray, face: np.ndarray) -> np.ndarray:
    """What a trained fuser reads: the stacked probabilities with both reliabilities (as at run time,
    avemo.fusion.rule.fusion_features), or the stacked log-probabilities."""
    if kind == "log-probabilities":
        return np.hstack([_log(audio), _log(face)])
    return stack_features(audio, face)


def fitted(estimator, features: np.ndarray, labels: np.ndarray):
    """A fitted copy of `estimator`; a KNN asks for no more neighbours than there are training takes."""
    from sklearn.base import clone

    model = clone(estimator)
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    if hasattr(final, "n_neighbors"):
        final.n_neighbors = min(final.n_neighbors, len(labels))
    return model.fit(features, labels)


@dataclass
class TrainedFuser(Method):
    """A scikit-learn fuser whose hyper-parameter is chosen by cross-validation over the training actors."""

    name: str = "LR"
    kind: str = "probabilities"
    grid: list = field(default_factory=list)
    chosen: int = 0
    model: object = None

    def fit(self, audio, face, labels, groups):
        if len(self.grid) > 1 and len(np.unique(groups)) > 1:
            losses = [inner_log_loss(TrainedFuser(self.name, self.kind, [estimator]), audio, face, labels, groups)
                      for estimator in self.grid]
            self.chosen = int(np.argmin(losses))
        self.model = fitted(self.grid[self.chosen], fuser_inputs(self.kind, audio, face), labels)
        return self

    def predict(self, audio, face):
        probs = np.zeros((len(audio), N))
        probs[:, self.model.classes_] = self.model.predict_proba(fuser_inputs(self.kind, audio, face))
        return probs


def methods(shipped_confusions: dict | None = None, seed: int = 0) -> list[Method]:
    """Every method compared, fresh (unfitted)."""
    found = [AudioAlone(), FaceAlone()]
    if shipped_confusions is not None:
        found.append(FixedRule(confusions=shipped_confusions))
    found += [MeasuredRule(), MeasuredRule(name="rule, measured confusions, fitted exponents", fit_exponents=True),
              LogLinearPool()]
    found += [TrainedFuser(name=name, kind=kind, grid=grid) for name, (kind, grid) in fuser_grids(seed).items()]
    return found


RULES = ("rule, measured confusions", "rule, measured confusions, fitted exponents", "log-linear pool, fitted weights")
TRAINED = tuple(fuser_grids())


# -- the nested comparison ------------------------------------------------------------------------
def nested_comparison(inputs_for_fold, labels: np.ndarray, folds: np.ndarray,
                      shipped_confusions: dict | None = None, progress=None) -> dict:
    """Out-of-fold probabilities of every method, and of "best trained fuser (nested)", which in each outer
    fold takes the trained fuser with the best inner-CV log-loss on the training folds.

    `inputs_for_fold(k)` returns (train_audio, train_face, test_audio, test_face), each (takes, 8): for
    outer fold k, calibrated probabilities of the training takes computed without fold k (out-of-fold
    outputs, calibrated on the training folds), and of fold k's takes."""
    from sklearn.metrics import log_loss

    out = {m.name: np.zeros((len(labels), N)) for m in methods(shipped_confusions)}
    out["best trained fuser (nested)"] = np.zeros((len(labels), N))
    chosen = []
    for k in np.unique(folds):
        train, test = folds != k, folds == k
        train_audio, train_face, test_audio, test_face = inputs_for_fold(k)
        inner_scores = {}
        for method in methods(shipped_confusions):
            method.fit(train_audio, train_face, labels[train], folds[train])
            out[method.name][test] = method.predict(test_audio, test_face)
            if method.name in TRAINED:
                inner_scores[method.name] = inner_log_loss(method, train_audio, train_face, labels[train],
                                                           folds[train])
        best = min(inner_scores, key=inner_scores.get)
        chosen.append(best)
        out["best trained fuser (nested)"][test] = out[best][test]
        if progress:
            progress(k, best)
    return {"probs": out, "chosen_per_fold": chosen,
            "log_loss": {name: float(log_loss(labels, np.clip(p, 1e-9, 1), labels=np.arange(N)))
                         for name, p in out.items()}}


def inner_log_loss(method: Method, audio, face, labels, groups) -> float:
    """Log-loss of `method` (its own hyper-parameter search included) by cross-validation over `groups`;
    infinite where a fold has too few takes of a class for the method (tiny sets only)."""
    import copy

    from sklearn.metrics import log_loss

    probs = np.zeros((len(labels), N))
    for group in np.unique(groups):
        train, test = groups != group, groups == group
        try:
            trained = copy.deepcopy(method).fit(audio[train], face[train], labels[train], groups[train])
        except ValueError:
            return float("inf")
        probs[test] = trained.predict(audio[test], face[test])
    return float(log_loss(labels, np.clip(probs, 1e-9, 1), labels=np.arange(N)))
