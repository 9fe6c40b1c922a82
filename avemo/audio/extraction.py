"""The training side's features: every voice expert's input for every variant of every corpus clip, cached.

A *variant* of a clip is the clip through a degradation (avemo.audio.degradations: noise, a room, a codec; none
for the clip as recorded) and at a speed (0.9x / 1.1x speed perturbation). Its speech is read as the product
reads a clip: decoded, degraded, trimmed to the speech detector's span (`speech_stretch`), then sped up. Each
expert's input is computed from that speech by the same function inference uses (spectral frames,
openSMILE's functionals and descriptors, each Whisper encoder's pooled states).

Every (clip, variant, expert) is cached on disk under `cache_dir()`, keyed by the file's content and every
setting that changes the result, so that an interrupted or repeated run computes only what is missing, and a
clip's speech is decoded and degraded once for all the experts it still lacks.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avemo.audio.degradations import Degradation, degrade
from avemo.audio.features import change_speed, spectral_frames, speech_stretch
from avemo.config import (AUDIO_FEATURES, FUNCTIONALS, MIN_SPEECH_SECONDS, SPEECH_ENCODER, WEIGHTS_DIR,
                          AudioFeatureConfig, FunctionalsConfig, SpeechEncoderConfig, cache_dir)
from avemo.media import load_audio

EXPERTS = ("frames", "functionals", "descriptors", "speech")  # the inputs of the audio model's experts
MAX_FILE_SECONDS = 600.0  # corpus clips are seconds long; this only bounds a stray long file


@dataclass(frozen=True)
class Variant:
    """A clip as recorded (the default), or through a degradation, at a speed."""

    speed: float = 1.0
    degradation: Degradation | None = None

    @property
    def settings(self) -> dict:
        # The key of the clip as recorded stays {"speed": s}: caches written before degradations existed still match.
        return {"speed": self.speed, **({"degradation": self.degradation.key} if self.degradation else {})}


AS_RECORDED = Variant()


def speed_variants(speeds: tuple[float, ...]) -> list[Variant]:
    return [Variant(speed) for speed in speeds]


@dataclass(frozen=True)
class FeatureSettings:
    """Everything that decides the experts' inputs: the frame features and trimming, openSMILE's set, the
    speech encoders, and the speech detector whose span is read (None: the energy trim)."""

    audio: AudioFeatureConfig = AUDIO_FEATURES
    functionals: FunctionalsConfig = FUNCTIONALS
    speech: SpeechEncoderConfig = SPEECH_ENCODER
    vad_model: Path | None = field(default_factory=lambda: default_vad_model())

    def trimming(self) -> dict:
        cfg = self.audio
        return {"sample_rate": cfg.sample_rate, "trim_top_db": cfg.trim_top_db, "n_fft": cfg.n_fft,
                "hop_length": cfg.hop_length, "trim": cfg.trim if self.vad_model else "energy",
                "speech_margin_seconds": cfg.speech_margin_seconds, "vad": _file_digest(self.vad_model)}

    def expert_settings(self, part: str) -> dict:
        """The settings one cached part depends on ("frames", "functionals", "descriptors", "speech:<encoder>")."""
        if part == "frames":
            return {**self.audio.to_dict(), **self.trimming()}
        if part in ("functionals", "descriptors"):
            return {**self.functionals.to_dict(), "level": part, **self.trimming()}
        from avemo.audio.speech_encoder import pinned

        name = part.partition(":")[2]
        return {"encoder": f"{name}:{pinned(name).sha256[:16]}", "level_dbfs": self.speech.level_dbfs,
                **self.trimming()}

    def parts(self, expert: str) -> list[str]:
        """The cached parts an expert's input is made of (the speech expert's: one per encoder)."""
        return [f"speech:{name}" for name in self.speech.encoders] if expert == "speech" else [expert]


def default_vad_model() -> Path | None:
    """The speech gate's model as the product bundles it (weights/audio), if it is there."""
    from avemo.audio.voice_activity import VAD_FILE

    path = WEIGHTS_DIR / "audio" / VAD_FILE
    return path if path.is_file() else None


@functools.lru_cache(maxsize=8)
def _file_digest(path: Path | None) -> str | None:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16] if path else None


