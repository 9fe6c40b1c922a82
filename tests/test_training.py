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
    from avemo.audio.extraction import extract, speed_variants, stacked
    from avemo.corpora import scan_ravdess

    monkeypatch_module.setenv("AVEMO_CACHE", str(tmp_path_factory.mktemp("cache")))
    chosen = [c for c in scan_ravdess(clips.DATA).clips if c.speaker in ("ravdess-01", "ravdess-02")][::5]
    paths, speeds = [c.path for c in chosen], speed_variants((1.0, 1.1))
    features = extract(paths, speeds, progress=False)
    again = extract(paths, speeds, progress=False)  # second run: from the cache
    for expert in features:
        assert all(np.array_equal(a, b) for first, second in zip(features[expert], again[expert])
                   for a, b in zip(first, second))
    variants, descriptors = features["frames"], features["descriptors"]
    functionals, speech = stacked(features["functionals"]), stacked(features["speech"])
    assert functionals.shape == (len(chosen), 2, 6373)
    assert all(rows.ndim == 2 and rows.shape[1] == 65 and len(rows) > 50 for per_speed in descriptors for rows in per_speed)
    assert all(len(fast) < len(recorded) for recorded, fast in descriptors)  # 1.1x speed: fewer 10 ms rows
    assert speech.shape == (len(chosen), 2, 4608 + 8192)  # Whisper tiny.en's statistics, then base's
    assert not np.allclose(speech[:, 0], speech[:, 1])  # the faster copy sounds different to the encoder too
    return variants, functionals, np.array([c.label for c in chosen]), descriptors, speech


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.mark.parametrize("members, statistics_head", [(1, False), (2, False), (1, True)])
def test_training_is_deterministic_and_writes_a_loadable_folder(tiny_set, tmp_path, members, statistics_head):
    import keras

    from avemo.audio.features import windows
    from avemo.models import combine_logits, save_model_folder, softmax
    from avemo.predict import Predictor
    from avemo.audio.training import AudioTrainingConfig, clip_logits, train_audio_model

    variants, _, labels, _, _ = tiny_set
    hp = AudioTrainingConfig(epochs=2, batch_size=8, filters=(8, 8, 16, 16), cnn_members=members,
                             statistics_head=statistics_head)
    first = train_audio_model(variants, labels, hp, AUDIO_FEATURES, verbose=0)
    # The product's frame model: the CNN (or the CNN ensemble's members), with the statistics head only if
    # asked for, combined as the evaluation scores them (the mean of their log-probabilities).
    parts = ({first.name: first} if first.name.startswith("avemo_audio_cnn") else
             {layer.name: layer for layer in first.layers if isinstance(layer, keras.Model)})
    assert sorted(parts) == [f"avemo_audio_cnn_{i}" for i in range(members)] + ["avemo_audio_statistics"] * statistics_head
    window = windows(variants[0][0], AUDIO_FEATURES)[0][:1]
    part_logits = [np.asarray(part(window, training=False)) for part in parts.values()]
    np.testing.assert_allclose(softmax(np.asarray(first(window, training=False))), softmax(combine_logits(*part_logits)),
                               atol=1e-5)
    if members > 1:  # members differ by their seeds alone
        assert not np.allclose(part_logits[0], part_logits[1], atol=1e-3)
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


def test_an_expert_s_saved_runs_are_keyed_by_what_it_depends_on():
    """A saved fold is reused only by a recipe that would train the same expert: another CNN setting retrains
    the frame expert alone, another corpus set or augmentation retrains every expert, a combination weight none."""
    from dataclasses import replace

    from avemo.audio.experiments import expert_key
    from avemo.audio.extraction import FeatureSettings
    from avemo.audio.training import AudioTrainingConfig

    hp, settings, corpora = AudioTrainingConfig(), FeatureSettings(), ("ravdess", "savee")
    keys = {expert: expert_key(hp, expert, settings, corpora) for expert in ("frames", "functionals", "speech")}

    def changed(other_hp=hp, other_settings=settings, other_corpora=corpora):
        return {e for e, key in keys.items() if expert_key(other_hp, e, other_settings, other_corpora) != key}

    assert changed(replace(hp, filters=(32, 64, 128, 256))) == {"frames"}
    assert changed(replace(hp, speech_c=hp.speech_c * 2)) == {"speech"}
    assert changed(replace(hp, speech_weight=hp.speech_weight + 1)) == set()  # combined afterwards
    assert changed(replace(hp, augment_copies=2)) == set(keys)
    assert changed(other_corpora=("ravdess", "savee", "emodb")) == set(keys)
    assert changed(other_settings=FeatureSettings(audio=replace(AUDIO_FEATURES, trim="energy"))) == set(keys)


