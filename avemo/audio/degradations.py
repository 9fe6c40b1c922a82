"""What a recording goes through outside a studio, made on purpose: noise at a signal-to-noise ratio, a
room's reverberation, a browser's codec and a telephone's band.

The voice model is measured under these (`python -m train.audio robustness`) and trained with them
(AudioTrainingConfig.augmentations): the same functions, with the evaluation's random seeds kept apart from
the training's (EVALUATION_SEED, TRAINING_SEED), so no noise the model is scored under was heard in training.

Every function is pure: a mono float32 waveform in [-1, 1] at `sample_rate` in, the degraded waveform of the
same length and rate out. `Degradation` names one, with its seed and (for babble) the recordings it mixes,
so that a degraded clip is a pure function of the clip and its `Degradation` (the feature caches key on it).
"""
from __future__ import annotations

import hashlib
import subprocess
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

NOISES = ("white", "pink", "brown", "babble")  # mixed in at a signal-to-noise ratio
CHANNELS = ("reverb", "opus", "telephone")       # the recording's path: room, codec, band
EVALUATION_SEED = 20_251_206  # the seeds of the noise a model is scored under ...
TRAINING_SEED = 7_001         # ... and of the noise it is trained with: never the same draws
BABBLE_TALKERS = 6            # voices in a babble (evaluation); a crowd rather than one intelligible talker
OPUS_BITRATE = "24k"          # a browser's MediaRecorder default for voice is 24-32 kbit/s Opus in WebM
TELEPHONE_RATE = 8_000        # narrowband telephony: 8 kHz, 300-3400 Hz, G.711 mu-law
REVERB_RT60_SECONDS = (0.3, 0.9)  # living rooms to a bare office; drawn per clip


@dataclass(frozen=True)
class Degradation:
    """One degradation of a clip. `kind` is a noise (NOISES, at `snr_db`) or a channel (CHANNELS); `then`
    applies after it (noise in a room, say). `sources`: the recordings a babble mixes."""

    kind: str
    snr_db: float | None = None
    seed: int = 0
    sources: tuple[str, ...] = ()
    bitrate: str = OPUS_BITRATE
    then: Degradation | None = field(default=None)

    @property
    def key(self) -> str:
        """A short stable text naming exactly this degradation (for cache keys and logs)."""
        text = self.kind + (f"@{self.snr_db:g}dB" if self.snr_db is not None else "")
        text += f"#{self.seed}" + (f":{self.bitrate}" if self.kind == "opus" else "")
        if self.sources:
            text += ":" + hashlib.sha1("|".join(self.sources).encode()).hexdigest()[:10]
        return text + (f"+{self.then.key}" if self.then else "")


def clip_rng(base_seed: int, *names: str) -> np.random.Generator:
    """A generator seeded by a base seed and some names (a clip's, a condition's): the same draws for the
    same clip every run, different draws for every clip and condition."""
    return np.random.default_rng([base_seed, *(zlib.crc32(name.encode()) for name in names)])


# -- noises --------------------------------------------------------------------------------------------
def white_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(n)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Power falling as 1/f, like a fan, rain or traffic: white noise shaped in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    scale = np.arange(spectrum.size, dtype=np.float64)
    scale[0] = 1.0
    return np.fft.irfft(spectrum / np.sqrt(scale), n)


def brown_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Power falling as 1/f^2 (a random walk, its drift removed): rumble, wind on a microphone."""
    walk = np.cumsum(rng.standard_normal(n))
    return walk - np.linspace(walk[0], walk[-1], n)


def babble_noise(n: int, rng: np.random.Generator, sources: list[np.ndarray]) -> np.ndarray:
    """Several voices at once: a random stretch of each source recording (looped if short), each at the same
    level, summed."""
    mixed = np.zeros(n)
    for source in sources:
        source = np.asarray(source, np.float64)
        if source.size == 0:
            continue
        looped = np.tile(source, int(np.ceil((n + source.size) / source.size)))
        start = int(rng.integers(0, source.size))
        stretch = looped[start:start + n]
        mixed += stretch / (np.sqrt(np.mean(stretch ** 2)) + 1e-9)
    return mixed


def active_power(waveform: np.ndarray, sample_rate: int) -> float:
    """Mean power of the 20 ms frames within 30 dB of the loudest: the speech's level, not its pauses' (a
    RAVDESS take is one third silence), as a speech level meter reads it."""
    frame = max(1, int(0.02 * sample_rate))
    n = waveform.size // frame * frame
    if n == 0:
        return float(np.mean(np.square(waveform, dtype=np.float64))) if waveform.size else 0.0
    powers = np.mean(np.square(waveform[:n].reshape(-1, frame), dtype=np.float64), axis=1)
    return float(powers[powers >= powers.max() * 1e-3].mean())


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float, sample_rate: int) -> np.ndarray:
    """`speech` with `noise` (same length) added so that the speech's active level is `snr_db` above the
    noise's mean level; clipped to [-1, 1] as a recorder would."""
    speech = np.asarray(speech, np.float64)
    noise = np.asarray(noise, np.float64) - np.mean(noise)
    gain = np.sqrt(active_power(speech, sample_rate) / (np.mean(noise ** 2) + 1e-20) / 10 ** (snr_db / 10))
    return np.clip(speech + gain * noise, -1.0, 1.0).astype(np.float32)


