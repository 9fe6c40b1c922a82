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



# -- video-branch builders (faces that move, are missing, rotated, dark, many; big files) ----------
def portrait_video(out: Path, image: Path, seconds: float = 1.0, fps: int = 25) -> Path:
    """A phone-style portrait video: the middle of the still cut to a 3:4 portrait, stored turned
    90 degrees clockwise (landscape, face on its side, as a phone's sensor records it) with a display
    matrix in the container that turns it back, so a player shows an upright portrait.

    (still_video's `rotate` writes the old `rotate` tag, which ffmpeg 7+ no longer turns into a
    display matrix; this builder sets the display matrix itself.)
    """
    stored = out.with_name(out.stem + "-stored" + out.suffix)
    run_ffmpeg("-loop", "1", "-framerate", str(fps), "-i", str(image), "-t", f"{seconds}",
               "-vf", "crop=trunc(ih*3/8)*2:ih,transpose=1,format=yuv420p,pad=ceil(iw/2)*2:ceil(ih/2)*2",
               "-c:v", "libx264", "-preset", "ultrafast", str(stored))
    run_ffmpeg("-display_rotation", "90", "-i", str(stored), "-c", "copy", str(out))
    stored.unlink()
    return out


def moving_face_video(out: Path, image: Path, seconds: float = 1.5, audio: Path | None = None,
                      shift: int = 8, fps: int = 25) -> Path:
    """A still face that drifts and zooms slightly from frame to frame (synthetic head motion)."""
    args = ["-loop", "1", "-framerate", str(fps), "-i", str(image)]
    if audio is not None:
        args += ["-i", str(audio), "-c:a", "aac", "-b:a", "64k"]
    zoom = "scale=w='trunc(iw*(1.08+0.04*sin(t*5))/2)*2':h=-2:eval=frame"
    move = (f"crop=w=iw*0.9:h=ih*0.9:x='(iw-ow)/2+{shift}*sin(t*3)':y='(ih-oh)/2+{shift}*cos(t*4)'")
    args += ["-t", f"{seconds}", "-vf", f"{zoom},{move},scale=400:224,setsar=1,format=yuv420p",
             "-c:v", "libx264", "-preset", "ultrafast"]
    run_ffmpeg(*args, str(out))
    return out


def face_then_blank_video(out: Path, image: Path, face_seconds: float, blank_seconds: float,
                          fps: int = 25) -> Path:
    """`face_seconds` of a face still, then `blank_seconds` of a plain grey picture of the same size."""
    run_ffmpeg("-loop", "1", "-framerate", str(fps), "-t", f"{face_seconds}", "-i", str(image),
               "-f", "lavfi", "-t", f"{blank_seconds}", "-i", f"color=c=gray:r={fps}:s=16x16",
               "-filter_complex",
               "[0:v]pad=ceil(iw/2)*2:ceil(ih/2)*2,setsar=1,format=yuv420p[a];"
               "[1:v][a]scale2ref[b][a2];[b]setsar=1,format=yuv420p[b2];[a2][b2]concat=n=2:v=1:a=0",
               "-c:v", "libx264", "-preset", "ultrafast", str(out))
    return out


def pattern_video(out: Path, seconds: float = 2.0, size: tuple[int, int] = (640, 360), fps: int = 25) -> Path:
    """A video without any face: ffmpeg's moving test pattern."""
    run_ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size[0]}x{size[1]}:rate={fps}", "-t", f"{seconds}",
               "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", str(out))
    return out


def side_by_side_image(out: Path, left: Path, right: Path, right_scale: float = 0.75) -> Path:
    """Two face stills side by side in one PNG; the right one shrunk by `right_scale` (so the left is larger)."""
    run_ffmpeg("-i", str(left), "-i", str(right), "-filter_complex",
               f"[1:v]scale=iw*{right_scale}:-2,pad=iw/{right_scale}:ih/{right_scale}:(ow-iw)/2:(oh-ih)/2:gray[r];"
               "[r][0:v]scale2ref=oh*mdar:ih[r2][l];[l][r2]hstack=inputs=2",
               "-frames:v", "1", str(out))
    return out


def dark_video(out: Path, image: Path, seconds: float = 1.0, level: float = 0.15, fps: int = 25) -> Path:
    """A face still with every pixel scaled by `level` (a badly lit room)."""
    run_ffmpeg("-loop", "1", "-framerate", str(fps), "-i", str(image), "-t", f"{seconds}",
               "-vf", f"format=rgb24,lutrgb=r=val*{level}:g=val*{level}:b=val*{level},format=yuv420p,"
               "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "ultrafast", str(out))
    return out


def noisy_video(out: Path, image: Path, seconds: float, size: tuple[int, int] = (1280, 720),
                fps: int = 25, qp: int = 4) -> Path:
    """A long, high-bitrate video: a face still under strong per-frame noise, encoded near-lossless."""
    run_ffmpeg("-loop", "1", "-framerate", str(fps), "-i", str(image), "-t", f"{seconds}",
               "-vf", f"scale={size[0]}:{size[1]},noise=alls=25:allf=t,format=yuv420p",
               "-c:v", "libx264", "-preset", "ultrafast", "-qp", str(qp), str(out))
    return out


def streamed_webm(out: Path, image: Path, audio: Path, fps: int = 10) -> Path:
    """A WebM written as a stream, as a browser's MediaRecorder does: no duration in its header."""
    command = [ffmpeg_exe(), "-nostdin", "-v", "error", "-loop", "1", "-framerate", str(fps), "-i", str(image),
               "-i", str(audio), "-shortest", "-vf", "format=yuv420p", "-c:v", "libvpx", "-deadline", "realtime",
               "-cpu-used", "8", "-c:a", "libopus", "-f", "webm", "-"]
    with open(out, "wb") as sink:
        subprocess.run(command, check=True, stdout=sink)
    return out
