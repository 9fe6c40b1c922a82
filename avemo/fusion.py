"""Late fusion of the audio and video models' calibrated class probabilities.

The default rule needs no paired audio-video data: a Bayesian combination of classifiers.
Each model's calibrated probabilities p_m are turned into a class likelihood through that
model's measured confusion matrix C_m (C_m[c, k] = P(model says k | true class c)):

    L_m(c) = sum_k p_m(k) * C_m[c, k]

and the modalities are combined as a product of experts, each raised to its reliability r_m
for this input (share of frames with a face; amount of speech), under a uniform prior:

    P(c | audio, video)  ∝  L_audio(c) ** r_audio  *  L_video(c) ** r_video

A model that confuses two classes (the face cannot tell calm from neutral) thus cannot
push the fused result between them, and a modality with little evidence counts for less.
When a trained fusion model exists (train/fusion.py), it replaces the rule.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import EMOTIONS, MODALITIES

log = logging.getLogger(__name__)

N = len(EMOTIONS)
# Jensen-Shannon divergence (bits) above which two confident modalities are said to disagree.
DISAGREEMENT_JSD = 0.5


def uninformed_confusion() -> np.ndarray:
    """The identity: take a model's calibrated probabilities at face value."""
    return np.eye(N)


@dataclass
class FusionModel:
    confusions: dict[str, np.ndarray]   # modality -> row-normalised confusion matrix (N x N)
    trained: object | None = None       # a scikit-learn classifier on fusion_features(), or None
    trained_name: str | None = None

    @property
    def method(self) -> str:
        return f"trained {self.trained_name}" if self.trained is not None else "bayes-product (default rule)"


# A trained fuser is stored with skops, not pickle: loading it builds only the types it lists, and
# only scikit-learn's are trusted, so a fusion folder from the Hub cannot run code on load.
TRAINED_FILE = "trained.skops"
TRUSTED_MODULE_PREFIX = "sklearn."


def save_trained(model, folder: Path) -> None:
    import skops.io

    skops.io.dump(model, Path(folder) / TRAINED_FILE)


def load_trained(path: Path):
    """The scikit-learn fuser in `path`, or None (with a warning) if it holds anything else or is unreadable."""
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
        foreign = [name for name in untrusted if not name.startswith(TRUSTED_MODULE_PREFIX)]
        if foreign:
            log.warning("%s holds types outside scikit-learn (%s): not loaded, the default rule fuses",
                        path, ", ".join(foreign))
            return None
        model = skops.io.load(path, trusted=untrusted)
        classes = np.asarray(getattr(model, "classes_", []))
        if not hasattr(model, "predict_proba") or not classes.size or not np.isin(classes, np.arange(N)).all():
            log.warning("%s is not a fitted classifier over the %d emotions: the default rule fuses", path, N)
            return None
        return model
    except Exception as error:  # a corrupt or foreign file: the rule still works without it
        log.warning("%s could not be read (%s): the default rule fuses", path, error)
        return None


def load_fusion(folder: Path | None) -> FusionModel:
    """The fusion model in `folder` (config.json, optionally a trained fuser in TRAINED_FILE); the
    uninformed rule when there is no folder."""
    confusions = {m: uninformed_confusion() for m in MODALITIES}
    if folder is None or not (Path(folder) / "config.json").exists():
        return FusionModel(confusions)
    config = json.loads((Path(folder) / "config.json").read_text())
    for modality, matrix in config.get("confusions", {}).items():
        confusions[modality] = normalise_rows(np.asarray(matrix, dtype=float))
    trained, name = None, None
    trained_file = Path(folder) / TRAINED_FILE
    if trained_file.exists() and config.get("trained"):
        trained = load_trained(trained_file)
        name = config["trained"]["name"] if trained is not None else None
    return FusionModel(confusions, trained, name)