# -- channels ------------------------------------------------------------------------------------------
def room_response(rt60: float, sample_rate: int, rng: np.random.Generator, direct_to_reverberant_db: float = 3.0):
    """A synthetic room impulse response: the direct sound, then a tail of Gaussian noise decaying by 60 dB in
    `rt60` seconds (Polack's statistical model), its energy `direct_to_reverberant_db` below the direct sound."""
    n = int(rt60 * sample_rate)
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)  # ln(1000) = 6.9078: -60 dB at rt60
    tail[:int(0.0025 * sample_rate)] = 0.0  # the first reflections arrive after the direct sound
    tail *= np.sqrt(10 ** (-direct_to_reverberant_db / 10) / (np.sum(tail ** 2) + 1e-20))
    tail[0] = 1.0
    return tail


def reverberate(waveform: np.ndarray, response: np.ndarray) -> np.ndarray:
    """The waveform played in the room of `response`, at its original active level, cut to its length."""
    from scipy.signal import fftconvolve

    wet = fftconvolve(np.asarray(waveform, np.float64), response)[:waveform.size]
    wet *= np.sqrt(np.mean(np.square(waveform, dtype=np.float64)) / (np.mean(wet ** 2) + 1e-20))
    return np.clip(wet, -1.0, 1.0).astype(np.float32)


def _ffmpeg() -> str:
    from moviepy.config import FFMPEG_BINARY

    return FFMPEG_BINARY


def opus_round_trip(waveform: np.ndarray, sample_rate: int, bitrate: str = OPUS_BITRATE) -> np.ndarray:
    """The waveform encoded as a browser records it (Opus in WebM, at `bitrate`) and decoded again, through
    ffmpeg's pipes (no file is written). Same length and rate as the input."""
    raw = np.asarray(waveform, np.float32).tobytes()
    pcm = ["-f", "f32le", "-ar", str(sample_rate), "-ac", "1"]
    encoded = subprocess.run([_ffmpeg(), "-nostdin", "-v", "error", *pcm, "-i", "pipe:0", "-c:a", "libopus",
                              "-b:a", bitrate, "-f", "webm", "pipe:1"], input=raw, capture_output=True, check=True)
    decoded = subprocess.run([_ffmpeg(), "-nostdin", "-v", "error", "-i", "pipe:0", *pcm, "pipe:1"],
                             input=encoded.stdout, capture_output=True, check=True)
    out = np.frombuffer(decoded.stdout, np.float32)
    return fit_length(out, waveform.size)


