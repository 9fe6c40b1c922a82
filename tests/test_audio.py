"""Audio decoding and features on real clips in every common format; the pure helpers on arrays."""
from __future__ import annotations

import numpy as np
import pytest

from avemo.audio.features import (check_speech, loudest_dbfs, pad_value, spectral_frames, trim_silence, window_starts,
                                  windows)
from avemo.config import AUDIO_FEATURES as CFG
from avemo.media import MediaError, load_audio

try:
    from tests import clips
except ImportError:
    import clips

needs_data = pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON)


def test_windows_cover_a_long_clip_and_pad_a_short_one():
    assert window_starts(10) == [0]
    long = window_starts(CFG.window_frames * 3)
    assert long[0] == 0 and long[-1] + CFG.window_frames == CFG.window_frames * 3
    assert all(b - a <= CFG.window_hop_frames for a, b in zip(long, long[1:]))
    short = np.zeros((10, CFG.n_bins), dtype=np.float32)
    batch, spans = windows(short)
    assert batch.shape == (1, CFG.window_frames, CFG.n_bins) and len(spans) == 1
    assert (batch == pad_value(CFG)).all(axis=2).sum() > 0  # padded with the value of silence


def test_the_timeline_has_short_windows_across_an_utterance_and_never_two_alike():
    from avemo.audio.features import timeline_starts, timeline_window_frames
    from avemo.config import TIMELINE_HOP_SECONDS, TIMELINE_MAX_WINDOWS

    size, per_second = timeline_window_frames(), CFG.sample_rate / CFG.hop_length
    hop = TIMELINE_HOP_SECONDS * per_second
    assert timeline_starts(size) == [0] and timeline_starts(size + 1) == [1]  # one window, not two a frame apart
    for seconds in (2.0, 2.5, 3.7, 12.0, 60.0):
        n = int(seconds * per_second)
        starts = timeline_starts(n)
        gaps = np.diff(starts)
        assert starts[0] == 0 and starts[-1] + size == n and len(starts) <= TIMELINE_MAX_WINDOWS
        step = max(hop, (n - size) / (TIMELINE_MAX_WINDOWS - 1))
        assert (gaps >= hop / 2).all() and (gaps <= 1.5 * step + 1).all()  # (the last one ends at the end)
    assert len(timeline_starts(int(2.5 * per_second))) >= 3  # a short utterance still has something to show


def test_a_long_clip_is_cut_into_its_utterances_at_the_pauses():
    from avemo.audio.features import utterance_spans

    rate = CFG.sample_rate
    t = np.arange(int(1.5 * rate)) / rate
    burst = (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)
    short_gap, pause = np.zeros(int(0.1 * rate), np.float32), np.zeros(int(0.6 * rate), np.float32)
    speech = np.concatenate([burst, short_gap, burst, pause, burst, pause, burst])
    spans = utterance_spans(speech)
    assert len(spans) == 3  # the 0.1 s gap is inside an utterance; the 0.6 s pauses end one
    assert spans[0][0] < 0.05 and spans[0][1] == pytest.approx(3.1, abs=0.1) and spans[-1][1] == pytest.approx(
        speech.size / rate, abs=0.1)
    long_one = utterance_spans(np.tile(burst, 8))  # 12 s without a pause: cut into equal parts of at most 5 s
    assert len(long_one) == 3 and all(b - a <= 5.0 for a, b in long_one)


def test_silence_and_too_short_speech_are_refused():
    silence = np.zeros(CFG.sample_rate * 2, dtype=np.float32)
    assert loudest_dbfs(silence, CFG.sample_rate) < -100
    with pytest.raises(MediaError, match="silent"):
        check_speech(silence)
    t = np.arange(int(0.2 * CFG.sample_rate)) / CFG.sample_rate
    with pytest.raises(MediaError, match="at least"):
        check_speech((0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32))


@needs_data
@pytest.mark.parametrize("fmt", ["wav", "mp3", "ogg", "m4a", "webm"])
def test_common_formats_decode_to_the_same_features(tmp_path, fmt):
    source = clips.ravdess_clip(actor=2, emotion=3)
    reference, _ = load_audio(source, CFG.sample_rate)
    out = tmp_path / f"clip.{fmt}"
    codec = {"wav": ["-ar", "44100", "-ac", "2"], "mp3": ["-ar", "22050"], "ogg": ["-c:a", "libvorbis"],
             "m4a": ["-c:a", "aac"], "webm": ["-c:a", "libopus", "-ar", "48000"]}[fmt]
    clips.run_ffmpeg("-i", str(source), *codec, str(out))
    decoded, truncated = load_audio(out, CFG.sample_rate)
    assert not truncated and decoded.dtype == np.float32 and decoded.ndim == 1
    assert abs(len(decoded) - len(reference)) < 0.1 * CFG.sample_rate  # codecs pad a little
    a = spectral_frames(trim_silence(reference)[0])
    b = spectral_frames(trim_silence(decoded)[0])
    n = min(len(a), len(b))
    assert np.corrcoef(a[:n].ravel(), b[:n].ravel())[0, 1] > 0.9


