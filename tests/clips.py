"""Build small real test clips from the shared corpora with ffmpeg (the binary imageio-ffmpeg ships).

A RAVDESS face still plus a real RAVDESS speech clip, muxed into an mp4/webm, stands in for the
labelled video that these machines do not have. Every builder writes into a folder the caller
owns (pytest's tmp_path) and returns the path.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

from avemo.config import data_dir

DATA = data_dir()
HAVE_DATA = (DATA / "ravdess" / "audio").is_dir() and (DATA / "savee" / "audio").is_dir()
SKIP_REASON = f"the shared corpora are not at {DATA} (set AVEMO_DATA)"


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-nostdin", "-y", "-v", "error", *args], check=True)


def ravdess_clip(actor: int = 1, emotion: int = 5, intensity: int = 2, statement: int = 1, repetition: int = 1) -> Path:
    """A RAVDESS speech clip by its name fields (emotion 5 = angry)."""
    return DATA / "ravdess" / "audio" / f"Actor_{actor:02d}" / (
        f"03-01-{emotion:02d}-{intensity:02d}-{statement:02d}-{repetition:02d}-{actor:02d}.flac")


def savee_clip(name: str = "DC_a01") -> Path:
    return DATA / "savee" / "audio" / f"{name}.flac"


def face_still(actor: int = 1) -> Path:
    return DATA / "ravdess" / "faces" / f"Actor_{actor:02d}.png"


def still_video(out: Path, image: Path, audio: Path | None = None, seconds: float | None = None,
                size: tuple[int, int] | None = None, fps: int = 25, rotate: int = 0,
                codec: str = "libx264") -> Path:
    """A video of a still image for `seconds` (default: the audio's length), with `audio` muxed in.

    size scales the picture (w, h); rotate stores a rotation in the container metadata, as a
    phone does for a portrait video; codec "libvpx" with a .webm name gives a webcam-like file.
    """
    args = ["-loop", "1", "-framerate", str(fps), "-i", str(image)]
    if audio is not None:
        args += ["-i", str(audio)]
    if seconds is not None:
        args += ["-t", f"{seconds}"]
    elif audio is not None:
        args += ["-shortest"]
    scale = f"scale={size[0]}:{size[1]}," if size else ""
    args += ["-vf", f"{scale}format=yuv420p,pad=ceil(iw/2)*2:ceil(ih/2)*2"]
    if codec == "libvpx":
        args += ["-c:v", "libvpx", "-b:v", "1M", "-deadline", "realtime", "-cpu-used", "8"]
        if audio is not None:
            args += ["-c:a", "libopus"]
    else:
        args += ["-c:v", codec, "-preset", "ultrafast"]
        if audio is not None:
            args += ["-c:a", "aac", "-b:a", "96k"]
    if rotate:
        args += ["-metadata:s:v:0", f"rotate={rotate}"]
    run_ffmpeg(*args, str(out))
    return out


def tone_or_silence(out: Path, seconds: float, silent: bool = True, rate: int = 16000) -> Path:
    """A WAV of digital silence (or a 220 Hz tone) of the given length."""
    source = "anullsrc=r=%d:cl=mono" % rate if silent else "sine=frequency=220:sample_rate=%d" % rate
    run_ffmpeg("-f", "lavfi", "-i", source, "-t", f"{seconds}", "-ac", "1", str(out))
    return out


def long_audio(out: Path, source: Path, seconds: float) -> Path:
    """`source` looped to `seconds` (for the over-long clip case), as a compressed .ogg to stay small."""
    run_ffmpeg("-stream_loop", "-1", "-i", str(source), "-t", f"{seconds}", "-c:a", "libvorbis", str(out))
    return out


def truncated_copy(out: Path, source: Path, keep: float = 0.4) -> Path:
    data = Path(source).read_bytes()
    out.write_bytes(data[: int(len(data) * keep)])
    return out

