"""Audio features: waveform -> trimmed speech -> log-mel (or MFCC) frames -> fixed windows.

Pure functions on arrays, parameterised by one `AudioFeatureConfig` (avemo.config), so that
training, inference and tests compute exactly the same thing. The training side's disk cache of them
is avemo.audio.extraction.
"""
from __future__ import annotations


import numpy as np

from avemo.config import (AUDIO_FEATURES, MAX_UTTERANCE_SECONDS, MIN_SPEECH_SECONDS, PAUSE_SECONDS, SILENCE_RMS_DBFS,
                          TIMELINE_HOP_SECONDS, TIMELINE_MAX_WINDOWS, TIMELINE_WINDOW_SECONDS, AudioFeatureConfig)
from avemo.media import MediaError

FLOOR_DB = -80.0  # log-mel values are dB below the clip's peak, clipped here


def loudest_dbfs(waveform: np.ndarray, sample_rate: int) -> float:
    """RMS level (dBFS) of the loudest 50 ms of a waveform; -inf for an empty one."""
    block = max(1, int(0.05 * sample_rate))
    if waveform.size == 0:
        return float("-inf")
    n = int(np.ceil(waveform.size / block)) * block
    padded = np.zeros(n, dtype=np.float32)
    padded[: waveform.size] = waveform
    rms = np.sqrt(np.mean(padded.reshape(-1, block) ** 2, axis=1))
    return float(20 * np.log10(max(rms.max(), 1e-10)))


def trim_silence(waveform: np.ndarray, cfg: AudioFeatureConfig = AUDIO_FEATURES) -> tuple[np.ndarray, float]:
    """Cut leading and trailing silence. Returns (speech, start offset in seconds)."""
    import librosa

    if waveform.size == 0:
        return waveform, 0.0
    _, (start, end) = librosa.effects.trim(
        waveform, top_db=cfg.trim_top_db, frame_length=cfg.n_fft, hop_length=cfg.hop_length
    )
    return waveform[start:end], start / cfg.sample_rate


def speech_stretch(waveform: np.ndarray, segments: list, cfg: AudioFeatureConfig = AUDIO_FEATURES) -> tuple[np.ndarray, float]:
    """What the voice experts read of a clip, and where it starts (seconds): with cfg.trim "speech detector"
    and the detector's `segments` ([(start, end)] seconds, in order), the stretch from the first segment's start
    to the last one's end, widened by cfg.speech_margin_seconds; else the energy trim (`trim_silence`)."""
    if cfg.trim != "speech detector" or not segments:
        return trim_silence(waveform, cfg)
    margin, rate = cfg.speech_margin_seconds, cfg.sample_rate
    start = max(0, int((segments[0][0] - margin) * rate))
    end = min(waveform.size, int(np.ceil((segments[-1][1] + margin) * rate)))
    return waveform[start:end], start / rate


def check_speech(waveform: np.ndarray, cfg: AudioFeatureConfig = AUDIO_FEATURES) -> None:
    """Refuse silence and clips too short to carry an emotion, with a message for the user."""
    if loudest_dbfs(waveform, cfg.sample_rate) < SILENCE_RMS_DBFS:
        raise MediaError("the audio is silent: no speech to analyse")
    seconds = waveform.size / cfg.sample_rate
    if seconds < MIN_SPEECH_SECONDS:
        raise MediaError(
            f"only {seconds:.2f} s of sound; at least {MIN_SPEECH_SECONDS:.1f} s of speech is needed"
        )


def spectral_frames(waveform: np.ndarray, cfg: AudioFeatureConfig = AUDIO_FEATURES) -> np.ndarray:
    """Log-mel (or MFCC) frames of a waveform: float32 array (n_frames, n_bins).

    Log-mel values are dB relative to the clip's own peak (so the input level does not matter),
    floored at FLOOR_DB and scaled to about [-1, 1]. MFCCs are scaled to comparable magnitude.
    """
    import librosa

    mel = librosa.feature.melspectrogram(
        y=waveform, sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
        n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax, power=2.0,
    )
    log_mel = librosa.power_to_db(mel, ref=np.max, top_db=-FLOOR_DB)
    if cfg.kind == "mfcc":
        features = librosa.feature.mfcc(S=log_mel, n_mfcc=cfg.n_mfcc) / 100.0
    else:
        features = log_mel / (-FLOOR_DB / 2) + 1.0  # [-80, 0] dB -> [-1, 1]
    return features.T.astype(np.float32)


def pad_value(cfg: AudioFeatureConfig = AUDIO_FEATURES) -> float:
    """The feature value of silence, used to pad short clips."""
    return -1.0 if cfg.kind == "logmel" else 0.0


def window_starts(n_frames: int, cfg: AudioFeatureConfig = AUDIO_FEATURES) -> list[int]:
    """Start frames of the analysis windows covering `n_frames` frames (at least one window)."""
    size, hop = cfg.window_frames, cfg.window_hop_frames
    if n_frames <= size:
        return [0]
    starts = list(range(0, n_frames - size + 1, hop))
    if starts[-1] + size < n_frames:  # cover the tail too
        starts.append(n_frames - size)
    return starts


def fit_window(frames: np.ndarray, start: int, cfg: AudioFeatureConfig = AUDIO_FEATURES) -> np.ndarray:
    """One window of exactly cfg.window_frames frames from `start`, centre-padded if short."""
    size = cfg.window_frames
    chunk = frames[start : start + size]
    if len(chunk) == size:
        return chunk
    out = np.full((size, frames.shape[1]), pad_value(cfg), dtype=np.float32)
    offset = (size - len(chunk)) // 2
    out[offset : offset + len(chunk)] = chunk
    return out


