"""openSMILE features of an utterance: its functionals, one vector of paralinguistic statistics (the
input of the audio model's functionals expert, avemo.audio.networks.build_functionals_head), and the
low-level descriptors they summarise, one row every 10 ms (the input of its descriptor expert,
avemo.audio.networks.build_descriptors_model).

`functionals` and `descriptors` are pure functions of a waveform; `extract_functionals_cached` and
`extract_descriptors_cached` are the training side's disk caches, keyed by file content and every
parameter, like the frame features' cache.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from avemo.audio.features import cache_key, cached_array, change_speed, loudest_dbfs, trim_silence, window_starts
from avemo.config import (AUDIO_FEATURES, DESCRIPTORS, FUNCTIONALS, AudioFeatureConfig, DescriptorsConfig,
                     FunctionalsConfig, cache_dir)
from avemo.media import load_audio

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


def file_speech(path: str | Path, audio_cfg: AudioFeatureConfig = AUDIO_FEATURES, speed: float = 1.0) -> np.ndarray:
    """The trimmed speech of a whole audio file, as at inference, optionally sped up like the frame
    features' speed perturbation (for training)."""
    waveform, _ = load_audio(path, audio_cfg.sample_rate, max_seconds=600.0)
    speech, _ = trim_silence(waveform, audio_cfg)
    return change_speed(speech if speech.size else waveform, speed, audio_cfg.sample_rate)


def file_functionals(path: str | Path, cfg: FunctionalsConfig = FUNCTIONALS,
                     audio_cfg: AudioFeatureConfig = AUDIO_FEATURES, speed: float = 1.0) -> np.ndarray:
    """Functionals of a whole audio file after trimming silence (see `file_speech`)."""
    return functionals(file_speech(path, audio_cfg, speed), cfg, audio_cfg.sample_rate)


def extract_functionals_cached(paths: list[Path], cfg: FunctionalsConfig = FUNCTIONALS,
                               audio_cfg: AudioFeatureConfig = AUDIO_FEATURES, speeds: tuple[float, ...] = (1.0,),
                               progress: bool = True) -> np.ndarray:
    """`file_functionals` of every file at every speed, (n_files, n_speeds, n_features), cached on disk
    with a progress bar."""
    return np.stack(per_file_cached("audio-functionals", f"audio functionals ({cfg.feature_set})", paths, cfg,
                                    audio_cfg, speeds, progress,
                                    lambda path, speed: file_functionals(path, cfg, audio_cfg, speed)))


def extract_descriptors_cached(paths: list[Path], cfg: FunctionalsConfig = FUNCTIONALS,
                               audio_cfg: AudioFeatureConfig = AUDIO_FEATURES, speeds: tuple[float, ...] = (1.0,),
                               progress: bool = True) -> list[list[np.ndarray]]:
    """`descriptors` of every file at every speed (per file, per speed: (n_rows, n_descriptors)),
    cached on disk with a progress bar."""
    return per_file_cached(
        "audio-descriptors", f"audio descriptors ({cfg.feature_set})", paths, cfg, audio_cfg, speeds, progress,
        lambda path, speed: descriptors(file_speech(path, audio_cfg, speed), cfg, audio_cfg.sample_rate))


def per_file_cached(folder_name: str, what: str, paths: list[Path], cfg, audio_cfg: AudioFeatureConfig,
                    speeds: tuple[float, ...], progress: bool, compute) -> list:
    """[[compute(path, speed) for speed in speeds] for path in paths], each cached on disk under
    `folder_name`, keyed by the file's content and every setting of `cfg` (a SavedSettings) and of
    the trimming; `what` names the work on the progress bar."""
    from tqdm import tqdm

    folder = cache_dir() / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    # Trimming depends on the frame parameters too, so they are part of the key.
    settings = {**cfg.to_dict(), "sample_rate": audio_cfg.sample_rate, "trim_top_db": audio_cfg.trim_top_db,
                "n_fft": audio_cfg.n_fft, "hop_length": audio_cfg.hop_length}
    return [
        [cached_array(folder / f"{cache_key(Path(path), {**settings, 'speed': speed})}.npy",
                      lambda: compute(path, speed))
         for speed in speeds]
        for path in tqdm(paths, desc=what, unit="clip", disable=not progress, mininterval=5)
    ]
