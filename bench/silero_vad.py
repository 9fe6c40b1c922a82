"""Voice-activity detection with Silero VAD, for the measurement in bench.voice_activity (not used by the product).

The audio model was trained on speech only; anything louder than silence (a tone, noise, a webcam's
test beeps, music) still gets a confident emotion out of it. This module runs Silero VAD v6 (MIT),
a small recurrent network trained to tell speech from every other sound, so that such clips are
refused ("no speech detected") instead of labelled.

The model file is `silero_vad/data/silero_vad.onnx` of the pinned `silero-vad` wheel (SILERO_VERSION),
checked against SILERO_SHA256 and run with onnxruntime. silero-vad's own Python package is not used:
it imports torch, which is not in this stack (nor installed: the wheel declares torch as a hard
requirement). The file is read, in order, from an installed `silero_vad` package (found without
importing it), else from the wheel in cache_dir()/silero-vad-wheel, else from the wheel that
`pip download --no-deps silero-vad==SILERO_VERSION` fetches there on first use.

The ONNX model's interface (v5/v6): input (batch, CONTEXT_SAMPLES + CHUNK_SAMPLES) float32, each
512-sample chunk at 16 kHz preceded by the last 64 samples of what the model saw before; state
(2, batch, 128) float32, carried from chunk to chunk; sr int64 scalar. It returns the chunk's speech
probability (batch, 1) and the new state. `speech_probabilities` does what silero-vad's OnnxWrapper
does (zero context and state at the start, the last chunk zero-padded), in numpy;
`speech_segments` follows its get_speech_timestamps (hysteresis, minimum speech and silence
durations, padding) with the thresholds below.
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

import numpy as np

from avemo.config import MIN_SPEECH_SECONDS, cache_dir
from avemo.media import MediaError

log = logging.getLogger(__name__)

SILERO_VERSION = "6.2.3"
SILERO_WHEEL = f"silero_vad-{SILERO_VERSION}-py3-none-any.whl"
SILERO_MEMBER = "silero_vad/data/silero_vad.onnx"  # the 8/16 kHz model, opset 16, as load_silero_vad(onnx=True)
SILERO_SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"

# Fixed by the model (silero-vad's OnnxWrapper at 16 kHz).
SAMPLE_RATE = 16_000   # Hz; other rates are resampled to this first
CHUNK_SAMPLES = 512    # one probability per 512 samples = 32 ms
CONTEXT_SAMPLES = 64   # each chunk is preceded by the previous chunk's last 64 samples
STATE_SIZE = 128       # the recurrent state: (2, batch, 128)

# How probabilities become segments (silero-vad's get_speech_timestamps, with the same meanings).
# Measured with `python -m bench.voice_activity` (figures in bench/voice_activity.json): no synthetic
# tone, chord, sweep, hum, noise, beep, click, melody or music loop gets any speech segment (its highest
# chunk probability is 0.25, at the abrupt onset of a loud 60 Hz hum), and every SAVEE clip and all but
# 15 of the 1,320 RAVDESS clips keep at least MIN_SPEECH_SECONDS (avemo.config) of speech. Those 15 are
# screamed or shouted strong-intensity takes (12 by actor 06) that Silero scores as non-speech; three of
# them never exceed 0.27, so no threshold keeps them all and still refuses the hum: the thresholds stay
# at Silero's defaults rather than trade the margin against non-speech for a few of them.
SPEECH_THRESHOLD = 0.5    # a chunk at or above this starts speech: Silero's default, tuned on its corpora
SILENCE_THRESHOLD = 0.35  # once in speech, only a chunk below this counts as silence (hysteresis:
                          # Silero's default threshold - 0.15), so a wavering voice is not cut up
MIN_SEGMENT_SECONDS = 0.25  # a shorter burst is dropped (Silero's default): a click or a knock is not speech
MIN_SILENCE_SECONDS = 0.3   # a segment ends only after this much silence (Silero: 0.1 s), so the pauses
                            # between the words of a sentence stay in and speech_seconds measures the
                            # utterance, as the trimmed clip the models read does
SPEECH_PAD_SECONDS = 0.03   # each segment is widened by this on both sides (Silero's default): the onsets
                            # and tails of words are quieter than the model's threshold

_session = None
_session_lock = threading.Lock()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _installed_model() -> bytes | None:
    """The ONNX file of an installed silero_vad package (located without importing it: it imports torch)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "data" / Path(SILERO_MEMBER).name
    return path.read_bytes() if path.is_file() else None