def telephone_band(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    """The waveform as a landline carries it: 8 kHz, band-passed to 300-3400 Hz, G.711 mu-law (8 bits), and
    back to `sample_rate` (the band above 4 kHz is gone)."""
    import soxr
    from scipy.signal import butter, sosfilt

    narrow = soxr.resample(np.asarray(waveform, np.float32), sample_rate, TELEPHONE_RATE)
    narrow = sosfilt(butter(4, (300, 3400), "bandpass", fs=TELEPHONE_RATE, output="sos"), narrow)
    mu = 255.0
    companded = np.sign(narrow) * np.log1p(mu * np.minimum(np.abs(narrow), 1.0)) / np.log1p(mu)
    quantised = np.round(companded * 127) / 127
    expanded = np.sign(quantised) * ((1 + mu) ** np.abs(quantised) - 1) / mu
    return fit_length(soxr.resample(expanded.astype(np.float32), TELEPHONE_RATE, sample_rate), waveform.size)


def fit_length(waveform: np.ndarray, n: int) -> np.ndarray:
    """`waveform` cut or zero-padded to n samples (codecs add or drop a few at the ends)."""
    out = np.zeros(n, np.float32)
    out[:min(n, waveform.size)] = waveform[:n]
    return out


# -- one degradation, by name ------------------------------------------------------------------------------
def noise_of(kind: str, n: int, rng: np.random.Generator, sources: list[np.ndarray] | None = None) -> np.ndarray:
    """n samples of one of NOISES (babble needs its source recordings)."""
    if kind == "babble":
        if not sources:
            raise ValueError("babble needs source recordings")
        return babble_noise(n, rng, sources)
    return {"white": white_noise, "pink": pink_noise, "brown": brown_noise}[kind](n, rng)


def degrade(waveform: np.ndarray, sample_rate: int, degradation: Degradation | None, load_source=None) -> np.ndarray:
    """The waveform through `degradation` (None: unchanged). `load_source(path) -> waveform at sample_rate`
    reads a babble's sources."""
    if degradation is None:
        return waveform
    rng = np.random.default_rng(degradation.seed)
    if degradation.kind in NOISES:
        sources = [load_source(path) for path in degradation.sources] if degradation.kind == "babble" else None
        out = mix_at_snr(waveform, noise_of(degradation.kind, waveform.size, rng, sources), degradation.snr_db,
                         sample_rate)
    elif degradation.kind == "reverb":
        out = reverberate(waveform, room_response(rng.uniform(*REVERB_RT60_SECONDS), sample_rate, rng))
    elif degradation.kind == "opus":
        out = opus_round_trip(waveform, sample_rate, degradation.bitrate)
    elif degradation.kind == "telephone":
        out = telephone_band(waveform, sample_rate)
    else:
        raise ValueError(f"unknown degradation {degradation.kind!r}")
    return degrade(out, sample_rate, degradation.then, load_source)


# -- the evaluation's conditions and the training's augmentations -------------------------------------------
SNRS_DB = (20, 10, 5)
EVALUATION_CONDITIONS: tuple[str, ...] = (
    "clean", *(f"{noise}@{snr}dB" for noise in ("white", "pink", "babble") for snr in SNRS_DB),
    "reverb", "opus", "telephone")


def evaluation_degradation(condition: str, clip_name: str, babble_pool: list[str]) -> Degradation | None:
    """The degradation of one clip under one of EVALUATION_CONDITIONS, drawn with the evaluation's seeds:
    its babble mixes BABBLE_TALKERS recordings drawn from `babble_pool` (other people than the clip's)."""
    if condition == "clean":
        return None
    rng = clip_rng(EVALUATION_SEED, condition, clip_name)
    seed = int(rng.integers(2 ** 31))
    kind, _, snr = condition.partition("@")
    if kind in NOISES:
        sources = (tuple(sorted(rng.choice(babble_pool, BABBLE_TALKERS, replace=False)))
                   if kind == "babble" else ())
        return Degradation(kind, float(snr.removesuffix("dB")), seed, sources)
    return Degradation(kind, seed=seed)


def training_degradation(clip_name: str, copy: int, own_recordings: list[str],
                         snr_range_db: tuple[float, float] = (0.0, 25.0)) -> Degradation:
    """A random degradation for the `copy`-th augmented copy of a training clip, drawn with the training's
    seeds: a noise (white, pink, brown, or a babble of `own_recordings`: the same speaker's other takes, so
    that no other person's voice, held out in some fold, is heard) at an SNR in `snr_range_db`, or a channel,
    or a noise in a room or through a codec."""
    rng = clip_rng(TRAINING_SEED, str(copy), clip_name)

    def noise() -> Degradation:
        kinds = [k for k in NOISES if k != "babble" or len(own_recordings) >= 3]
        kind = str(rng.choice(kinds))
        sources = (tuple(sorted(rng.choice(own_recordings, min(4, len(own_recordings)), replace=False)))
                   if kind == "babble" else ())
        return Degradation(kind, round(float(rng.uniform(*snr_range_db)), 1), int(rng.integers(2 ** 31)), sources)

    def channel(kind: str | None = None) -> Degradation:
        kind = kind or str(rng.choice(CHANNELS))
        bitrate = f"{int(rng.choice([16, 24, 32]))}k" if kind == "opus" else OPUS_BITRATE
        return Degradation(kind, seed=int(rng.integers(2 ** 31)), bitrate=bitrate)

    draw = rng.uniform()
    if draw < 0.5:
        return noise()
    if draw < 0.7:
        return channel()
    first = noise()
    return Degradation(first.kind, first.snr_db, first.seed, first.sources, then=channel())


def recording_name(path: str | Path) -> str:
    return Path(path).stem
