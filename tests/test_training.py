"""The audio training path on a handful of real clips: it runs, is deterministic given a seed, and
writes a model folder that the Predictor loads and uses (accuracy is the model card's business)."""
from __future__ import annotations

import numpy as np
import pytest

from avemo.config import AUDIO_FEATURES, EMOTIONS

try:
    from tests import clips
except ImportError:
    import clips

pytestmark = pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON)


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory, monkeypatch_module):
    from avemo.audio import extract_features_cached
    from avemo.corpora import scan_ravdess
    from avemo.functionals import extract_descriptors_cached, extract_functionals_cached

    monkeypatch_module.setenv("AVEMO_CACHE", str(tmp_path_factory.mktemp("cache")))
    chosen = [c for c in scan_ravdess(clips.DATA).clips if c.speaker in ("ravdess-01", "ravdess-02")][::5]
    variants = extract_features_cached([c.path for c in chosen], AUDIO_FEATURES, speeds=(1.0, 1.1), progress=False)
    again = extract_features_cached([c.path for c in chosen], AUDIO_FEATURES, speeds=(1.0, 1.1), progress=False)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(variants, again))  # second run: from the cache
    functionals = extract_functionals_cached([c.path for c in chosen], speeds=(1.0, 1.1), progress=False)
    assert functionals.shape == (len(chosen), 2, 6373)
    assert np.array_equal(functionals, extract_functionals_cached([c.path for c in chosen], speeds=(1.0, 1.1),
                                                                  progress=False))
    descriptors = [per_speed[0] for per_speed in extract_descriptors_cached([c.path for c in chosen], progress=False)]
    assert all(rows.ndim == 2 and rows.shape[1] == 65 and len(rows) > 50 for rows in descriptors)
    return variants, functionals, np.array([c.label for c in chosen]), descriptors


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_training_is_deterministic_and_writes_a_loadable_folder(tiny_set, tmp_path):
    from avemo.models import save_model_folder
    from avemo.predict import Predictor
    from avemo.training import AudioTrainingConfig, clip_logits, train_audio_model

    variants, _, labels, _ = tiny_set
    hp = AudioTrainingConfig(epochs=2, batch_size=8, filters=(8, 8, 16, 16))
    first = train_audio_model(variants, labels, hp, AUDIO_FEATURES, verbose=0)
    second = train_audio_model(variants, labels, hp, AUDIO_FEATURES, verbose=0)
    probe_clips = [v[0] for v in variants[:4]]
    a, b = clip_logits(first, probe_clips, AUDIO_FEATURES), clip_logits(second, probe_clips, AUDIO_FEATURES)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)

    folder = tmp_path / "audio"
    save_model_folder(folder, first, list(EMOTIONS), {"features": AUDIO_FEATURES.to_dict(), "temperature": 1.5})
    predictor = Predictor({"audio": folder})
    result = predictor.predict(clips.ravdess_clip(actor=3, emotion=2))
    assert result["error"] is None and result["video"] is None
    assert set(result["audio"]["probs"]) == set(EMOTIONS)
    assert result["fused"]["label"] == result["audio"]["label"]


def test_final_training_reuses_only_an_evaluation_of_the_same_recipe(tmp_path):
    """A fresh clone has no runs/: `train.audio final` may take the shipped figures only for the recipe they measured."""
    import json
    import shutil
    from dataclasses import replace

    from avemo.config import WEIGHTS_DIR
    from avemo.training import AudioTrainingConfig
    from train.audio import recorded_evaluation

    shutil.copy(WEIGHTS_DIR / "audio" / "evaluation.json", tmp_path / "evaluation.json")
    shipped = json.loads((tmp_path / "evaluation.json").read_text())
    hp = AudioTrainingConfig(**{k: tuple(v) if isinstance(v, list) else v
                                for k, v in shipped["config"]["hparams"].items()})
    features = AUDIO_FEATURES.from_dict(shipped["config"]["features"])
    kind = shipped["chosen"]
    assert recorded_evaluation(tmp_path, kind, hp, features)["chosen"] == kind
    assert recorded_evaluation(tmp_path, kind, replace(hp, epochs=hp.epochs + 1), features) is None
    assert recorded_evaluation(tmp_path, kind, hp, replace(features, n_mels=features.n_mels * 2)) is None
    assert recorded_evaluation(tmp_path / "nowhere", kind, hp, features) is None


def test_the_predictor_adds_the_clip_level_experts_to_the_clip_verdict(tiny_set, tmp_path):
    """With functionals.keras and descriptors.keras in the folder, a clip's probabilities are the frame
    experts' window mean combined with the functionals head's logits on the whole utterance and the
    descriptor expert's mean over its windows, at the descriptor weight in the folder's hyper-parameters;
    the timeline stays per window."""
    from avemo.audio import spectral_frames, trim_silence, windows
    from avemo.config import DESCRIPTORS
    from avemo.functionals import descriptor_windows, descriptors, functionals
    from avemo.media import load_audio
    from avemo.models import combine_logits, save_model_folder, softmax
    from avemo.predict import Predictor
    from avemo.training import AudioTrainingConfig, train_audio_cnn, train_descriptors_model, train_functionals_head

    variants, features, labels, descriptor_rows = tiny_set
    hp = AudioTrainingConfig(epochs=1, batch_size=8, filters=(4, 4, 8, 8), descriptors_epochs=2,
                             descriptors_filters=(8, 8), descriptors_weight=0.5)
    cnn = train_audio_cnn(variants, labels, hp, AUDIO_FEATURES, verbose=0)
    head = train_functionals_head(features, labels, hp)
    expert = train_descriptors_model(descriptor_rows, labels, hp, DESCRIPTORS, verbose=0)
    folder = tmp_path / "audio"
    save_model_folder(folder, cnn, list(EMOTIONS), {"features": AUDIO_FEATURES.to_dict(), "temperature": 1.0,
                                                     "hparams": hp.to_dict()},
                      functionals=head, descriptors=expert)
    path = clips.savee_clip("JE_sa14")  # 7 s, longer than one descriptor window: several are averaged
    result = Predictor({"audio": folder}).predict(path, modality="audio")

    speech, _ = trim_silence(load_audio(path, AUDIO_FEATURES.sample_rate, 60)[0])
    window_logits = np.asarray(cnn(windows(spectral_frames(speech))[0], training=False))
    rows = descriptor_windows(descriptors(speech))
    assert len(rows) >= 2
    expected = softmax(combine_logits(window_logits.mean(0), np.asarray(head(functionals(speech)[None]))[0],
                                      np.asarray(expert(rows, training=False)).mean(0), weights=(1, 1, 0.5)))
    np.testing.assert_allclose([result["audio"]["probs"][e] for e in EMOTIONS], expected, atol=2e-3)
    np.testing.assert_allclose([result["audio"]["timeline"][0]["probs"][e] for e in EMOTIONS],
                               softmax(window_logits[0]), atol=2e-3)