def timeline_window_frames(cfg: AudioFeatureConfig = AUDIO_FEATURES) -> int:
    return min(cfg.window_frames, round(TIMELINE_WINDOW_SECONDS * cfg.sample_rate / cfg.hop_length))


def timeline_starts(n_frames: int, cfg: AudioFeatureConfig = AUDIO_FEATURES) -> list[int]:
    """Start frames of the timeline's windows (timeline_window_frames long): about TIMELINE_HOP_SECONDS apart
    (at most TIMELINE_MAX_WINDOWS), the last one ending at the clip's end, and never two within half a hop
    of each other (a clip a frame longer than a window gets one window, not two nearly identical ones)."""
    size = timeline_window_frames(cfg)
    if n_frames <= size:
        return [0]
    seconds_per_frame = cfg.hop_length / cfg.sample_rate
    hop = max(1, round(TIMELINE_HOP_SECONDS / seconds_per_frame), -(-(n_frames - size) // (TIMELINE_MAX_WINDOWS - 1)))
    starts = list(range(0, n_frames - size + 1, hop))
    tail = n_frames - size
    if tail - starts[-1] >= hop / 2:
        starts.append(tail)
    else:
        starts[-1] = tail  # (still at least a hop after the one before)
    return starts


def timeline_spans(n_frames: int, cfg: AudioFeatureConfig = AUDIO_FEATURES,
                   voiced: list[tuple[float, float]] | None = None) -> list[tuple[float, float]]:
    """The timeline windows of a clip of `n_frames` frames, as (start, end) seconds. With `voiced` (the speech
    detector's segments, in seconds of the clip) the windows lie on speech only: laid across each stretch of
    segments closer than PAUSE_SECONDS, never across a pause."""
    seconds_per_frame, size = cfg.hop_length / cfg.sample_rate, timeline_window_frames(cfg)

    def across(first: int, last: int) -> list[tuple[float, float]]:
        return [((first + s) * seconds_per_frame, min(last, first + s + size) * seconds_per_frame)
                for s in timeline_starts(last - first, cfg)]

    if not voiced:
        return across(0, n_frames)
    stretches = []
    for start, end in sorted(voiced):
        if stretches and start - stretches[-1][1] < PAUSE_SECONDS:
            stretches[-1][1] = max(stretches[-1][1], end)
        else:
            stretches.append([start, end])
    frame = lambda t: int(np.clip(round(t / seconds_per_frame), 0, n_frames))  # noqa: E731
    spans = [span for start, end in stretches if frame(end) > frame(start) for span in across(frame(start), frame(end))]
    return spans or across(0, n_frames)


def utterance_spans(speech: np.ndarray, cfg: AudioFeatureConfig = AUDIO_FEATURES,
                    voiced: list[tuple[float, float]] | None = None) -> list[tuple[float, float]]:
    """The utterances of trimmed speech, as (start, end) seconds: stretches of `voiced` speech (the speech
    detector's segments, in seconds of `speech`) or, without them, of sound, between pauses of PAUSE_SECONDS
    or more; one over MAX_UTTERANCE_SECONDS is cut into equal parts, one under MIN_SPEECH_SECONDS joins the
    utterance before it (or after it, for the first)."""
    import librosa

    rate = cfg.sample_rate
    if voiced:
        sounding = np.asarray(voiced, dtype=float)
    else:
        sounding = librosa.effects.split(speech, top_db=cfg.trim_top_db, frame_length=cfg.n_fft,
                                         hop_length=cfg.hop_length) / rate
    merged: list[list[float]] = []
    for start, end in sounding:
        if merged and start - merged[-1][1] < PAUSE_SECONDS:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    joined: list[list[float]] = []
    for start, end in merged:
        if joined and (end - start < MIN_SPEECH_SECONDS or joined[-1][1] - joined[-1][0] < MIN_SPEECH_SECONDS):
            joined[-1][1] = end
        else:
            joined.append([start, end])
    if voiced and cfg.trim == "speech detector":
        # Each utterance read as a clip of its own is (speech_stretch): the detector's span, widened by the margin
        # (never into the utterance beside it).
        margin, total = cfg.speech_margin_seconds, speech.size / rate
        joined = [[max(start - margin, joined[i - 1][1] if i else 0.0),
                   min(end + margin, joined[i + 1][0] if i + 1 < len(joined) else total)]
                  for i, (start, end) in enumerate(joined)]
    spans = []
    for start, end in joined:
        parts = int(np.ceil((end - start) / MAX_UTTERANCE_SECONDS))
        edges = np.linspace(start, end, parts + 1)
        spans += [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])]
    return spans or [(0.0, speech.size / rate)]


def windows(frames: np.ndarray, cfg: AudioFeatureConfig = AUDIO_FEATURES, starts: list[int] | None = None,
            length: int | None = None) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Windows of `length` frames (default: the model's window_frames) over a clip's frames from `starts`
    (default: `window_starts`, the frame experts' windows), each centre-padded to window_frames:
    (n_windows, window_frames, n_bins), and their spans in s."""
    seconds_per_frame = cfg.hop_length / cfg.sample_rate
    starts = window_starts(len(frames), cfg) if starts is None else starts
    length = length or cfg.window_frames
    batch = np.stack([fit_window(frames[s:s + length], 0, cfg) for s in starts])
    spans = [(s * seconds_per_frame, min(len(frames), s + length) * seconds_per_frame) for s in starts]
    return batch, spans


def change_speed(waveform: np.ndarray, speed: float, sample_rate: int) -> np.ndarray:
    """Play a waveform `speed` times faster (tempo and pitch together, as in Kaldi's speed perturbation)."""
    import soxr

    if speed == 1.0:
        return waveform
    return soxr.resample(waveform, sample_rate, int(round(sample_rate / speed))).astype(np.float32)
