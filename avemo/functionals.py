"""openSMILE functionals: one vector of paralinguistic statistics per utterance, the input of the
audio model's third expert (avemo.models.build_functionals_head).

`functionals` is a pure function of a waveform; `extract_functionals_cached` is the training side's
disk cache, keyed by file content and every parameter, like the frame features' cache.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .audio import cache_key, cached_array, change_speed, loudest_dbfs, trim_silence
from .config import AUDIO_FEATURES, FUNCTIONALS, AudioFeatureConfig, FunctionalsConfig, cache_dir
from .media import load_audio


@functools.lru_cache(maxsize=2)
def extractor(feature_set: str):
    """The openSMILE extractor of a feature set, made once (about 2 s: imports and config parsing) and
    shared: each call of it runs its own openSMILE instance, so threads may use it at once."""
    import opensmile

    return opensmile.Smile(feature_set=opensmile.FeatureSet[feature_set],
                           feature_level=opensmile.FeatureLevel.Functionals)


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


def file_functionals(path: str | Path, cfg: FunctionalsConfig = FUNCTIONALS,
                     audio_cfg: AudioFeatureConfig = AUDIO_FEATURES, speed: float = 1.0) -> np.ndarray:
    """Functionals of a whole audio file after trimming silence, as at inference, optionally sped up
    like the frame features' speed perturbation (for training)."""
    waveform, _ = load_audio(path, audio_cfg.sample_rate, max_seconds=600.0)
    speech, _ = trim_silence(waveform, audio_cfg)
    speech = change_speed(speech if speech.size else waveform, speed, audio_cfg.sample_rate)
    return functionals(speech, cfg, audio_cfg.sample_rate)


def extract_functionals_cached(paths: list[Path], cfg: FunctionalsConfig = FUNCTIONALS,
                               audio_cfg: AudioFeatureConfig = AUDIO_FEATURES, speeds: tuple[float, ...] = (1.0,),
                               progress: bool = True) -> np.ndarray:
    """`file_functionals` of every file at every speed, (n_files, n_speeds, n_features), cached on disk
    with a progress bar."""
    from tqdm import tqdm

    folder = cache_dir() / "audio-functionals"
    folder.mkdir(parents=True, exist_ok=True)
    # Trimming depends on the frame parameters too, so they are part of the key.
    settings = {**cfg.to_dict(), "sample_rate": audio_cfg.sample_rate, "trim_top_db": audio_cfg.trim_top_db,
                "n_fft": audio_cfg.n_fft, "hop_length": audio_cfg.hop_length}
    return np.stack([
        [cached_array(folder / f"{cache_key(Path(path), {**settings, 'speed': speed})}.npy",
                      lambda: file_functionals(path, cfg, audio_cfg, speed))
         for speed in speeds]
        for path in tqdm(paths, desc=f"audio functionals ({cfg.feature_set})", unit="clip",
                         disable=not progress, mininterval=5)
    ])
