"""Media I/O at the edge: checking an input file, probing it, and decoding its audio track.

Everything here turns a path into arrays or into a `MediaError` whose message is fit to show
a user as it is ("no audio track", "not a media file", ...). Nothing below this module needs
to know about files.
"""
from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemo.config import MAX_ANALYSIS_SECONDS, MAX_UPLOAD_BYTES, MEDIA_EXTENSIONS

log = logging.getLogger(__name__)


class MediaError(ValueError):
    """An input that avemo cannot analyse. The message is one clear line for the user."""


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    duration: float           # seconds, as the container reports it (0 if unknown)
    has_audio: bool
    has_video: bool
    streamed: bool = False                 # header without a duration (a browser recording)


def check_input_file(path: str | os.PathLike, max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """Refuse paths that cannot be media before any decoder sees them."""
    path = Path(path)
    if not path.exists():
        raise MediaError(f"file not found: {path}")
    if path.is_dir():
        raise MediaError(f"{path} is a folder, not a media file")
    if not os.access(path, os.R_OK):
        raise MediaError(f"cannot read {path}: permission denied")
    size = path.stat().st_size
    if size == 0:
        raise MediaError("the file is empty")
    if size > max_bytes:
        raise MediaError(
            f"the file is {size / 2**20:.0f} MB; the limit is {max_bytes / 2**20:.0f} MB"
        )
    return path


def probe(path: str | os.PathLike) -> MediaInfo:
    """What a media file holds, read by ffmpeg (through moviepy), decoding only if it must."""
    path = check_input_file(path)
    try:
        info, streamed = _parse_infos(path)
    except (OSError, IndexError, KeyError, ValueError, AttributeError) as error:
        log.debug("ffmpeg could not parse %s: %s", path, error)
        raise MediaError("not a readable audio or video file (corrupt, truncated or unsupported)") from None
    has_video = bool(info.get("video_found"))
    has_audio = bool(info.get("audio_found"))
    if not has_video and not has_audio:
        raise MediaError("the file holds neither audio nor video")
    return MediaInfo(
        path=path,
        duration=float(info.get("duration") or 0.0),
        has_audio=has_audio,
        has_video=has_video,
        streamed=streamed,
    )


def _parse_infos(path: Path) -> tuple[dict, bool]:
    """ffmpeg's description of a file, and whether it had to be decoded to find its duration."""
    from moviepy.video.io.ffmpeg_reader import ffmpeg_parse_infos

    try:
        return ffmpeg_parse_infos(str(path)), False
    except OSError:
        pass
    # A browser's webcam recording (MediaRecorder WebM) is written as a stream: its header has no
    # duration, and moviepy cannot parse it. Decoding the file once finds it (bounded by the upload
    # size limit); a file that is not media fails here as well.
    try:
        return ffmpeg_parse_infos(str(path), decode_file=True), True
    except OSError:
        pass
    # A recording cut short (its last cluster incomplete) can defeat that parse too; a stream copy
    # keeps what is whole. Still nothing readable: an OSError, which probe reports.
    with stream_copy(path) as copy:
        return ffmpeg_parse_infos(str(copy)), True


@contextlib.contextmanager
def stream_copy(path: Path) -> Iterator[Path]:
    """A copy of a media file with a complete header, written by ffmpeg without re-encoding
    (milliseconds) into a temporary folder that is deleted afterwards. OSError if ffmpeg fails."""
    import shutil
    import subprocess
    import tempfile

    from moviepy.config import FFMPEG_BINARY

    folder = Path(tempfile.mkdtemp(prefix="avemo-remux-"))
    copy = folder / f"recording{path.suffix}"
    try:
        done = subprocess.run([FFMPEG_BINARY, "-nostdin", "-y", "-v", "error", "-i", str(path), "-c", "copy",
                               str(copy)], capture_output=True, timeout=120)
        if done.returncode != 0 or not copy.exists():
            raise OSError(f"ffmpeg could not copy {path.name}")
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def complete_header(path: Path, info: MediaInfo) -> Iterator[Path]:
    """The path to analyse: the file itself, or, for a streamed recording (no duration in its
    header, so neither moviepy nor OpenCV can seek in it), a stream copy with a complete header."""
    if not info.streamed:
        yield path
        return
    with stream_copy(path) as copy:
        yield copy


def load_audio(
    path: str | os.PathLike,
    sample_rate: int,
    max_seconds: float = MAX_ANALYSIS_SECONDS,
) -> tuple[np.ndarray, bool]:
    """Decode up to `max_seconds` of a file's audio track as mono float32 at `sample_rate`.

    Returns (waveform, truncated). Plain audio files go through libsndfile (fast, exact);
    anything else (mp4, webm, m4a, ...) through moviepy's ffmpeg binary, which also extracts the
    audio track of a video. Memory is bounded by `max_seconds`, whatever the file's length.
    """
    path = check_input_file(path)
    try:
        return _load_with_soundfile(path, sample_rate, max_seconds)
    except _NotForSoundfile:
        pass
    info = probe(path)
    if not info.has_audio:
        raise MediaError("the file has no audio track")
    # Decoded by ffmpeg itself: moviepy's AudioFileClip returned a constant for the audio of some mp4s (an
    # H.264 + AAC clip at 10 fps came back as 2.5 s of one sample value), and cannot open a streamed container.
    return _load_with_ffmpeg(path, sample_rate, max_seconds, info.duration)


class _NotForSoundfile(Exception):
    pass


def _load_with_soundfile(path: Path, sample_rate: int, max_seconds: float):
    import soundfile as sf

    try:
        info = sf.info(str(path))
        limit = int(max_seconds * info.samplerate)
        data, rate = sf.read(str(path), frames=limit, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        raise _NotForSoundfile from None
    truncated = info.frames > limit
    return to_mono_at_rate(data, rate, sample_rate), truncated


def _load_with_ffmpeg(path: Path, sample_rate: int, max_seconds: float, duration: float):
    """The audio track decoded by moviepy's ffmpeg binary, mono float32 at `sample_rate`."""
    import subprocess

    from moviepy.config import FFMPEG_BINARY

    command = [FFMPEG_BINARY, "-nostdin", "-v", "error", "-i", str(path), "-t", str(max_seconds),
               "-vn", "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-"]
    done = subprocess.run(command, capture_output=True, timeout=120)
    data = np.frombuffer(done.stdout, dtype=np.float32)
    if done.returncode != 0 or data.size == 0:
        raise MediaError("could not decode the audio track (corrupt or unsupported)")
    return data.copy(), duration > max_seconds


def to_mono_at_rate(samples: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
    """Sound already in memory as the models read it: mono float32 at `sample_rate`. `samples` is (n,) or
    (n, channels) at `rate`, float in [-1, 1] or signed integer PCM (a browser microphone's int16)."""
    data = np.asarray(samples)
    if data.ndim not in (1, 2) or data.dtype.kind not in "fi":  # float, or signed integer PCM
        raise MediaError(f"not a waveform: samples of shape {data.shape} and type {data.dtype}")
    if data.dtype.kind == "i":  # full scale is -min: 32768 for int16
        data = data.astype(np.float32) / -np.iinfo(data.dtype).min
    mono = (data if data.ndim == 1 else data.mean(axis=1)).astype(np.float32)
    if rate != sample_rate:
        import soxr

        mono = soxr.resample(mono, rate, sample_rate).astype(np.float32)
    return mono


def is_media_path(path: Path) -> bool:
    return path.suffix.lower() in MEDIA_EXTENSIONS


def expand_inputs(paths: list[str | os.PathLike]) -> list[Path]:
    """Files as given, and media files found recursively in given folders (sorted).

    A folder without media is returned as itself, so that the caller reports it as an error.
    """
    expanded: list[Path] = []
    for item in paths:
        item = Path(item)
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.is_file() and is_media_path(p))
            expanded.extend(found or [item])
        else:
            expanded.append(item)
    return expanded
