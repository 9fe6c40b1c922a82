"""Late fusion of the voice's and the face's calibrated class probabilities.

The default rule is a Bayesian combination of classifiers. Each model's calibrated probabilities p_m
are turned into a class likelihood through that model's measured confusion matrix C_m
(C_m[c, k] = P(model says k | true class c)):

    L_m(c) = sum_k p_m(k) * C_m[c, k]

and the modalities are combined as a product of experts, each raised to its reliability r_m for this
input (share of frames with a face; amount of speech), under a uniform prior:

    P(c | voice, face)  ∝  L_voice(c) ** (w_voice r_voice)  *  L_face(c) ** (w_face r_face)

where the exponents w are 1 (the naive-Bayes value) unless paired takes measured better ones.

A model that confuses two classes thus cannot push the fused result between them, and a modality
with little evidence counts for less. Every matrix is measured, never assumed: the voice's on
held-out speakers, the face model's on labelled faces or, for the action-unit expert, on held-out
RAVDESS actors (train/fusion.py). The face key of a result ("video" for the live face model,
"face_aus" for OpenFace action units) picks the matrix. A fuser trained on paired takes
(train/fusion.py fit) replaces the rule for the face source it was trained on.

Every fused result says how much each modality pushed each class (`contributions`, in bits: the
change in the fused log-probability when that modality's evidence is replaced by an uninformative
one, centred over the classes), why the winner won (`reason`: each modality's vote between the winner and
the runner-up) and whether the two modalities agree (`agreement`).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avemo.config import ACTION_UNITS_SOURCE, EMOTIONS, MODALITIES
from avemo.sklearn_io import is_fitted_classifier, load_sklearn, save_sklearn

log = logging.getLogger(__name__)

# The confusion-matrix key of each face source: the live face model ("video") and the action-unit expert.
LIVE_FACE, ACTION_UNITS = "video", "face_aus"

N = len(EMOTIONS)
# A modality is "sure" of its top emotion from this probability on: at least as much as all the others together.
SURE = 0.5


def uninformed_confusion() -> np.ndarray:
    """The identity: take a model's calibrated probabilities at face value."""
    return np.eye(N)


@dataclass
class FusionModel:
    confusions: dict[str, np.ndarray]   # face key or "audio" -> row-normalised confusion matrix (N x N)
    trained: object | None = None       # a scikit-learn classifier on fusion_features(), or None
    trained_name: str | None = None
    trained_face: str = LIVE_FACE       # the face key whose outputs the trained fuser was fitted on
    # face key -> {matrix key: weight of its log-likelihood}, fitted for that pairing of voice and face; 1 elsewhere
    exponents: dict[str, dict[str, float]] = field(default_factory=dict)

    def method(self, face: str = LIVE_FACE) -> str:
        if self.uses_trained(face):
            return f"trained {self.trained_name}"
        return "bayes-product (default rule)"

    def uses_trained(self, face: str) -> bool:
        return self.trained is not None and face == self.trained_face


# A trained fuser is stored with skops, not pickle (avemo.sklearn_io): a fusion folder from the Hub
# cannot run code on load.
TRAINED_FILE = "trained.skops"


def save_trained(model, folder: Path) -> None:
    save_sklearn(model, Path(folder) / TRAINED_FILE)


def load_trained(path: Path):
    """The scikit-learn fuser in `path`, or None (with a warning) if it holds anything else or is unreadable."""
    model = load_sklearn(path, what="trained fuser (the default rule fuses)")
    if model is not None and not is_fitted_classifier(model, N):
        log.warning("%s is not a fitted classifier over the %d emotions: the default rule fuses", path, N)
        return None
    return model


def load_fusion(folder: Path | None) -> FusionModel:
    """The fusion model in `folder` (config.json, optionally a trained fuser in TRAINED_FILE); the
    uninformed rule when there is no folder."""
    confusions = {m: uninformed_confusion() for m in (*MODALITIES, ACTION_UNITS)}
    if folder is None or not (Path(folder) / "config.json").exists():
        return FusionModel(confusions)
    config = json.loads((Path(folder) / "config.json").read_text())
    for modality, matrix in config.get("confusions", {}).items():
        confusions[modality] = normalise_rows(np.asarray(matrix, dtype=float))
    exponents = {face: {key: float(value) for key, value in pairing.items()}
                 for face, pairing in config.get("exponents", {}).items() if isinstance(pairing, dict)}
    trained, name, face = None, None, LIVE_FACE
    trained_file = Path(folder) / TRAINED_FILE
    if trained_file.exists() and config.get("trained"):
        trained = load_trained(trained_file)
        name = config["trained"]["name"] if trained is not None else None
        face = config["trained"].get("face", LIVE_FACE)
    return FusionModel(confusions, trained, name, face, exponents)