@functools.lru_cache(maxsize=2048)
def _recording(path: str, sample_rate: int) -> np.ndarray:
    """A whole recording (a babble's source), decoded once per process."""
    return load_audio(path, sample_rate, MAX_FILE_SECONDS)[0]


@dataclass(frozen=True)
class VariantAudio:
    """One variant of a clip: its whole waveform (decoded and degraded), where the speech detector heard
    speech in it, and the speech the experts read (that span, sped up)."""

    waveform: np.ndarray
    segments: list
    speech: np.ndarray


def variant_audio(path: Path, variant: Variant, settings: FeatureSettings) -> VariantAudio:
    """One variant of a clip: decoded, degraded, trimmed to the speech detector's span (the energy trim without
    one, or where it heard under MIN_SPEECH_SECONDS, as check_voice then leaves the clip to its second cue),
    then sped up."""
    from avemo.audio.voice_activity import speech_seconds, speech_segments

    cfg = settings.audio
    waveform = degrade(_recording(str(path), cfg.sample_rate), cfg.sample_rate, variant.degradation,
                       lambda source: _recording(str(source), cfg.sample_rate))
    segments = speech_segments(waveform, cfg.sample_rate, settings.vad_model) if settings.vad_model else []
    speech, _ = speech_stretch(waveform, segments if speech_seconds(segments) >= MIN_SPEECH_SECONDS else [], cfg)
    speech = change_speed(speech if speech.size else waveform, variant.speed, cfg.sample_rate)
    return VariantAudio(waveform, segments, speech)


def part_of(audio: VariantAudio, part: str, settings: FeatureSettings) -> np.ndarray:
    """One cached part of the experts' inputs, from a variant's speech, as inference computes it."""
    rate, speech = settings.audio.sample_rate, audio.speech
    if part == "frames":
        return spectral_frames(speech, settings.audio)
    if part in ("functionals", "descriptors"):
        from avemo.audio import functionals

        return getattr(functionals, part)(speech, settings.functionals, rate)
    from avemo.audio.speech_encoder import speech_representation

    single = SpeechEncoderConfig(**{**settings.speech.to_dict(), "encoder": part.partition(":")[2]})
    return speech_representation(speech, single, rate)


