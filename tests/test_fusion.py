"""The default fusion rule and the agreement verdict, on small explicit probability vectors."""
from __future__ import annotations

import numpy as np
import pytest

from avemo.config import EMOTIONS
from avemo.fusion.rule import FusionModel, fuse, load_fusion, normalise_rows, uninformed_confusion


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
    assert load_fusion(None).method().startswith("bayes")
    assert load_fusion(tmp_path).trained is None


def trained_fuser():
    """A real scikit-learn fuser (scaler + Platt-calibrated linear model: types skops does not trust by
    default) fitted on made-up fusion features that say: the label is what the audio half says most."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(len(EMOTIONS)), 12)
    audio = rng.dirichlet(np.ones(len(EMOTIONS)), size=len(labels)) * 0.3
    audio[np.arange(len(labels)), labels] += 0.7
    video = rng.dirichlet(np.ones(len(EMOTIONS)), size=len(labels))
    features = np.hstack([audio, video, rng.uniform(0.5, 1, size=(len(labels), 2))])
    calibrated = CalibratedClassifierCV(LogisticRegression(max_iter=1000), ensemble=False, cv=2)
    return make_pipeline(StandardScaler(), calibrated).fit(features, labels)


def write_fusion_folder(folder, fuser=None, trained_file=None):
    import json

    from avemo.fusion.rule import save_trained

    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"confusions": {}, "trained": {"name": "LR"}}))
    if fuser is not None:
        save_trained(fuser, folder)
    return folder


def test_a_trained_fuser_is_saved_without_pickle_and_replaces_the_rule(tmp_path):
    from avemo.fusion.rule import TRAINED_FILE

    folder = write_fusion_folder(tmp_path / "fusion", trained_fuser())
    assert (folder / TRAINED_FILE).is_file() and not list(folder.glob("*.joblib"))
    model = load_fusion(folder)
    assert model.method() == "trained LR"
    # The audio half says sad firmly, the video half happy: this fuser learnt to follow the audio.
    fused = fuse(result({"sad": 0.9, "neutral": 0.1}), result({"happy": 0.9, "neutral": 0.1}), model)
    assert fused["label"] == "sad" and fused["method"] == "trained LR"
    assert abs(sum(fused["probs"].values()) - 1) < 1e-3  # (rounded to 4 places)


class NotScikitLearn:
    """Stands for whatever a tampered fusion folder might ask skops to build."""

    classes_ = np.arange(len(EMOTIONS))


def test_a_trained_file_with_foreign_types_garbage_or_no_classifier_is_refused_and_the_rule_fuses(tmp_path, caplog):
    import skops.io

    from avemo.fusion.rule import TRAINED_FILE

    foreign = write_fusion_folder(tmp_path / "foreign")
    skops.io.dump({"fuser": NotScikitLearn()}, foreign / TRAINED_FILE)
    garbage = write_fusion_folder(tmp_path / "garbage")
    (garbage / TRAINED_FILE).write_bytes(b"\x80\x04 not a skops archive")
    from sklearn.preprocessing import StandardScaler

    not_a_fuser = write_fusion_folder(tmp_path / "scaler", StandardScaler().fit(np.eye(3)))
    for folder, reason in ((foreign, "outside scikit-learn (test_fusion.NotScikitLearn"),
                           (garbage, "could not be read"), (not_a_fuser, "not a fitted classifier")):
        caplog.clear()
        model = load_fusion(folder)
        assert model.trained is None and model.method() == "bayes-product (default rule)"
        assert reason in caplog.text


def test_contributions_say_how_much_each_modality_pushed_when_they_disagree():
    # The voice says sad firmly, the face says happy less firmly: sad wins, and the numbers say why.
    audio, video = result({"sad": 0.85, "fearful": 0.15}), result({"happy": 0.6, "sad": 0.1, "surprised": 0.3})
    fused = fuse(audio, video, RULE)
    assert fused["label"] == "sad"
    voice, face = fused["contributions"]["audio"], fused["contributions"]["video"]
    assert max(voice, key=voice.get) == "sad" and max(face, key=face.get) == "happy"
    assert abs(sum(voice.values())) < 1e-2 and abs(sum(face.values())) < 1e-2  # centred over the classes
    # For the rule the pushes add up to the fused log-odds between any two classes.
    log_odds = np.log2(fused["probs"]["sad"] / fused["probs"]["happy"])
    assert voice["sad"] - voice["happy"] + face["sad"] - face["happy"] == pytest.approx(log_odds, abs=0.02)
    runner_up = fused["reason"].split(" over ")[1].split(".")[0]
    assert fused["reason"].startswith("sad over ") and "the voice sad, " in fused["reason"]
    assert f"the face {runner_up}, " in fused["reason"] or "the face against sad" in fused["reason"]


def test_a_vote_is_said_by_the_reading_that_carried_it_never_for_an_emotion_the_model_lacks():
    """A face model without calm (its calm row copied from neutral, as train/fusion.py measures it) that reads
    neutral pushes calm over sad: the reason says its neutral counted against sad, not that it favoured calm."""
    counts = np.eye(len(EMOTIONS)) * 10 + 1
    calm, neutral = EMOTIONS.index("calm"), EMOTIONS.index("neutral")
    counts[:, calm] = 0
    counts[calm] = counts[neutral]
    rule = FusionModel({"audio": uninformed_confusion(), "video": normalise_rows(counts)})
    audio = result({"sad": 0.5, "calm": 0.45})
    video = result({"neutral": 0.9, "sad": 0.02}) | {"probs": dict(result({"neutral": 0.9})["probs"], calm=0.0)}
    fused = fuse(audio, video, rule)
    assert fused["reason"].startswith(("sad over calm.", "calm over sad."))
    assert "the face against sad" in fused["reason"] and "its neutral 9" in fused["reason"]
    assert "the face calm" not in fused["reason"] and "favoured" not in fused["reason"]


def test_a_weak_face_pushes_less_than_a_trusted_one():
    audio, video = result({"angry": 0.7, "disgust": 0.3}), result({"happy": 0.9})
    trusted = fuse(audio, dict(video, reliability=1.0), RULE)["contributions"]["video"]
    weak = fuse(audio, dict(video, reliability=0.2), RULE)["contributions"]["video"]
    assert weak["happy"] == pytest.approx(0.2 * trusted["happy"], rel=0.05)


def test_the_action_unit_face_uses_its_own_matrix_and_the_live_face_its_own():
    from avemo.config import ACTION_UNITS_SOURCE as FACE_SOURCE

    blind = np.full((len(EMOTIONS), len(EMOTIONS)), 1.0)  # a face model that says nothing about anything
    rule = FusionModel({"audio": uninformed_confusion(), "video": uninformed_confusion(), "face_aus": blind})
    audio, face = result({"sad": 0.6, "neutral": 0.4}), result({"happy": 0.95})
    live = fuse(audio, face, rule)
    from_aus = fuse(audio, dict(face, source=FACE_SOURCE), rule)
    assert live["label"] == "happy" and from_aus["label"] == "sad"
    assert max(abs(v) for v in from_aus["contributions"]["video"].values()) < 1e-6


def test_exponents_fitted_for_the_action_unit_pairing_leave_the_live_face_pairing_alone():
    from avemo.config import ACTION_UNITS_SOURCE as FACE_SOURCE

    eye = uninformed_confusion()
    fitted = FusionModel({"audio": eye, "video": eye, "face_aus": eye}, exponents={"face_aus": {"audio": 3.0}})
    plain = FusionModel({"audio": eye, "video": eye, "face_aus": eye})
    audio, face = result({"sad": 0.6, "neutral": 0.4}), result({"happy": 0.6, "neutral": 0.4})
    assert fuse(audio, face, fitted)["probs"] == fuse(audio, face, plain)["probs"]  # the live face: exponent 1
    louder = fuse(audio, dict(face, source=FACE_SOURCE), fitted)["contributions"]["audio"]
    normal = fuse(audio, dict(face, source=FACE_SOURCE), plain)["contributions"]["audio"]
    assert louder["sad"] == pytest.approx(3 * normal["sad"], rel=0.02)