def test_the_predictor_adds_the_clip_level_experts_to_the_clip_verdict(tiny_set, tmp_path):
    """With functionals.keras, descriptors.keras and speech.keras in the folder, a clip's probabilities are
    the frame experts' window mean combined with the functionals head's logits on the whole utterance, the
    descriptor expert's mean over its windows and the speech expert's logits on the Whisper encoder's
    statistics, at the weights in the folder's hyper-parameters; each timeline window is read by the same
    experts, on its own stretch of the speech."""
    from avemo.audio.features import spectral_frames, timeline_spans, trim_silence, windows
    from avemo.audio.functionals import descriptor_rows_of, descriptor_windows, descriptors, functionals
    from avemo.config import DESCRIPTORS
    from avemo.media import load_audio
    from avemo.models import combine_logits, save_model_folder, softmax
    from avemo.predict import Predictor
    from avemo.audio.speech_encoder import encoder_states, expert_input, speech_representation, window_representations
    from avemo.config import SPEECH_ENCODER
    from avemo.audio.training import (AudioTrainingConfig, train_audio_cnn, train_descriptors_model, train_functionals_head,
                                train_speech_head)

    variants, features, labels, descriptor_rows, representations = tiny_set
    hp = AudioTrainingConfig(epochs=1, batch_size=8, filters=(4, 4, 8, 8), descriptors_epochs=2,
                             descriptors_filters=(8, 8), descriptors_weight=0.5, speech_weight=2.0)
    cnn = train_audio_cnn(variants, labels, hp, AUDIO_FEATURES, verbose=0)
    head = train_functionals_head(features, labels, hp)
    expert = train_descriptors_model(descriptor_rows, labels, hp, DESCRIPTORS, verbose=0)
    speech_head = train_speech_head(representations, labels, hp)
    folder = tmp_path / "audio"
    save_model_folder(folder, cnn, list(EMOTIONS), {"features": AUDIO_FEATURES.to_dict(), "temperature": 1.0,
                                                     "hparams": hp.to_dict()},
                      functionals=head, descriptors=expert, speech=speech_head)
    path = clips.savee_clip("JE_sa14")  # 7 s, longer than one descriptor window: several are averaged
    result = Predictor({"audio": folder}).predict(path, modality="audio")

    speech, _ = trim_silence(load_audio(path, AUDIO_FEATURES.sample_rate, 60)[0])

    def speech_input(representations):  # what the speech head reads, as its recipe normalises it
        return expert_input(representations, SPEECH_ENCODER.encoders, hp.speech_normalise)

    window_logits = np.asarray(cnn(windows(spectral_frames(speech))[0], training=False))
    rows = descriptor_windows(descriptors(speech))
    assert len(rows) >= 2
    expected = softmax(combine_logits(window_logits.mean(0), np.asarray(head(functionals(speech)[None]))[0],
                                      np.asarray(expert(rows, training=False)).mean(0),
                                      np.asarray(speech_head(speech_input(speech_representation(speech)[None])))[0],
                                      weights=(1, 1, 0.5, 2.0)))
    np.testing.assert_allclose([result["audio"]["probs"][e] for e in EMOTIONS], expected, atol=2e-3)
    # The timeline: each short window of the utterance read by every expert, as the clip is.
    frames, rate, all_rows = spectral_frames(speech), AUDIO_FEATURES.sample_rate, descriptors(speech)
    spans = timeline_spans(len(frames))
    assert len(spans) >= 5 and len(result["audio"]["timeline"]) == len(spans)
    states = encoder_states(speech)
    to_frame = lambda t: int(round(t * rate / AUDIO_FEATURES.hop_length))  # noqa: E731
    for (start, end), window in zip(spans, result["audio"]["timeline"]):
        stretch_windows = windows(frames[to_frame(start):to_frame(end)])[0]
        expected = softmax(combine_logits(
            np.asarray(cnn(stretch_windows, training=False)).mean(0),
            np.asarray(head(functionals(speech[int(start * rate):int(end * rate)])[None]))[0],
            np.asarray(expert(descriptor_windows(descriptor_rows_of(all_rows, start, end)), training=False)).mean(0),
            np.asarray(speech_head(speech_input(window_representations(states, [(start, end)]))))[0],
            weights=(1, 1, 0.5, 2.0)))
        np.testing.assert_allclose([window["probs"][e] for e in EMOTIONS], expected, atol=2e-3)
    assert result["audio"]["verdict_from"] == "the whole utterance"


