"""openSMILE features of an utterance: its functionals, one vector of paralinguistic statistics (the
input of the audio model's functionals expert, avemo.audio.networks.build_functionals_head), and the
low-level descriptors they summarise, one row every 10 ms (the input of its descriptor expert,
avemo.audio.networks.build_descriptors_model).

`functionals` and `descriptors` are pure functions of a waveform (the training side's disk cache of them is
avemo.audio.extraction).
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from avemo.audio.features import loudest_dbfs, window_starts
from avemo.config import AUDIO_FEATURES, DESCRIPTORS, FUNCTIONALS, DescriptorsConfig, FunctionalsConfig

# A window row of this value in every descriptor is padding (a real 10 ms frame always has some
# non-zero descriptor: loudness, spectral shape and MFCCs are never all exactly zero together).
DESCRIPTOR_PAD = 0.0


@functools.lru_cache(maxsize=4)
def extractor(feature_set: str, level: str = "Functionals"):
    """The openSMILE extractor of a feature set at one level ("Functionals" or "LowLevelDescriptors"),
    made once (about 2 s: imports and config parsing) and shared: each call of it runs its own
    openSMILE instance, so threads may use it at once."""
    import opensmile

    return opensmile.Smile(feature_set=opensmile.FeatureSet[feature_set],
                           feature_level=opensmile.FeatureLevel[level])


def level_normalised(speech: np.ndarray, sample_rate: int, level_dbfs: float) -> np.ndarray:
    """`speech` scaled so that its loudest 50 ms sit at `level_dbfs` (and clipped to 16-bit range:
    openSMILE reads 16-bit samples, which would wrap around rather than clip)."""
    gain = 10 ** ((level_dbfs - loudest_dbfs(speech, sample_rate)) / 20)
    return np.clip(speech * gain, -1.0, 32767 / 32768).astype(np.float32)


def functionals(speech: np.ndarray, cfg: FunctionalsConfig = FUNCTIONALS,
                sample_rate: int = AUDIO_FEATURES.sample_rate) -> np.ndarray:
    """The functionals of already trimmed speech: float32 array (n_features,)."""
    values = extractor(cfg.feature_set).process_signal(
        level_normalised(speech, sample_rate, cfg.level_dbfs), sample_rate).to_numpy()[0]
    # A descriptor openSMILE cannot measure on a clip comes out NaN; it becomes 0 here, for the
    # training clips and at inference alike, so the model has seen what it will be given.
    return np.nan_to_num(values.astype(np.float32))


def descriptors(speech: np.ndarray, cfg: FunctionalsConfig = FUNCTIONALS,
                sample_rate: int = AUDIO_FEATURES.sample_rate) -> np.ndarray:
    """The low-level descriptors of already trimmed speech, at the functionals' level: float32 array
    (n_rows, 65), one row every 10 ms."""
    values = extractor(cfg.feature_set, "LowLevelDescriptors").process_signal(
        level_normalised(speech, sample_rate, cfg.level_dbfs), sample_rate).to_numpy()
    return np.nan_to_num(values.astype(np.float32))


DESCRIPTOR_ROWS_PER_SECOND = 100  # openSMILE's low-level descriptors: one row every 10 ms


def descriptor_rows_of(rows: np.ndarray, start: float, end: float) -> np.ndarray:
    """The descriptor rows of the stretch [start, end) seconds of the speech they were computed on."""
    first = min(int(start * DESCRIPTOR_ROWS_PER_SECOND), max(len(rows) - 1, 0))
    return rows[first:max(first + 1, int(round(end * DESCRIPTOR_ROWS_PER_SECOND)))]


def descriptor_windows(rows: np.ndarray, cfg: DescriptorsConfig = DESCRIPTORS) -> np.ndarray:
    """(n_windows, window_frames, n_descriptors): windows over a clip's descriptor rows, the last one
    ending at the clip's end; a clip shorter than a window is one window padded at its end."""
    return np.stack([pad_rows(rows[start:start + cfg.window_frames], cfg.window_frames)
                     for start in window_starts(len(rows), cfg)])


def pad_rows(rows: np.ndarray, size: int) -> np.ndarray:
    """`rows` followed by DESCRIPTOR_PAD rows up to `size` rows."""
    out = np.full((size, rows.shape[1]), DESCRIPTOR_PAD, dtype=np.float32)
    out[:len(rows)] = rows
    return out
