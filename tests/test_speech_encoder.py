"""The speech expert's pretrained encoders (Whisper tiny.en and base) as avemo runs them: read from the pinned
packages' CTranslate2 files, each must compute what CTranslate2 itself computes, and the clip statistics must
not depend on the recording level."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

try:
    from tests import clips
except ImportError:
    import clips

REFERENCES = Path(__file__).parent / "reference"
# Each encoder's shape: attention heads, width, transformer layers.
SHAPES = {"whisper-tiny.en": (6, 384, 4), "whisper-base": (8, 512, 6)}
REFERENCE_FILES = {"whisper-tiny.en": "whisper_tiny_en_reference.npz", "whisper-base": "whisper_base_reference.npz"}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_the_encoder_file_is_the_pinned_one_and_holds_its_encoder_only(name):
    from avemo.audio.speech_encoder import encoder_bytes, load_encoder, read_ctranslate2

    heads, width, n_layers = SHAPES[name]
    variables = read_ctranslate2(encoder_bytes(name))  # joined from its parts and checked against its hash
    assert int(variables["num_heads"]) == heads
    assert variables["conv1/weight"].shape == (width, 80, 3)
    assert variables["position_encodings/encodings"].shape == (1500, width)
    layers = {key.split("/")[0] for key in variables if key.split("/")[0].removeprefix("layer_").isdigit()}
    assert sorted(layers) == [f"layer_{i}" for i in range(n_layers)]
    assert not any(key.startswith("decoder") for key in variables)  # only the encoder is read
    assert load_encoder(name).n_layers == n_layers


def test_a_file_that_is_not_the_pinned_one_is_refused_with_a_clear_message(tmp_path, monkeypatch):
    import dataclasses

    from avemo.audio import speech_encoder
    from avemo.media import MediaError

    pinned = speech_encoder.ENCODERS["whisper-tiny.en"]
    monkeypatch.setitem(speech_encoder.ENCODERS, "whisper-tiny.en", dataclasses.replace(pinned, sha256="0" * 64))
    with pytest.raises(MediaError, match=r"is not the pinned one \(sha256 1a5afae06a4d"):
        speech_encoder.encoder_bytes("whisper-tiny.en")
    with pytest.raises(MediaError, match="unknown speech encoder 'whisper-huge'"):
        speech_encoder.encoder_bytes("whisper-huge")


@pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON)
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_the_encoder_computes_what_ctranslate2_computes_on_a_real_clip(name):
    """Each reference was made by CTranslate2 4.8.5 (the runtime the files were written for, float32) from the
    same log-mel features of this RAVDESS clip; its decoder read them as "Kids are talking by the door"."""
    import soundfile as sf

    from avemo.audio.speech_encoder import load_encoder, whisper_log_mel

    reference = np.load(REFERENCES / REFERENCE_FILES[name])
    assert "Kids are talking by the door" in str(reference["transcript"])
    waveform, rate = sf.read(clips.DATA / "ravdess" / "audio" / str(reference["clip"]), dtype="float32")
    assert rate == 16_000
    mel = whisper_log_mel(waveform)
    assert mel.shape == (len(waveform) // 160, 80)  # 100 frames a second, 80 mel bands
    states = load_encoder(name)(mel)
    _, width, n_layers = SHAPES[name]
    assert states.shape == (n_layers + 2, len(mel) // 2, width)  # the convolutions halve the frame rate
    every = int(reference["every"])
    np.testing.assert_allclose(states[-1, ::every], reference["states"], atol=2e-3)


@pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON)
def test_the_speech_representation_ignores_the_recording_level_and_covers_long_speech():
    from avemo.audio.features import trim_silence
    from avemo.media import load_audio
    from avemo.audio.speech_encoder import speech_representation

    speech, _ = trim_silence(load_audio(clips.savee_clip("JE_sa14"), 16_000, 60)[0])
    representation = speech_representation(speech)
    # tiny.en's statistics (6 states x mean and std x 384), then base's (8 x 2 x 512).
    assert representation.shape == (6 * 2 * 384 + 8 * 2 * 512,) and np.all(np.isfinite(representation))
    np.testing.assert_allclose(speech_representation(0.05 * speech), representation, atol=1e-3)
    # Over Whisper's 30 s context: encoded in pieces and pooled together, not cut off.
    long = np.tile(speech, int(np.ceil(40 * 16_000 / len(speech))))[:40 * 16_000]
    long_representation = speech_representation(long)
    assert long_representation.shape == representation.shape and np.all(np.isfinite(long_representation))
    assert not np.allclose(long_representation, speech_representation(long[:30 * 16_000]), atol=1e-3)


def test_window_representations_pool_the_states_of_each_span_for_every_encoder():
    """States are 50 a second: a window's representation pools just its own states, each encoder's side by
    side, and a span over the whole clip gives the clip's representation; a span past the end keeps at least
    one state."""
    from avemo.audio.speech_encoder import pooled, window_representations

    rng = np.random.default_rng(0)
    states = [rng.normal(size=(6, 100, 384)).astype(np.float32), rng.normal(size=(8, 100, 512)).astype(np.float32)]
    windows = window_representations(states, [(0.0, 2.0), (0.5, 1.5), (1.99, 2.5)])  # 2 s

    def both(span: slice) -> np.ndarray:
        return np.concatenate([pooled(encoded[:, span]) for encoded in states])

    assert windows.shape == (3, 6 * 2 * 384 + 8 * 2 * 512)
    np.testing.assert_allclose(windows[0], both(slice(None)), rtol=1e-5)
    np.testing.assert_allclose(windows[1], both(slice(25, 75)), rtol=1e-5)
    np.testing.assert_allclose(windows[2], both(slice(99, 100)), rtol=1e-5)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_the_bundled_encoder_graph_is_what_whisper_graph_writes(name):
    """The graph ONNX Runtime runs (weights handed over at load) is the one avemo.audio.whisper_graph builds for
    the pinned file's shapes: regenerated, it is the same to the byte."""
    from avemo.audio.speech_encoder import GRAPHS_DIR
    from avemo.audio.whisper_graph import graph_bytes

    assert (GRAPHS_DIR / f"{name}.onnx").read_bytes() == graph_bytes(name)