def test_descriptor_mixup_keeps_padding_recognisable():
    """Mixup of descriptor windows: a window's padding stays padding (the expert pools over real rows
    only), its rows facing the partner's padding stay its own, the rest is mixed at the given share."""
    from avemo.audio.functionals import DESCRIPTOR_PAD, pad_rows
    from avemo.audio.training import mix_descriptor_windows

    rng = np.random.default_rng(0)
    long, short = pad_rows(rng.normal(size=(8, 3)), 10), pad_rows(rng.normal(size=(5, 3)), 10)
    x, partner = np.stack([long, short]), np.stack([short, long])
    mixed = mix_descriptor_windows(x, partner, np.array([0.7, 0.6], dtype=np.float32))
    np.testing.assert_allclose(mixed[0, :5], 0.7 * long[:5] + 0.3 * short[:5], atol=1e-6)
    np.testing.assert_array_equal(mixed[0, 5:8], long[5:8])      # the partner is padding there
    assert np.all(mixed[0, 8:] == DESCRIPTOR_PAD)                  # its own padding
    np.testing.assert_allclose(mixed[1, :5], 0.6 * short[:5] + 0.4 * long[:5], atol=1e-6)
    assert np.all(mixed[1, 5:] == DESCRIPTOR_PAD)


def test_cnn_batches_are_clean_crops_of_the_clips_unless_augmentation_is_asked_for():
    """As shipped, every training window is a stretch of one clip's real frames (a random position of one
    of its speeds) with its hard label and class weight; SpecAugment, mixup and label smoothing come
    only when the hyper-parameters ask for them."""
    from dataclasses import replace

    from avemo.audio.training import AudioTrainingConfig, class_weights, cnn_batches

    cfg = replace(AUDIO_FEATURES, window_seconds=0.64)  # 20 frames
    rng = np.random.default_rng(0)
    variants = [[rng.normal(size=(n, cfg.n_bins)).astype(np.float32) for n in (30, 27)] for _ in range(6)]
    labels = np.array([0, 1, 2, 2, 3, 3])
    hp = AudioTrainingConfig(batch_size=6)
    x, y, w = cnn_batches(variants, labels, hp, cfg)[0]
    assert x.shape == (6, 20, cfg.n_bins)
    order = [int(np.argmax(row)) for row in y]
    np.testing.assert_array_equal(y, np.eye(len(EMOTIONS))[order])  # hard labels
    weight_of_label = dict(zip(labels.tolist(), class_weights(labels).tolist()))
    np.testing.assert_allclose(w, [weight_of_label[label] for label in order])  # rarer classes weigh more
    for window in x:
        assert any(np.array_equal(window, frames[s:s + 20]) for clip in variants for frames in clip
                   for s in range(len(frames) - 19)), "a training window is not a crop of a clip"

    augmented = replace(hp, freq_masks=2, time_masks=2, mixup_alpha=0.2, label_smoothing=0.1)
    x_aug, y_aug, _ = cnn_batches(variants, labels, augmented, cfg)[0]
    assert y_aug.min() > 0  # smoothed (and mixed) labels
    assert not any(np.array_equal(window, frames[s:s + 20]) for window in x_aug for clip in variants
                   for frames in clip for s in range(len(frames) - 19))