def normalise_rows(matrix: np.ndarray, smoothing: float = 0.5) -> np.ndarray:
    """Counts (or rates) -> P(prediction | true class), with additive smoothing so no likelihood is 0."""
    matrix = np.asarray(matrix, dtype=float) + smoothing / matrix.shape[1]
    return matrix / matrix.sum(axis=1, keepdims=True)


def class_likelihood(probs: np.ndarray, confusion: np.ndarray) -> np.ndarray:
    """L(c) = sum_k p(k) C[c, k]: how likely this output is under each true class."""
    return confusion @ probs


def bayes_product(probs: dict[str, np.ndarray], reliability: dict[str, float],
                  confusions: dict[str, np.ndarray], face: str = LIVE_FACE,
                  exponents: dict[str, float] | None = None) -> np.ndarray:
    """The default rule: the product of each modality's class likelihood raised to its reliability (times
    the matrix's exponent where one was fitted on paired takes, else 1). `probs` and `reliability` are keyed
    by modality ("audio", "video"); the face's matrix is `confusions[face]`."""
    log_post = np.zeros(N)
    for modality, p in probs.items():
        key = face if modality == "video" else modality
        likelihood = class_likelihood(p, confusions[key])
        weight = (exponents or {}).get(key, 1.0) * reliability[modality]
        log_post += weight * np.log(np.maximum(likelihood, 1e-12))
    log_post -= log_post.max()
    post = np.exp(log_post)
    return post / post.sum()


def fusion_features(audio: np.ndarray, video: np.ndarray, r_audio: float, r_video: float) -> np.ndarray:
    """Input of a trained fusion model: both probability vectors and both reliabilities."""
    return np.concatenate([audio, video, [r_audio, r_video]])[None, :]


def agreement(audio: dict, video: dict) -> dict:
    """Do the two modalities say the same thing? A verdict the app and the CLI show beside both top emotions
    and their probabilities, so it is decided by those numbers alone: the same top emotion "agree"; different
    ones "disagree" when both are sure of theirs (SURE), else "differ", saying which one, if either, is sure."""
    said, seen = audio["label"], video["label"]
    voice_sure, face_sure = audio["confidence"] >= SURE, video["confidence"] >= SURE
    if said == seen:
        verdict, message = "agree", f"voice and face agree: {said}"
    elif voice_sure and face_sure:
        verdict = "disagree"
        message = f"voice and face disagree, both surely: the voice sounds {said}, the face looks {seen}"
    elif voice_sure:
        verdict = "differ"
        message = f"voice and face differ: the voice is sure it sounds {said}, the face only leans to {seen}"
    elif face_sure:
        verdict = "differ"
        message = f"voice and face differ: the face is sure it looks {seen}, the voice only leans to {said}"
    else:
        verdict, message = "differ", f"voice and face lean different ways ({said} / {seen}), neither surely"
    return {"verdict": verdict, "same_label": said == seen, "message": message}


def face_key(video: dict | None) -> str:
    """Which face model produced a face result: the action-unit expert or the live face model."""
    return ACTION_UNITS if video and video.get("source") == ACTION_UNITS_SOURCE else LIVE_FACE


def fused_probabilities(probs: dict[str, np.ndarray], reliability: dict[str, float], model: FusionModel,
                        face: str) -> np.ndarray:
    """P(class | both modalities) by the trained fuser for this face source, else by the default rule."""
    if model.uses_trained(face):
        features = fusion_features(probs["audio"], probs["video"], reliability["audio"], reliability["video"])
        fused = np.zeros(N)
        fused[model.trained.classes_] = model.trained.predict_proba(features)[0]
        return fused
    return bayes_product(probs, reliability, model.confusions, face, model.exponents.get(face))


def contributions(probs: dict[str, np.ndarray], reliability: dict[str, float], model: FusionModel,
                  face: str) -> dict[str, np.ndarray]:
    """How much each modality pushed each class, in bits: log2 P(c | both) minus log2 P(c | both, with
    that modality's probabilities replaced by the uniform distribution), centred over the classes.
    For the default rule this is exactly the modality's reliability-weighted log-likelihood term."""
    fused = np.log2(np.maximum(fused_probabilities(probs, reliability, model, face), 1e-12))
    pushes = {}
    for modality in probs:
        without = dict(probs, **{modality: np.full(N, 1.0 / N)})
        ablated = np.log2(np.maximum(fused_probabilities(without, reliability, model, face), 1e-12))
        push = fused - ablated
        pushes[modality] = push - push.mean()
    return pushes


