"""Sound and frames already in memory (what live mode will hold) give what the files give: the file entry
points decode, then run the same analysis. Real RAVDESS speech and the bundled example videos."""
from __future__ import annotations

import numpy as np
import pytest

from avemo.config import EMOTIONS, REPO_ROOT, WEIGHTS_DIR
from avemo.media import MediaError, load_audio, probe

try:
    from tests import clips
except ImportError:
    import clips

pytestmark = pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON)

VIDEO = REPO_ROOT / "examples" / "ravdess-actor08-sad.mp4"


@pytest.fixture(scope="module")
def predictor():
    from avemo.predict import Predictor

    return Predictor({m: WEIGHTS_DIR / m for m in ("audio", "video", "fusion")}, origin="test", lazy=True)


@pytest.fixture(scope="module")
def decoded():
    """Every frame of the example video with its time, and the container's duration."""
    from avemo.face.video import video_frames

    stamped = list(video_frames(VIDEO))
    return [frame for _, frame in stamped], [t for t, _ in stamped], probe(VIDEO).duration


def max_difference(a: dict, b: dict) -> float:
    return max(abs(a["probs"][e] - b["probs"][e]) for e in EMOTIONS)


def test_a_waveform_in_memory_reads_as_its_file(predictor):
    import soundfile

    voice = predictor.audio_model
    clip = clips.ravdess_clip(actor=11, emotion=4, statement=2)
    from_file = voice.analyse(clip)
    pcm, rate = soundfile.read(str(clip), dtype="int16")  # as a microphone delivers it, in two channels
    assert voice.analyse_waveform(np.stack([pcm, pcm], axis=1), rate) == from_file
    assert from_file[0]["label"] in EMOTIONS and from_file[0]["timeline"]

    import soxr  # the same sound at a browser's 48 kHz: resampled on the way in, nearly the same verdict

    at_48k = soxr.resample(pcm.astype(np.float32) / 32768, rate, 48_000)
    result, _ = voice.analyse_waveform(at_48k, 48_000)
    assert result["label"] == from_file[0]["label"] and max_difference(result, from_file[0]) < 0.02


def test_frames_in_memory_read_as_their_file(predictor, decoded):
    faces = predictor.video_model
    frames, times, duration = decoded
    from_file = faces.analyse(VIDEO, probe(VIDEO))
    assert faces.analyse_frames(frames, times, duration) == from_file  # the same frames picked, the same result
    assert from_file[0]["faces_found"] > 0 and from_file[0]["frame_timeline"]

    # Without the container's duration (to one frame past the last), and from a camera at a third of the rate.
    for chosen in (slice(None), slice(None, None, 3)):
        result, _ = faces.analyse_frames(frames[chosen], times[chosen])
        assert result["label"] == from_file[0]["label"] and max_difference(result, from_file[0]) < 0.01


def test_predict_arrays_fuses_as_predict_does_on_the_file(predictor, decoded):
    frames, times, duration = decoded
    waveform, _ = load_audio(VIDEO, 16_000)
    from_file = predictor.predict(VIDEO)
    in_memory = predictor.predict_arrays(audio=(waveform, 16_000), video=(frames, times, duration))
    assert in_memory == {**from_file, "path": None}
    assert from_file["fused"]["modalities"] and not from_file["error"]


@pytest.mark.parametrize("frames, times, message", [
    ([np.zeros((4, 4, 3), np.uint8)] * 2, [0.0], "one time per frame"),
    ([np.zeros((4, 4, 3), np.uint8)] * 2, [0.1, 0.0], "never go back"),
    ([np.zeros((4, 4), np.uint8)], [0.0], "RGB image"),
    ([np.zeros((4, 4, 3), np.float32)], [0.0], "uint8"),
])
def test_frames_that_are_not_a_video_get_one_clear_message(predictor, frames, times, message):
    with pytest.raises(MediaError, match=message):
        predictor.video_model.analyse_frames(frames, times)
    result = predictor.predict_arrays(video=(frames, times))
    assert message in result["unavailable"]["video"] and message in result["error"]


def test_samples_that_are_not_a_waveform_get_one_clear_message(predictor):
    result = predictor.predict_arrays(audio=(np.array(["a", "b"]), 16_000))
    assert result["error"] == "audio: not a waveform: samples of shape (2,) and type <U1"
    silence = predictor.predict_arrays(audio=(np.zeros(32_000, np.int16), 16_000))
    assert silence["error"] == "audio: the audio is silent: no speech to analyse"