def _content_digest(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def cache_file(content: str, part: str, settings: dict, variant: Variant) -> Path:
    digest = hashlib.sha1(content.encode())
    digest.update(json.dumps({**settings, **variant.settings}, sort_keys=True).encode())
    folder = cache_dir() / "audio-parts" / part.replace(":", "-")
    return folder / f"{digest.hexdigest()}.npy"


def save_array(file: Path, array: np.ndarray) -> None:
    """Write then rename, so a run reading the cache never sees a half-written file."""
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_suffix(f".{os.getpid()}.partial.npy")
    np.save(partial, array)
    os.replace(partial, file)


def extract(paths: list[Path], variants: list[list[Variant]] | list[Variant], experts: tuple[str, ...] = EXPERTS,
            settings: FeatureSettings | None = None, progress: bool = True,
            what: str = "voice features") -> dict[str, list[list[np.ndarray]]]:
    """Every expert's input for every variant of every file: result[expert][i][j] is file i's j-th variant.

    `variants`: one list for all files, or a list per file. The speech expert's input is its encoders' pooled
    states side by side (as avemo.audio.speech_encoder.speech_representation gives them)."""
    settings = settings or FeatureSettings()
    parts = {part: (settings.expert_settings(part), functools.partial(part_of, part=part, settings=settings))
             for expert in experts for part in settings.parts(expert)}
    found = extract_parts(paths, variants, parts, settings, progress, what)
    result = {}
    for expert in experts:
        pieces = [found[part] for part in settings.parts(expert)]
        result[expert] = (pieces[0] if len(pieces) == 1 else
                          [[np.concatenate(arrays) for arrays in zip(*rows)] for rows in zip(*pieces)])
    return result


def extract_parts(paths: list[Path], variants: list[list[Variant]] | list[Variant], parts: dict,
                  settings: FeatureSettings, progress: bool = True, what: str = "voice features") -> dict:
    """{name: [[compute(file i's variant j as a VariantAudio)]]} for parts {name: (the settings it depends on,
    compute)}, each cached on disk; a variant is decoded and degraded once for all the parts it lacks.
    (`extract` reads the experts' inputs through it; a screen may cache other functions of a variant so.)"""
    from tqdm import tqdm

    per_file = variants if variants and isinstance(variants[0], list) else [variants] * len(paths)
    workers = int(os.environ.get("AVEMO_EXTRACT_WORKERS", "1"))
    if workers > 1:
        fill_in_parallel(paths, per_file, parts, settings, workers, progress, what)
    found: dict[str, list[list[np.ndarray]]] = {name: [] for name in parts}
    for path, file_variants in tqdm(list(zip(paths, per_file)), desc=what, unit="clip", disable=not progress,
                                    mininterval=10):
        content = _content_digest(path)
        rows: dict[str, list[np.ndarray]] = {name: [] for name in parts}
        for variant in file_variants:
            audio = None
            for name, (part_settings, compute) in parts.items():
                file = cache_file(content, name, part_settings, variant)
                if file.exists():
                    rows[name].append(np.load(file))
                    continue
                if audio is None:
                    audio = variant_audio(path, variant, settings)
                array = np.asarray(compute(audio), np.float32)
                save_array(file, array)
                rows[name].append(array)
        for name in parts:
            found[name].append(rows[name])
    return found


def fill_in_parallel(paths: list[Path], per_file: list[list[Variant]], parts: dict, settings: FeatureSettings,
                     workers: int, progress: bool, what: str) -> None:
    """Compute the missing cache files in `workers` processes, each on one thread (AVEMO_EXTRACT_WORKERS=2 on a
    2-core machine: the networks' own threading leaves a core half idle on a clip a few seconds long)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    jobs = []
    for path, file_variants in zip(paths, per_file):
        content = _content_digest(path)
        for variant in file_variants:
            missing = {name: spec for name, spec in parts.items() if not cache_file(content, name, spec[0], variant).exists()}
            if missing:
                jobs.append((str(path), content, variant, missing, settings))
    if len(jobs) < 2 * workers:
        return  # not worth starting processes: the caller computes them
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=one_thread) as pool:
        for _ in tqdm(pool.map(fill_cache, jobs, chunksize=2), total=len(jobs), desc=f"{what} ({workers} processes)",
                      unit="variant", disable=not progress, mininterval=10):
            pass


def one_thread() -> None:
    for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = "1"


def fill_cache(job) -> None:
    """One variant's missing parts, computed and saved (a worker of `fill_in_parallel`)."""
    path, content, variant, missing, settings = job
    audio = variant_audio(Path(path), variant, settings)
    for name, (part_settings, compute) in missing.items():
        save_array(cache_file(content, name, part_settings, variant), np.asarray(compute(audio), np.float32))


def stacked(rows: list[list[np.ndarray]]) -> np.ndarray:
    """Fixed-size inputs (functionals, speech) as one array (n_files, n_variants, n_features)."""
    return np.stack([np.stack(variants) for variants in rows])


def gate_part(audio: VariantAudio, settings: FeatureSettings) -> np.ndarray:
    """1.0 where the product would read this variant (loud and long enough, a voice to the speech gate), 0.0
    where it would refuse it."""
    from avemo.audio.features import check_speech, trim_silence
    from avemo.audio.voice_activity import check_voice
    from avemo.media import MediaError

    cfg = settings.audio
    try:
        speech, _ = trim_silence(audio.waveform, cfg)
        check_speech(speech, cfg)
        if settings.vad_model:
            check_voice(audio.waveform, speech, cfg.sample_rate, settings.vad_model)
    except MediaError:
        return np.zeros(1, np.float32)
    return np.ones(1, np.float32)


def gate_decisions(paths: list[Path], variants: list[list[Variant]] | list[Variant],
                   settings: FeatureSettings | None = None, progress: bool = True) -> np.ndarray:
    """Whether the product reads (True) or refuses each variant of each file: (n_files, n_variants) bools."""
    settings = settings or FeatureSettings()
    key = {**settings.trimming(), "gate": _gate_version()}
    found = extract_parts(paths, variants, {"gate": (key, functools.partial(gate_part, settings=settings))},
                          settings, progress, "speech gate")
    return np.array([[bool(v[0]) for v in row] for row in found["gate"]])


def _gate_version() -> str:
    """A digest of the speech gate's code, so that cached decisions are renewed when its rules change."""
    import inspect

    from avemo.audio import voice_activity

    return hashlib.sha1(inspect.getsource(voice_activity).encode()).hexdigest()[:12]