def normalise_rows(matrix: np.ndarray, smoothing: float = 0.5) -> np.ndarray:
    """Counts (or rates) -> P(prediction | true class), with additive smoothing so no likelihood is 0."""
    matrix = np.asarray(matrix, dtype=float) + smoothing / matrix.shape[1]
    return matrix / matrix.sum(axis=1, keepdims=True)


def class_likelihood(probs: np.ndarray, confusion: np.ndarray) -> np.ndarray:
    """L(c) = sum_k p(k) C[c, k]: how likely this output is under each true class."""
    return confusion @ probs


def bayes_product(probs: dict[str, np.ndarray], reliability: dict[str, float],
                  confusions: dict[str, np.ndarray]) -> np.ndarray:
    log_post = np.zeros(N)
    for modality, p in probs.items():
        likelihood = class_likelihood(p, confusions[modality])
        log_post += reliability[modality] * np.log(np.maximum(likelihood, 1e-12))
    log_post -= log_post.max()
    post = np.exp(log_post)
    return post / post.sum()


def fusion_features(audio: np.ndarray, video: np.ndarray, r_audio: float, r_video: float) -> np.ndarray:
    """Input of a trained fusion model: both probability vectors and both reliabilities."""
    return np.concatenate([audio, video, [r_audio, r_video]])[None, :]


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits (0 = same distribution, 1 = disjoint)."""
    m = (p + q) / 2

    def kl(a, b):
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / np.maximum(b[mask], 1e-12))))

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def agreement(audio: dict, video: dict) -> dict:
    """Do the two modalities say the same thing? A verdict the app can show as it is."""
    p = np.array([audio["probs"][e] for e in EMOTIONS])
    q = np.array([video["probs"][e] for e in EMOTIONS])
    divergence = jensen_shannon(p / p.sum(), q / q.sum())
    same = audio["label"] == video["label"]
    if same:
        verdict, message = "agree", f"voice and face agree: {audio['label']}"
    elif divergence >= DISAGREEMENT_JSD or min(audio["confidence"], video["confidence"]) >= 0.5:
        verdict = "disagree"
        message = f"voice and face disagree strongly: the voice sounds {audio['label']}, the face looks {video['label']}"
    else:
        verdict = "differ"
        message = f"voice and face lean different ways ({audio['label']} / {video['label']}), neither strongly"
    return {"verdict": verdict, "same_label": same, "divergence": round(divergence, 3), "message": message}


def fuse(audio: dict | None, video: dict | None, model: FusionModel) -> dict | None:
    """The fused result from the per-modality results (either may be None)."""
    present = {m: r for m, r in (("audio", audio), ("video", video)) if r is not None}
    if not present:
        return None
    if len(present) == 1:  # one modality: the fused result is that modality's, said plainly
        (modality, result), = present.items()
        return {"label": result["label"], "confidence": result["confidence"], "probs": dict(result["probs"]),
                "weights": {m: float(m == modality) for m in MODALITIES}, "modalities": [modality],
                "agreement": None, "method": f"{modality} only"}

    probs = {m: np.array([r["probs"][e] for e in EMOTIONS], dtype=float) for m, r in present.items()}
    reliability = {m: max(float(r.get("reliability", 1.0)), 0.05) for m, r in present.items()}
    if model.trained is not None:
        features = fusion_features(probs["audio"], probs["video"], reliability["audio"], reliability["video"])
        fused = np.zeros(N)
        fused[model.trained.classes_] = model.trained.predict_proba(features)[0]
    else:
        fused = bayes_product(probs, reliability, model.confusions)
    total = sum(reliability.values())
    return {
        "label": EMOTIONS[int(np.argmax(fused))],
        "confidence": round(float(np.max(fused)), 4),
        "probs": {e: round(float(p), 4) for e, p in zip(EMOTIONS, fused)},
        "weights": {m: round(reliability[m] / total, 3) for m in MODALITIES},
        "modalities": list(MODALITIES),
        "agreement": agreement(present["audio"], present["video"]),
        "method": model.method,
    }