def silero_wheel() -> Path:
    """The silero-vad wheel in the cache folder; fetched with `pip download --no-deps` when absent."""
    folder = cache_dir() / "silero-vad-wheel"
    wheel = folder / SILERO_WHEEL
    if wheel.is_file():
        return wheel
    folder.mkdir(parents=True, exist_ok=True)
    log.info("downloading the silero-vad %s wheel (for its ONNX model only) into %s", SILERO_VERSION, folder)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:  # another process may be fetching it too
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                               f"silero-vad=={SILERO_VERSION}", "-d", tmp],
                              capture_output=True, text=True, timeout=600)
        fetched = Path(tmp) / SILERO_WHEEL
        if done.returncode != 0 or not fetched.is_file():
            raise MediaError(f"the voice-activity model is not available: `pip download --no-deps "
                             f"silero-vad=={SILERO_VERSION} -d {folder}` failed ({done.stderr.strip()[-300:]})")
        os.replace(fetched, wheel)
    return wheel


def model_bytes() -> bytes:
    """The Silero VAD ONNX file, checked against SILERO_SHA256. Raises MediaError when it cannot be had."""
    data = _installed_model()
    if data is None or _sha256(data) != SILERO_SHA256:
        with zipfile.ZipFile(silero_wheel()) as archive:
            data = archive.read(SILERO_MEMBER)
    if _sha256(data) != SILERO_SHA256:
        raise MediaError(f"the voice-activity model file has an unexpected hash (not silero-vad {SILERO_VERSION})")
    return data


def session():
    """The process's one onnxruntime session of the model (loaded on first use; safe to share between
    threads: each call of speech_probabilities carries its own state)."""
    global _session
    with _session_lock:
        if _session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1  # a 32 ms chunk is too small to split; leave the cores to the models
            options.inter_op_num_threads = 1
            _session = onnxruntime.InferenceSession(model_bytes(), sess_options=options,
                                                    providers=["CPUExecutionProvider"])
        return _session