@needs_data
def test_the_audio_of_a_video_is_its_speech_whatever_the_frame_rate(tmp_path):
    """moviepy once decoded the audio of this very clip (H.264 at 10 fps + AAC) as a constant."""
    source = clips.ravdess_clip(actor=7, emotion=3)
    reference, _ = load_audio(source, CFG.sample_rate)
    video = clips.still_video(tmp_path / "face.mp4", clips.face_still(7), source, seconds=2.5, fps=10)
    decoded, _ = load_audio(video, CFG.sample_rate)
    assert decoded.size == pytest.approx(2.5 * CFG.sample_rate, abs=0.05 * CFG.sample_rate)
    assert np.std(decoded) > 0.01  # not one value repeated
    n = min(decoded.size, reference.size)
    assert np.corrcoef(decoded[:n], reference[:n])[0, 1] > 0.9


@needs_data
def test_long_input_is_read_only_up_to_the_limit(tmp_path):
    long = clips.long_audio(tmp_path / "long.ogg", clips.savee_clip("DC_a01"), seconds=600)
    waveform, truncated = load_audio(long, CFG.sample_rate, max_seconds=20)
    assert truncated and len(waveform) == 20 * CFG.sample_rate


@needs_data
def test_trimming_keeps_the_speech():
    waveform, _ = load_audio(clips.ravdess_clip(actor=1, emotion=5), CFG.sample_rate)
    speech, offset = trim_silence(waveform)
    assert 0.8 < len(speech) / CFG.sample_rate < len(waveform) / CFG.sample_rate
    assert offset > 0.1  # RAVDESS clips open with silence
    check_speech(speech)


@needs_data
def test_utterance_statistics_are_mfcc_statistics_of_the_speech_frames_only():
    from dataclasses import replace

    import scipy.fft

    from avemo.audio.features import fit_window
    from avemo.audio.layers import UtteranceStatistics

    logmel = replace(CFG, kind="logmel")  # the statistics head reads log-mel frames (the shipped CNN reads MFCCs)
    waveform, _ = load_audio(clips.ravdess_clip(actor=5, emotion=5), CFG.sample_rate)
    speech, _ = trim_silence(waveform)
    frames = spectral_frames(speech, logmel)[: CFG.window_frames // 2]  # half a window: the rest is padding
    padded = fit_window(frames, 0, logmel)
    assert (padded == -1.0).all(axis=1).sum() >= CFG.window_frames // 2 - 1

    mfcc = scipy.fft.dct(frames, axis=1, norm="ortho")[:, : CFG.n_mfcc]
    expected = np.concatenate([mfcc.mean(0), mfcc.std(0), np.diff(mfcc, axis=0).std(0)])
    got = np.asarray(UtteranceStatistics(CFG.n_mfcc, pad_value=-1.0)(padded[None]))[0]
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)


def test_the_combined_audio_model_is_the_mean_of_its_experts_log_probabilities():
    from avemo.audio.networks import build_audio_cnn, build_statistics_head, combine_audio_models
    from avemo.models import combine_logits

    cnn = build_audio_cnn(CFG.window_frames, CFG.n_bins, filters=(4, 4, 4, 4))
    head = build_statistics_head(CFG.window_frames, CFG.n_bins, CFG.n_mfcc, pad_value=-1.0)
    combined = combine_audio_models(cnn, head)
    batch = np.random.default_rng(0).uniform(-1, 1, (3, CFG.window_frames, CFG.n_bins)).astype(np.float32)
    parts = [np.asarray(m(batch, training=False)) for m in (cnn, head)]
    np.testing.assert_allclose(np.asarray(combined(batch, training=False)), combine_logits(*parts), atol=1e-5)


@needs_data
def test_functionals_do_not_depend_on_the_input_level():
    """The functionals expert sees speech scaled to one level: a clip 26 dB quieter gives the same
    features (up to 16-bit rounding), while different speech gives different ones."""
    from avemo.audio.functionals import descriptors, functionals

    speech, _ = trim_silence(load_audio(clips.ravdess_clip(actor=3, emotion=5), CFG.sample_rate, 60)[0])
    loud, quiet = functionals(speech), functionals(speech * 0.05)
    assert loud.shape == (6373,) and np.isfinite(loud).all()
    np.testing.assert_allclose(quiet, loud, rtol=1e-2, atol=1e-2)
    loud_rows, quiet_rows = descriptors(speech), descriptors(speech * 0.05)  # the descriptor expert's input too
    assert loud_rows.shape[1] == 65 and abs(len(loud_rows) - speech.size / CFG.sample_rate * 100) < 5
    np.testing.assert_allclose(quiet_rows, loud_rows, rtol=1e-2, atol=2e-2)
    other = functionals(trim_silence(load_audio(clips.ravdess_clip(actor=4, emotion=4), CFG.sample_rate, 60)[0])[0])
    assert not np.allclose(other, loud, rtol=1e-2, atol=1e-2)


