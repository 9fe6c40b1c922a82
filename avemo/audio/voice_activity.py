"""Is it a voice? Silero VAD, with a second cue for the shouted speech it misses.

The audio model was trained on speech only; anything louder than silence (a tone, noise, a webcam's test
beeps, music) would still get a confident emotion out of it. `check_voice` refuses such sounds ("no speech
detected") before any emotion is read:

1. Silero VAD v6 (MIT), a small recurrent network trained to tell speech from every other sound, finds the
   speech segments. At least MIN_SPEECH_SECONDS of them: a voice.
2. It misses some shouted and screamed speech (15 of the 1,320 RAVDESS takes score as non-speech). A clip it
   refuses is kept when its sound looks like speech on four measures at once (`sounds_like_speech`): a
   spectrum that changes as phonemes do, frames that are periodic as vowels are (noise is not), a pitch
   that does not hold still like a note, and a loudness that rises and falls at syllable rates. With the bounds below, all 15 are kept and
   none of the synthetic tones, chords, sweeps, hum, noise, beeps, clicks, melodies or music loops of the
   measurement is (weights/audio/voice_activity.json).

The model file is `silero_vad/data/silero_vad.onnx` of the pinned `silero-vad` wheel (SILERO_VERSION),
bundled in the audio model folder as VAD_FILE (`python -m train.audio vad` copies it there), checked
against SILERO_SHA256 and run with onnxruntime. silero-vad's own Python package is not used: it imports
torch, which is not in this stack.

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
import logging
import threading
from pathlib import Path

import numpy as np

from avemo.config import MIN_SPEECH_SECONDS
from avemo.media import MediaError

log = logging.getLogger(__name__)

SILERO_VERSION = "6.2.3"
SILERO_MEMBER = "silero_vad/data/silero_vad.onnx"  # the 8/16 kHz model, opset 16, as load_silero_vad(onnx=True)
VAD_FILE = "silero_vad.onnx"  # its name in the audio model folder
SILERO_SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"

# Fixed by the model (silero-vad's OnnxWrapper at 16 kHz).
SAMPLE_RATE = 16_000   # Hz; other rates are resampled to this first
CHUNK_SAMPLES = 512    # one probability per 512 samples = 32 ms
CONTEXT_SAMPLES = 64   # each chunk is preceded by the previous chunk's last 64 samples
STATE_SIZE = 128       # the recurrent state: (2, batch, 128)

# How probabilities become segments (silero-vad's get_speech_timestamps, with the same meanings).
# Measured with `python -m bench.voice_activity` (figures in weights/audio/voice_activity.json): no synthetic
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

_sessions: dict[Path, object] = {}
_sessions_lock = threading.Lock()


def model_bytes(path: Path) -> bytes:
    """The Silero VAD ONNX file at `path`, checked against SILERO_SHA256. Raises MediaError otherwise."""
    data = Path(path).read_bytes()
    if hashlib.sha256(data).hexdigest() != SILERO_SHA256:
        raise MediaError(f"the voice-activity model {path} has an unexpected hash (not silero-vad {SILERO_VERSION})")
    return data


def session(path: Path):
    """The process's onnxruntime session of the model at `path` (loaded on first use; safe to share between
    threads: each call of speech_probabilities carries its own state)."""
    path = Path(path)
    with _sessions_lock:
        if path not in _sessions:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1  # a 32 ms chunk is too small to split; leave the cores to the models
            options.inter_op_num_threads = 1
            _sessions[path] = onnxruntime.InferenceSession(model_bytes(path), sess_options=options,
                                                           providers=["CPUExecutionProvider"])
        return _sessions[path]


def speech_probabilities(waveform_16k: np.ndarray, model_path: Path) -> np.ndarray:
    """Speech probability of each 32 ms chunk of a mono 16 kHz waveform.

    waveform_16k: (n_samples,) float in [-1, 1] at SAMPLE_RATE.
    Returns (n_chunks,) float32 in [0, 1], n_chunks = ceil(n_samples / CHUNK_SAMPLES); chunk i covers
    samples [i * CHUNK_SAMPLES, (i + 1) * CHUNK_SAMPLES) (the last one zero-padded)."""
    audio = np.asarray(waveform_16k, dtype=np.float32).reshape(-1)
    n_chunks = -(-audio.size // CHUNK_SAMPLES)
    padded = np.zeros(n_chunks * CHUNK_SAMPLES, dtype=np.float32)
    padded[:audio.size] = audio
    model = session(model_path)
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


def speech_segments(waveform: np.ndarray, sample_rate: int, model_path: Path) -> list[tuple[float, float]]:
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
    return segments_from_probabilities(speech_probabilities(audio, model_path), audio.size)


def speech_seconds(segments: list[tuple[float, float]]) -> float:
    """Total duration in seconds of speech segments [(start_s, end_s), ...] (disjoint, as speech_segments gives)."""
    return float(sum(end - start for start, end in segments))


# -- the second cue -----------------------------------------------------------------------------------
# Bounds of `speech_measures` for a clip Silero refuses to be kept, set between the speech it misses (the 15
# shouted RAVDESS takes) and the synthetic non-speech of bench.voice_activity, from `python -m train.audio vad`
# (weights/audio/voice_activity.json; in brackets, missed speech / the nearest synthetic sounds). They were set looking
# at both, so they are fitted to those sound families, not proven on others.
SPECTRAL_CHANGE_DB = (2.0, 8.0)  # median change of the 40-band log-mel spectrum between 20 ms frames (>= 4.0 / sweeps <= 0.95)
MIN_VOICED_SHARE = 0.3           # share of loud 64 ms frames that are periodic (>= 0.40 / noise, clicks <= 0.05)
MAX_STEADY_PITCH = 0.7           # share of 20 ms steps where the pitch moves under 1% (<= 0.46 / melodies >= 0.82, music 0.76)
MIN_SYLLABIC_MODULATION = 0.25   # share of the loudness envelope's modulation at 2-8 Hz (>= 0.33 / most noise 0.28-0.31)
MEASURE_HOP = 320                # 20 ms at 16 kHz


def speech_measures(speech: np.ndarray, sample_rate: int = SAMPLE_RATE) -> dict[str, float]:
    """The four measures of `sounds_like_speech` on trimmed audio (mono float, at least a quarter second)."""
    import librosa

    audio = np.asarray(speech, dtype=np.float32).reshape(-1)
    spectrum = np.abs(librosa.stft(audio, n_fft=512, hop_length=MEASURE_HOP)) + 1e-9
    mel = librosa.power_to_db(librosa.feature.melspectrogram(S=spectrum ** 2, sr=sample_rate, n_mels=40), ref=np.max)
    loud = mel.max(axis=0)[1:] > -40  # steps into a frame within 40 dB of the loudest
    change = np.abs(np.diff(mel, axis=1)).mean(axis=0)
    pitch = np.log(librosa.yin(audio, fmin=60, fmax=800, sr=sample_rate, frame_length=1024, hop_length=MEASURE_HOP))
    envelope = np.sqrt((spectrum ** 2).sum(axis=0))
    modulation = np.abs(np.fft.rfft(envelope / envelope.max() - (envelope / envelope.max()).mean()))
    rates = np.fft.rfftfreq(envelope.size, MEASURE_HOP / sample_rate)
    return {
        "spectral_change_db": float(np.median(change[loud])) if loud.any() else 0.0,
        "voiced_share": voiced_share(audio, sample_rate),
        "steady_pitch": float((np.abs(np.diff(pitch)) < 0.01).mean()),
        "syllabic_modulation": float(modulation[(rates >= 2) & (rates <= 8)].sum() / (modulation[rates > 0.5].sum() + 1e-9)),
    }


PRE_EMPHASIS = 0.97  # y[n] = x[n] - 0.97 x[n-1]: flattens a spectrum that falls towards high frequencies


def voiced_share(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """The share of frames (64 ms, 20 ms apart; within 40 dB of the loudest) whose normalised autocorrelation
    peaks above 0.6 at a lag of a voice's pitch (60-800 Hz): vowels are periodic, noise and clicks are not.

    The audio is pre-emphasised first, as pitch trackers do: brown noise (a random walk, like rumble or wind)
    changes so slowly that its raw autocorrelation stays above 0.9 at every lag of a voice's pitch, and 97% of
    its frames looked voiced, so 5 s of it passed the cue as speech. Pre-emphasised, it is white (0%), while the
    shouted RAVDESS takes the cue is for stay at 40% or more."""
    import librosa

    audio = np.asarray(audio, np.float32)
    audio = np.append(audio[:1], audio[1:] - PRE_EMPHASIS * audio[:-1])
    frames = librosa.util.frame(np.pad(audio, 512), frame_length=1024, hop_length=MEASURE_HOP).T
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = (frames ** 2).sum(axis=1)
    loud = energy > energy.max() * 1e-4
    power = np.abs(np.fft.rfft(frames * np.hanning(frames.shape[1]), n=2 * frames.shape[1])) ** 2
    autocorrelation = np.fft.irfft(power)[:, :frames.shape[1]]
    autocorrelation /= autocorrelation[:, :1] + 1e-12
    peaks = autocorrelation[:, sample_rate // 800:sample_rate // 60].max(axis=1)
    return float((peaks[loud] > 0.6).mean()) if loud.any() else 0.0


def sounds_like_speech(measures: dict[str, float]) -> bool:
    low, high = SPECTRAL_CHANGE_DB
    return (low <= measures["spectral_change_db"] <= high and measures["voiced_share"] >= MIN_VOICED_SHARE
            and measures["steady_pitch"] <= MAX_STEADY_PITCH
            and measures["syllabic_modulation"] >= MIN_SYLLABIC_MODULATION)


def check_voice(waveform: np.ndarray, speech: np.ndarray, sample_rate: int, model_path: Path) -> dict:
    """Refuse a sound that is not a voice (MediaError, a sentence for the user); else what was found:
    {"speech_seconds": the speech Silero detected (the trimmed length where the cue kept the clip),
     "speech_found_by": "speech detector" | "speech-like sound",
     "speech_segments": [[start, end], ...] seconds of the clip where Silero heard speech ([] for the cue)}.

    `waveform` is the clip as read, `speech` the same with its leading and trailing silence trimmed."""
    segments = speech_segments(waveform, sample_rate, model_path)
    seconds = speech_seconds(segments)
    if seconds >= MIN_SPEECH_SECONDS:
        return {"speech_seconds": round(seconds, 2), "speech_found_by": "speech detector",
                "speech_segments": [[round(a, 2), round(b, 2)] for a, b in segments]}
    if speech.size >= sample_rate // 4 and sounds_like_speech(speech_measures(speech, sample_rate)):
        return {"speech_seconds": round(speech.size / sample_rate, 2), "speech_found_by": "speech-like sound",
                "speech_segments": []}
    if seconds == 0.0:
        raise MediaError("no speech detected (the sound is not a voice: a tone, noise or music?)")
    raise MediaError(f"no speech detected: only {seconds:.2f} s of the sound is voice-like, and at least "
                     f"{MIN_SPEECH_SECONDS:.1f} s of speech is needed")