def speech_probabilities(waveform_16k: np.ndarray) -> np.ndarray:
    """Speech probability of each 32 ms chunk of a mono 16 kHz waveform.

    waveform_16k: (n_samples,) float in [-1, 1] at SAMPLE_RATE.
    Returns (n_chunks,) float32 in [0, 1], n_chunks = ceil(n_samples / CHUNK_SAMPLES); chunk i covers
    samples [i * CHUNK_SAMPLES, (i + 1) * CHUNK_SAMPLES) (the last one zero-padded)."""
    audio = np.asarray(waveform_16k, dtype=np.float32).reshape(-1)
    n_chunks = -(-audio.size // CHUNK_SAMPLES)
    padded = np.zeros(n_chunks * CHUNK_SAMPLES, dtype=np.float32)
    padded[:audio.size] = audio
    model = session()
    state = np.zeros((2, 1, STATE_SIZE), dtype=np.float32)
    context = np.zeros((1, CONTEXT_SAMPLES), dtype=np.float32)
    rate = np.array(SAMPLE_RATE, dtype=np.int64)
    probs = np.empty(n_chunks, dtype=np.float32)
    for i in range(n_chunks):
        chunk = np.concatenate([context, padded[None, i * CHUNK_SAMPLES:(i + 1) * CHUNK_SAMPLES]], axis=1)
        out, state = model.run(None, {"input": chunk, "state": state, "sr": rate})
        probs[i] = out[0, 0]
        context = chunk[:, -CONTEXT_SAMPLES:]
    return probs


def segments_from_probabilities(probs: np.ndarray, n_samples: int) -> list[tuple[float, float]]:
    """Speech segments (start_s, end_s) of a clip of `n_samples` at 16 kHz from its chunk probabilities
    (silero-vad's get_speech_timestamps_from_probs without a maximum segment length)."""
    min_segment = SAMPLE_RATE * MIN_SEGMENT_SECONDS
    min_silence = SAMPLE_RATE * MIN_SILENCE_SECONDS
    pad = SAMPLE_RATE * SPEECH_PAD_SECONDS
    found: list[list[int]] = []
    start = None   # start sample of the segment being read
    silent_since = 0  # where the silence that may end it began (0: none)
    for i, p in enumerate(probs):
        sample = i * CHUNK_SAMPLES
        if p >= SPEECH_THRESHOLD:
            silent_since = 0
            if start is None:
                start = sample
                continue
        if start is not None and p < SILENCE_THRESHOLD:
            if not silent_since:
                silent_since = sample
            if sample - silent_since >= min_silence:
                if silent_since - start > min_segment:
                    found.append([start, silent_since])
                start, silent_since = None, 0
    if start is not None and n_samples - start > min_segment:
        found.append([start, n_samples])
    for i, segment in enumerate(found):  # pad each side, splitting a gap narrower than two pads
        if i == 0:
            segment[0] = int(max(0, segment[0] - pad))
        if i < len(found) - 1:
            gap = found[i + 1][0] - segment[1]
            if gap < 2 * pad:
                segment[1] += int(gap // 2)
                found[i + 1][0] = int(max(0, found[i + 1][0] - gap // 2))
            else:
                segment[1] = int(min(n_samples, segment[1] + pad))
                found[i + 1][0] = int(max(0, found[i + 1][0] - pad))
        else:
            segment[1] = int(min(n_samples, segment[1] + pad))
    return [(start / SAMPLE_RATE, end / SAMPLE_RATE) for start, end in found]


def speech_segments(waveform: np.ndarray, sample_rate: int) -> list[tuple[float, float]]:
    """Where a clip holds speech: [(start_s, end_s), ...] in seconds from its start, in order, disjoint.

    waveform: (n_samples,) mono float in [-1, 1] at `sample_rate` Hz (resampled to 16 kHz here if needed).
    An empty list means no speech at all."""
    audio = np.asarray(waveform, dtype=np.float32).reshape(-1)
    if sample_rate != SAMPLE_RATE:
        from math import gcd

        from scipy.signal import resample_poly

        common = gcd(int(sample_rate), SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // common, int(sample_rate) // common).astype(np.float32)
    if audio.size == 0:
        return []
    return segments_from_probabilities(speech_probabilities(audio), audio.size)


def speech_seconds(segments: list[tuple[float, float]]) -> float:
    """Total duration in seconds of speech segments [(start_s, end_s), ...] (disjoint, as speech_segments gives)."""
    return float(sum(end - start for start, end in segments))


def check_detected_speech(segments: list[tuple[float, float]]) -> float:
    """The detected speech seconds of a clip's segments; raises MediaError ("no speech detected ...",
    a sentence for the user) when they fall short of MIN_SPEECH_SECONDS (avemo.config)."""
    seconds = speech_seconds(segments)
    if seconds == 0.0:
        raise MediaError("no speech detected (the sound is not a voice: a tone, noise or music?)")
    if seconds < MIN_SPEECH_SECONDS:
        raise MediaError(f"no speech detected: only {seconds:.2f} s of the sound is voice-like, and at least "
                         f"{MIN_SPEECH_SECONDS:.1f} s of speech is needed")
    return seconds