def test_descriptor_pooling_leaves_the_padding_out():
    """The descriptor expert pools over a window's real rows only: the mean and standard deviation of
    the features of the rows before the padding, and a clip's windows end at its end."""
    from avemo.config import DESCRIPTORS
    from avemo.audio.functionals import DESCRIPTOR_PAD, descriptor_windows
    from avemo.audio.layers import MaskedStatisticsPooling, ZeroPadding

    rng = np.random.default_rng(2)
    short = rng.normal(size=(120, 65)).astype(np.float32)
    window = descriptor_windows(short)
    assert window.shape == (1, DESCRIPTORS.window_frames, 65) and (window[0, 120:] == DESCRIPTOR_PAD).all()
    features = rng.normal(size=(1, DESCRIPTORS.window_frames, 16)).astype(np.float32)
    pooled = np.asarray(MaskedStatisticsPooling()([features, window]))[0]
    np.testing.assert_allclose(pooled[:16], features[0, :120].mean(0), atol=1e-5)
    np.testing.assert_allclose(pooled[16:], features[0, :120].std(0), atol=1e-4)
    zeroed = np.asarray(ZeroPadding()([features, window]))[0]
    assert (zeroed[120:] == 0).all() and np.array_equal(zeroed[:120], features[0, :120])
    long = rng.normal(size=(700, 65)).astype(np.float32)
    windows_of_long = descriptor_windows(long)
    assert len(windows_of_long) == 4 and np.array_equal(windows_of_long[-1], long[-DESCRIPTORS.window_frames:])


def test_normal_quantiles_layer_is_scikit_learns_quantile_transformer():
    """The Keras layer gives QuantileTransformer(output_distribution="normal")'s values: heavy tails,
    runs of tied values, a constant feature, and values beyond the training range on both sides."""
    from sklearn.preprocessing import QuantileTransformer

    from avemo.audio.layers import NormalQuantiles

    rng = np.random.default_rng(1)
    train = np.concatenate([rng.standard_t(2, (600, 20)), np.zeros((600, 2)),
                            rng.integers(0, 4, (600, 3))], axis=1).astype(np.float32)
    train[:200, 3] = 1.0  # a run of ties inside the distribution
    transformer = QuantileTransformer(n_quantiles=50, output_distribution="normal", subsample=None).fit(train)
    layer = NormalQuantiles(50)
    layer.build(train.shape)
    layer.set_weights([transformer.quantiles_.astype(np.float32)])
    probe = np.concatenate([train[:100], 4 * rng.standard_t(2, (100, 25)).astype(np.float32)])
    np.testing.assert_allclose(np.asarray(layer(probe)), transformer.transform(probe), atol=1e-3)


def test_the_functionals_head_is_the_scikit_learn_regression_it_was_fitted_as(tmp_path):
    """Fitted by scikit-learn, shipped as Keras weights: same logits, also after a safe-mode reload,
    on the training clips and on new ones, and a constant feature (zero variance) does not blow up."""
    import keras
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import QuantileTransformer, StandardScaler

    from avemo.audio.training import AudioTrainingConfig, train_functionals_head

    rng = np.random.default_rng(0)
    labels = np.arange(160) % 8
    features = rng.normal(3.0, 5.0, (160, 12)).astype(np.float32)
    features[:, 0] += 4 * labels
    features[:, 5] = 7.0
    hp = AudioTrainingConfig()
    head = train_functionals_head(features[:, None], labels, hp)  # one speed per clip
    reference = make_pipeline(
        QuantileTransformer(n_quantiles=hp.functionals_quantiles, output_distribution="normal", subsample=None),
        StandardScaler(), LogisticRegression(C=hp.functionals_c, max_iter=5000, class_weight="balanced"),
    ).fit(features, labels)
    np.testing.assert_allclose(np.asarray(head(features, training=False)), reference.decision_function(features),
                               atol=1e-3)
    head.save(tmp_path / "functionals.keras")
    loaded = keras.saving.load_model(tmp_path / "functionals.keras", compile=False)
    probe = rng.normal(3.0, 8.0, (40, 12)).astype(np.float32)  # new clips, some beyond the training range
    probe[:, 5] = 9.0  # a value the constant feature never took
    assert np.isfinite(np.asarray(loaded(probe, training=False))).all()
    np.testing.assert_allclose(np.asarray(loaded(probe, training=False)), reference.decision_function(probe),
                               atol=1e-3)
    # Trained without an emotion (surprised, when no training corpus has it), the head never answers it.
    partial = train_functionals_head(features[labels < 7, None], labels[labels < 7], hp)
    assert (np.asarray(partial(probe, training=False)).argmax(axis=1) != 7).all()
    with pytest.raises(ValueError, match="at least two emotions"):
        train_functionals_head(features[labels == 0, None], labels[labels == 0], hp)
