"""The speech expert's pretrained encoder (Whisper tiny.en) as avemo runs it: read from the pinned
package's CTranslate2 file, it must compute what CTranslate2 itself computes, and its clip statistics
must not depend on the recording level."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

try:
    from tests import clips
except ImportError:
    import clips

REFERENCE = Path(__file__).parent / "reference" / "whisper_tiny_en_reference.npz"


def test_the_encoder_file_is_the_pinned_one_and_holds_tiny_en():
    from avemo.audio.speech_encoder import read_ctranslate2, encoder_file, load_encoder

    variables = read_ctranslate2(encoder_file())
    assert int(variables["num_heads"]) == 6
    assert variables["conv1/weight"].shape == (384, 80, 3)
    assert variables["position_encodings/encodings"].shape == (1500, 384)
    layers = {name.split("/")[0] for name in variables if name.split("/")[0].removeprefix("layer_").isdigit()}
    assert sorted(layers) == [f"layer_{i}" for i in range(4)]
    assert not any(name.startswith("decoder") for name in variables)  # only the encoder is read
    assert load_encoder().n_layers == 4  # and its hash matched ENCODER_SHA256


@pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON)
def test_the_encoder_computes_what_ctranslate2_computes_on_a_real_clip():
    """The reference was made by CTranslate2 4.8.5 (the runtime the file was written for) from the same
    log-mel features of this RAVDESS clip; its decoder read them as "Kids are talking by the door"."""
    import soundfile as sf

    from avemo.audio.speech_encoder import load_encoder, whisper_log_mel

    reference = np.load(REFERENCE)
    waveform, rate = sf.read(clips.DATA / "ravdess" / "audio" / str(reference["clip"]), dtype="float32")
    assert rate == 16_000
    mel = whisper_log_mel(waveform)
    assert mel.shape == (len(waveform) // 160, 80)  # 100 frames a second, 80 mel bands
    states = load_encoder()(mel)
    assert states.shape == (6, len(mel) // 2, 384)  # the convolutions halve the frame rate
    every = int(reference["every"])
    np.testing.assert_allclose(states[-1, ::every], reference["states"], atol=2e-3)


@pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON)
def test_the_speech_representation_ignores_the_recording_level_and_covers_long_speech():
    from avemo.audio.features import trim_silence
    from avemo.media import load_audio
    from avemo.audio.speech_encoder import speech_representation

    speech, _ = trim_silence(load_audio(clips.savee_clip("JE_sa14"), 16_000, 60)[0])
    representation = speech_representation(speech)
    assert representation.shape == (6 * 2 * 384,) and np.all(np.isfinite(representation))
    np.testing.assert_allclose(speech_representation(0.05 * speech), representation, atol=1e-3)
    # Over Whisper's 30 s context: encoded in pieces and pooled together, not cut off.
    long = np.tile(speech, int(np.ceil(40 * 16_000 / len(speech))))[:40 * 16_000]
    long_representation = speech_representation(long)
    assert long_representation.shape == representation.shape and np.all(np.isfinite(long_representation))
    assert not np.allclose(long_representation, speech_representation(long[:30 * 16_000]), atol=1e-3)


def test_window_representations_pool_the_states_of_each_span():
    """States are 50 a second: a window's representation pools just its own states, and a span over the
    whole clip gives the clip's representation; a span past the end keeps at least one state."""
    from avemo.audio.speech_encoder import pooled, window_representations

    states = np.random.default_rng(0).normal(size=(6, 100, 384)).astype(np.float32)  # 2 s
    windows = window_representations(states, [(0.0, 2.0), (0.5, 1.5), (1.99, 2.5)])
    np.testing.assert_allclose(windows[0], pooled(states), rtol=1e-5)
    np.testing.assert_allclose(windows[1], pooled(states[:, 25:75]), rtol=1e-5)
    np.testing.assert_allclose(windows[2], pooled(states[:, 99:100]), rtol=1e-5)
