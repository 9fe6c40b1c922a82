"""The default fusion rule and the agreement verdict, on small explicit probability vectors."""
from __future__ import annotations

import numpy as np

from avemo.config import EMOTIONS
from avemo.fusion import FusionModel, fuse, load_fusion, normalise_rows, uninformed_confusion


def result(probs: dict[str, float], reliability: float = 1.0) -> dict:
    p = np.array([probs.get(e, 0.0) for e in EMOTIONS]) + 1e-3
    p /= p.sum()
    label = EMOTIONS[int(p.argmax())]
    return {"label": label, "confidence": float(p.max()), "probs": dict(zip(EMOTIONS, p.tolist())),
            "reliability": reliability}


RULE = FusionModel({"audio": uninformed_confusion(), "video": uninformed_confusion()})


def test_one_modality_missing_gives_the_other_unchanged():
    audio = result({"angry": 0.7, "disgust": 0.3})
    fused = fuse(audio, None, RULE)
    assert fused["label"] == "angry" and fused["probs"] == audio["probs"]
    assert fused["modalities"] == ["audio"] and fused["weights"] == {"audio": 1.0, "video": 0.0}
    assert fuse(None, None, RULE) is None


def test_agreeing_modalities_reinforce_each_other():
    audio, video = result({"happy": 0.6, "surprised": 0.4}), result({"happy": 0.6, "neutral": 0.4})
    fused = fuse(audio, video, RULE)
    assert fused["label"] == "happy" and fused["confidence"] > 0.6
    assert fused["agreement"]["verdict"] == "agree"


def test_strong_disagreement_is_said_not_averaged_away():
    fused = fuse(result({"angry": 0.9, "sad": 0.1}), result({"happy": 0.9, "neutral": 0.1}), RULE)
    assert fused["agreement"]["verdict"] == "disagree"
    assert "angry" in fused["agreement"]["message"] and "happy" in fused["agreement"]["message"]


def test_an_unreliable_modality_counts_for_less():
    audio = result({"sad": 0.7, "neutral": 0.3})
    video = result({"happy": 0.7, "neutral": 0.3})
    trusted_video = fuse(audio, dict(video, reliability=1.0), RULE)
    weak_video = fuse(audio, dict(video, reliability=0.1), RULE)
    assert weak_video["weights"]["video"] < trusted_video["weights"]["video"]
    assert weak_video["label"] == "sad"
    assert weak_video["probs"]["happy"] < trusted_video["probs"]["happy"]


def test_a_confusion_matrix_stops_a_modality_deciding_what_it_cannot_tell():
    # A face model that cannot tell calm from neutral: its "neutral" is evidence for both.
    counts = np.eye(len(EMOTIONS)) * 10
    calm, neutral = EMOTIONS.index("calm"), EMOTIONS.index("neutral")
    counts[calm] = counts[neutral]
    rule = FusionModel({"audio": uninformed_confusion(), "video": normalise_rows(counts)})
    fused = fuse(result({"calm": 0.6, "neutral": 0.4}), result({"neutral": 0.95}), rule)
    assert fused["label"] == "calm"
    naive = fuse(result({"calm": 0.6, "neutral": 0.4}), result({"neutral": 0.95}), RULE)
    assert naive["label"] == "neutral"


def test_bundled_fusion_folder_loads(tmp_path):
    assert load_fusion(None).method.startswith("bayes")
    assert load_fusion(tmp_path).trained is None