SPOKEN = {"audio": "the voice", "video": "the face"}


def reason(fused: np.ndarray, pushes: dict[str, np.ndarray], probs: dict[str, np.ndarray],
           confusions: dict[str, np.ndarray]) -> str:
    """One sentence: why the winner beat the runner-up, as each modality's vote between those two.

    A vote is the modality's push for one over the other (its contributions, in bits) and the reading of its
    own that carried it: the output k with the largest share of L(chosen) - L(other) = sum_k p(k) (C[chosen, k]
    - C[other, k]) under its confusion matrix C. Where that reading is the emotion voted for, the vote is for
    it; where it is another one (a face that has no calm reads neutral, and a calm face's neutral is what
    moves it), the vote is said as a vote against the other emotion, by that reading, never as a liking the
    modality did not show."""
    winner, runner_up = (int(i) for i in np.argsort(fused)[::-1][:2])
    votes = [_vote(SPOKEN[m], float(push[winner] - push[runner_up]), winner, runner_up, probs[m], confusions[m])
             for m, push in pushes.items()]
    return f"{EMOTIONS[winner]} over {EMOTIONS[runner_up]}. Votes between the two: " + "; ".join(votes)


def _vote(who: str, margin: float, winner: int, runner_up: int, probs: np.ndarray, confusion: np.ndarray) -> str:
    if abs(margin) < 0.05:
        return f"{who} none (it read them alike)"
    chosen, other = (winner, runner_up) if margin > 0 else (runner_up, winner)
    carrier = int(np.argmax(probs * (confusion[chosen] - confusion[other])))
    if carrier == chosen:
        return (f"{who} {EMOTIONS[chosen]}, {abs(margin):.1f} bits (it read {EMOTIONS[chosen]} {probs[chosen]:.0%}, "
                f"{EMOTIONS[other]} {probs[other]:.0%})")
    return (f"{who} against {EMOTIONS[other]}, {abs(margin):.1f} bits (its {EMOTIONS[carrier]} {probs[carrier]:.0%} "
            f"fits {EMOTIONS[chosen]} better than {EMOTIONS[other]})")


def fuse(audio: dict | None, video: dict | None, model: FusionModel) -> dict | None:
    """The fused result from the per-modality results (either may be None)."""
    present = {m: r for m, r in (("audio", audio), ("video", video)) if r is not None}
    if not present:
        return None
    if len(present) == 1:  # one modality: the fused result is that modality's, said plainly
        (modality, result), = present.items()
        return {"label": result["label"], "confidence": result["confidence"], "probs": dict(result["probs"]),
                "weights": {m: float(m == modality) for m in MODALITIES}, "modalities": [modality],
                "agreement": None, "method": f"{modality} only", "contributions": None,
                "reason": f"only {SPOKEN[modality]} was analysed"}

    probs = {m: np.array([r["probs"][e] for e in EMOTIONS], dtype=float) for m, r in present.items()}
    reliability = {m: max(float(r.get("reliability", 1.0)), 0.05) for m, r in present.items()}
    face = face_key(video)
    fused = fused_probabilities(probs, reliability, model, face)
    pushes = contributions(probs, reliability, model, face)
    # The matrices through which each modality's reading counts (a trained fuser's own path has none: its
    # votes are read at face value).
    matrices = ({m: uninformed_confusion() for m in probs} if model.uses_trained(face)
                else {"audio": model.confusions["audio"], "video": model.confusions[face]})
    total = sum(reliability.values())
    return {
        "label": EMOTIONS[int(np.argmax(fused))],
        "confidence": round(float(np.max(fused)), 4),
        "probs": {e: round(float(p), 4) for e, p in zip(EMOTIONS, fused)},
        "weights": {m: round(reliability[m] / total, 3) for m in MODALITIES},
        "modalities": list(MODALITIES),
        "agreement": agreement(present["audio"], present["video"]),
        "method": model.method(face),
        "contributions": {m: {e: round(float(v), 3) for e, v in zip(EMOTIONS, push)} for m, push in pushes.items()},
        "reason": reason(fused, pushes, probs, matrices),
    }
