"""train/fusion.py fit-video end to end on a small paired set that the test builds (face stills + real
speech, laid out like the RAVDESS audio-video release): the path runs, compares every method, and writes
a fusion folder that the Predictor then uses."""
from __future__ import annotations

import json
import shutil

import pytest

from avemo.config import EMOTIONS, WEIGHTS_DIR
from avemo.fusion.rule import TRAINED_FILE

try:
    from tests import clips
except ImportError:
    import clips

pytestmark = [pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON), pytest.mark.slow]

ACTORS = (2, 3, 4)
EMOTIONS_CODES = {5: "angry", 3: "happy", 4: "sad"}


@pytest.fixture(scope="module")
def paired_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("ravdess-av")
    for actor in ACTORS:
        folder = root / "ravdess" / "video" / f"Actor_{actor:02d}"
        folder.mkdir(parents=True)
        for code in EMOTIONS_CODES:
            speech = clips.ravdess_clip(actor=actor, emotion=code, intensity=2)
            clips.still_video(folder / f"01-01-{code:02d}-02-01-01-{actor:02d}.mp4", clips.face_still(actor),
                              speech, size=(320, 180), fps=10)
        # a video-only twin (02-...) is read by the video trainer but not paired by fusion
        clips.still_video(folder / f"02-01-05-02-01-01-{actor:02d}.mp4", clips.face_still(actor), seconds=1,
                          size=(320, 180), fps=10)
    return root


def test_fit_video_compares_all_methods_and_writes_a_folder_predict_uses(paired_corpus, tmp_path):
    from avemo.fusion.training import methods
    from avemo.predict import Predictor
    from train import fusion

    out = tmp_path / "fusion"
    shutil.copytree(WEIGHTS_DIR / "fusion", out)
    comparison = fusion.fit_video(paired_corpus, WEIGHTS_DIR, out)
    assert comparison["n_clips"] == len(ACTORS) * len(EMOTIONS_CODES)
    assert comparison["n_actors"] == len(ACTORS)
    assert set(comparison["reports"]) == {m.name for m in methods({})} | {"best trained fuser (nested)"}
    assert {"audio alone", "face alone", "v0.6.0 rule (face matrix assumed)", "LR", "SVM", "KNN", "MLP"} <= set(comparison["reports"])
    for report in comparison["reports"].values():
        assert 0.0 <= report["accuracy"] <= 1.0
        assert sum(map(sum, report["confusion"])) == comparison["n_clips"]
    config = json.loads((out / "config.json").read_text())
    assert (out / TRAINED_FILE).exists() == ("trained" in config)

    folders = {m: WEIGHTS_DIR / m for m in ("audio", "video")} | {"fusion": out}
    result = Predictor(folders).predict(next((paired_corpus / "ravdess" / "video" / "Actor_02").glob("01-*.mp4")))
    expected = f"trained {config['trained']['name']}" if "trained" in config else "bayes-product (default rule)"
    assert result["fused"]["method"] == expected
    assert result["fused"]["modalities"] == ["audio", "video"]


def test_default_rule_is_rebuilt_from_measured_matrices_only(tmp_path):
    from avemo.fusion.rule import load_fusion
    from train import fusion

    out = tmp_path / "fusion"
    config = fusion.write_default(WEIGHTS_DIR, out)
    audio = json.loads((WEIGHTS_DIR / "audio" / "evaluation.json").read_text())
    n_evaluated = sum(s["pooled"]["n"] for s in audio["in_corpus"].values())  # every corpus, its own protocol
    assert round(sum(map(sum, config["confusions"]["audio"]))) == n_evaluated
    # The live face's matrix is the one measured on labelled stills (calm read as neutral), not an assumption.
    faces = json.loads((WEIGHTS_DIR / "video" / "faces_evaluation.json").read_text())
    neutral, calm = EMOTIONS.index("neutral"), EMOTIONS.index("calm")
    assert round(sum(map(sum, config["confusions"]["video"]))) == faces["pooled"]["n"] + sum(
        config["confusions"]["video"][calm])
    assert config["confusions"]["video"][calm] == config["confusions"]["video"][neutral]
    assert "measured on labelled face stills" in config["sources"]["video"]
    rule = load_fusion(out)
    assert rule.trained is None and rule.confusions["video"].shape == (8, 8)
    assert "- live face model: measured on labelled face stills" in (out / "README.md").read_text()
    shutil.rmtree(out)
