"""Live mode keeps up: a real clip streamed at real-time pace through the Live tab's handlers, as the page does.

    python -m bench.live [--seconds 60] [--minutes 5]
    python -m bench.live --stages        # where one face reading's and one voice reading's time goes

After a first, short session that warms the process (not measured), the stream: RAVDESS takes of one actor
back to back (every emotion, with the pauses around each take), under the bundled face video that smiles (a
RAVDESS face, looped), scaled to 640 px wide like the page's frames. A simulated browser feeds
`avemo.app.live.LivePage` (the code behind the page's timers: payload decoding, the engine avemo.live, the
readings' text and the rolling timeline) from three threads, as the page's three gr.Timers do: the camera offers the
frame shown at that moment as a JPEG data URL every LIVE.face_every_seconds, but only once the last reading is
done (the offers meanwhile are skipped: dropped frames, as Gradio's trigger_mode "once" skips ticks); the
microphone hands over all the sound since its last tick every LIVE.voice_every_seconds; the rolling timeline is
redrawn every PLOT_EVERY_SECONDS.

Prints the load average, the first reading after Start, readings per second, each modality's lag (seconds from
the newest data reaching the server to the reading being ready: median, p90, max), frames dropped, the
process's resident memory over the session, and how long the summary took. HTTP and the browser's drawing are
not in these figures: the browser test (tests/test_live_browser.py) runs the whole page.
Targets: first reading <= 2 s, face >= 3 readings/s, voice >= 1/s, lag <= 1 s, memory growth <= 5% over 5 min.
"""
from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from avemo.config import LIVE, LiveConfig  # noqa: E402

SMILING_FACE = REPO_ROOT / "examples" / "ravdess-actor03-happy-synthetic-smile.mp4"
FRAME_WIDTH = 640


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def speech_of(actor: int, seconds: float) -> np.ndarray:
    """`seconds` of int16 16 kHz sound: the actor's RAVDESS takes back to back, in name order, looped."""
    from avemo.config import data_dir
    from avemo.media import load_audio

    takes = sorted((data_dir() / "ravdess" / "audio" / f"Actor_{actor:02d}").glob("*.flac"))
    pieces, total = [], 0
    while total < seconds * 16_000:
        for take in takes:
            waveform, _ = load_audio(take, 16_000, 60)
            pieces.append(waveform)
            total += len(waveform)
            if total >= seconds * 16_000:
                break
    return (np.clip(np.concatenate(pieces)[:int(seconds * 16_000)], -1, 1) * 32767).astype(np.int16)


def frames_of(path: Path = SMILING_FACE, width: int = FRAME_WIDTH) -> tuple[list[np.ndarray], float]:
    """Every frame of a video scaled to `width`, and the frame interval."""
    import cv2

    from avemo.face.video import video_frames

    stamped = list(video_frames(path))
    scale = width / stamped[0][1].shape[1]
    frames = [cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR) for _, rgb in stamped]
    return frames, float(np.median(np.diff([t for t, _ in stamped])))


def data_url(rgb: np.ndarray) -> str:
    """What the page's canvas sends: a JPEG data URL (quality 0.85)."""
    import cv2

    _, jpeg = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    return "data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode()


def sound_payload(samples: np.ndarray, rate: int = 16_000) -> str:
    """What the page's voice timer sends: {"rate", "pcm": base64 int16}."""
    return json.dumps({"rate": rate, "pcm": base64.b64encode(samples.astype("<i2").tobytes()).decode()})


@dataclasses.dataclass
class Run:
    """What the simulated browser saw: frames offered (camera ticks) and skipped, memory samples, the summary."""

    seconds: float
    ticks: int = 0
    skipped: int = 0
    memory: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    figures: dict | None = None
    first_reading: dict | None = None
    summary: dict | None = None
    summary_seconds: float = 0.0


def simulate(page, audio: np.ndarray, frames: list[np.ndarray], frame_interval: float, seconds: float,
             key: str = "bench", memory_every: float = 5.0) -> Run:
    """Stream `seconds` of `audio` (int16, 16 kHz) and `frames` (looped) through `page` (a LivePage) at real-time
    pace, as the page's two timers do; then stop and time the summary."""
    from avemo.app.live import PLOT_EVERY_SECONDS

    cfg = page.cfg
    run = Run(seconds)
    text, running = page.start(key)
    assert running, text
    session = page.sessions.get(key)
    t0 = session.started
    done = threading.Event()

    def wait_until(t: float) -> None:
        time.sleep(max(0.0, t0 + t - time.monotonic()))

    def camera():
        tick = 0
        while tick * cfg.face_every_seconds < seconds:
            wait_until(tick * cfg.face_every_seconds)
            shown = frames[int((time.monotonic() - t0) / frame_interval) % len(frames)]
            page.face_tick(key, data_url(shown))
            run.ticks += 1
            next_tick = int((time.monotonic() - t0) / cfg.face_every_seconds) + 1
            run.skipped += max(0, min(next_tick, int(np.ceil(seconds / cfg.face_every_seconds))) - tick - 1)
            tick = next_tick

    def microphone():
        sent, tick = 0, 1
        while tick * cfg.voice_every_seconds <= seconds:
            wait_until(tick * cfg.voice_every_seconds)
            heard = min(len(audio), int((time.monotonic() - t0) * 16_000))
            page.voice_tick(key, sound_payload(audio[sent:heard]))
            sent = heard
            tick = int((time.monotonic() - t0) / cfg.voice_every_seconds) + 1

    def timeline():
        tick = 1
        while tick * PLOT_EVERY_SECONDS < seconds:
            wait_until(tick * PLOT_EVERY_SECONDS)
            page.timeline_tick(key)
            tick = int((time.monotonic() - t0) / PLOT_EVERY_SECONDS) + 1

    def memory():
        while not done.wait(memory_every):
            run.memory.append((time.monotonic() - t0, rss_mb()))

    run.memory.append((0.0, rss_mb()))
    threads = [threading.Thread(target=f, daemon=True) for f in (camera, microphone, timeline, memory)]
    for thread in threads:
        thread.start()
    for thread in threads[:3]:
        thread.join()
    done.set()
    run.memory.append((time.monotonic() - t0, rss_mb()))
    readings = [r for m in ("audio", "video") for r in session.readings[m]]
    first = min(readings, key=lambda r: r.made) if readings else None
    run.first_reading = first and {"modality": first.modality, "made": round(first.made, 2)}
    started = time.monotonic()
    run.summary = page.stop(key)["result"]
    run.summary_seconds = time.monotonic() - started
    run.figures = run.summary["live"]
    return run


def report(run: Run, load_before: tuple, load_after: tuple, cfg: LiveConfig = LIVE) -> str:
    f = run.figures
    lines = [f"load average (1, 5, 15 min): before {load_before[0]:.1f} {load_before[1]:.1f} {load_before[2]:.1f}, "
             f"after {load_after[0]:.1f} {load_after[1]:.1f} {load_after[2]:.1f}  (2 cores)",
             f"session: {f['seconds']:.1f} s; first reading {run.first_reading['made']:.2f} s after Start "
             f"({run.first_reading['modality']})" if run.first_reading else "no reading at all"]
    first_voice = next((w for w in f["timelines"]["audio"] if "probs" in w), None)
    if first_voice:
        lines.append(f"first voice reading with speech: {first_voice['made']:.2f} s")
    lines.append("readings per second: " + ", ".join(f"{m} {v:.2f}" for m, v in f["per_second"].items()))
    for modality, lag in f["lag_seconds"].items():
        if lag:
            lines.append(f"lag {modality:6s}: median {lag['median']:.2f} s, p90 {lag['p90']:.2f} s, max {lag['max']:.2f} s")
    offered = run.ticks + run.skipped
    lines.append(f"camera: a frame offered every {cfg.face_every_seconds} s: {offered} offered, {run.ticks} read, "
                 f"{run.skipped} skipped while a reading ran "
                 f"({run.skipped / max(offered, 1):.0%} dropped)")
    voice = f["timelines"]["audio"]
    lines.append(f"voice readings: {len(voice)}, of which 'no speech' {sum('why_not' in w for w in voice)}")
    (t_first, m_first), (t_last, m_last) = run.memory[0], run.memory[-1]
    after_minute = next((m for t, m in run.memory if t >= 60), None)
    lines.append(f"resident memory: {m_first:.0f} MB at Start, {m_last:.0f} MB at {t_last:.0f} s "
                 f"({(m_last - m_first) / m_first:+.1%})"
                 + (f"; {after_minute:.0f} MB at 60 s ({(m_last - after_minute) / after_minute:+.1%} since)"
                    if after_minute and t_last > 90 else "")
                 + f"; peak sample {max(m for _, m in run.memory):.0f} MB")
    lines.append("memory samples (s: MB): " + ", ".join(f"{t:.0f}: {m:.0f}" for t, m in run.memory))
    s = run.summary
    lines.append(f"summary: {run.summary_seconds:.1f} s to compute; voice "
                 f"{(s.get('audio') or {}).get('label')}, face {(s.get('video') or {}).get('label')}, "
                 f"both {(s.get('fused') or {}).get('label')}")
    return "\n".join(lines)


def stage_times(predictor, frames: list[np.ndarray], audio: np.ndarray, repeats: int = 20) -> str:
    """Milliseconds (median of `repeats`) of each part of a live reading, on the bench's frames and sound: what a
    face tick does with a new frame (decode the page's JPEG, the session's mesh, blendshapes on every
    WORDS_EVERY_N_FACES-th face, facex, pooling the window's frames into a reading), what a face mesh costs to
    make (each reading made one before the session kept it), a voice reading of LIVE.voice_window_seconds, and
    the rolling timeline's figure."""
    from avemo.app.live import decode_frame, timeline_figure
    from avemo.face.expression import blendshape_scores
    from avemo.face.mesh import face_mesh, find_face
    from avemo.live import LiveSession
    from bench.timing import timed

    def median_ms(work, n=repeats):
        return 1000 * float(np.median(timed(work, n)))

    analyser, rgb = predictor.video_model, frames[len(frames) // 2]
    url = data_url(rgb)
    rows = {"decode the page's JPEG": median_ms(lambda: decode_frame(url)),
            "make a face mesh": median_ms(lambda: face_mesh(analyser.cfg).close(), 5)}
    with face_mesh(analyser.cfg) as mesh, analyser.landmarker() as landmarker:
        face = find_face(mesh, rgb, analyser.cfg)
        rows["face mesh: find and crop the face"] = median_ms(lambda: find_face(mesh, rgb, analyser.cfg))
        rows["blendshapes (on every 4th face)"] = median_ms(lambda: blendshape_scores(landmarker, face.expression_crop))
    rows["facex (LiteRT)"] = median_ms(lambda: analyser.expression.facex.read(face.expression_crop))
    session = LiveSession(predictor, dataclasses.replace(LIVE, session_seconds=3600))
    for frame in frames[:10]:
        session.face_step(frame)
    window = list(session.frames)
    times = np.array([f.time for f in window])
    read = {id(f.rgb): f.observation for f in window}
    rows[f"pool {len(window)} frames read into a reading (FER CNN, head)"] = median_ms(
        lambda: analyser.analyse_frames([f.rgb for f in window], times - times[0], observe=lambda x: read[id(x)]))
    rows["a face step, all of it (steady state)"] = median_ms(lambda: session.face_step(rgb))
    window_audio = audio[:int(LIVE.voice_window_seconds * 16_000)].astype(np.float32) / 32767
    rows[f"a voice reading of {LIVE.voice_window_seconds:.0f} s"] = median_ms(
        lambda: predictor.audio_model.analyse_waveform(window_audio, 16_000), 5)
    session.stop()
    # The rolling timeline as it is mid-session: 30 s of readings, 6 faces a second and the voice when due, on a
    # clock that stands still while the models read.
    clock = [0.0]
    session = LiveSession(predictor, dataclasses.replace(LIVE, session_seconds=3600), clock=lambda: clock[0])
    for k in range(180):
        clock[0] = (k + 1) / 6
        session.face_step(frames[k % len(frames)])
        session.voice_step(audio[int(k / 6 * 16_000):int((k + 1) / 6 * 16_000)], 16_000)  # (read when due)
    counts = {m: len(r) for m, r in session.readings.items()}
    rows[f"the rolling timeline's figure ({counts['video']} face, {counts['audio']} voice, {counts['fused']} fused "
         "readings)"] = median_ms(lambda: timeline_figure(session.timelines(0), 0, 30, "t"), 5)
    session.stop()
    load = os.getloadavg()
    return "\n".join([f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (2 cores); median ms:"]
                     + [f"  {name:58s} {ms:7.1f}" for name, ms in rows.items()])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the session (default 60)")
    parser.add_argument("--minutes", type=float, help="a longer session, for the memory figure (e.g. 5)")
    parser.add_argument("--actor", type=int, default=3, help="the RAVDESS actor whose takes are spoken")
    parser.add_argument("--warm-up", type=float, default=15.0, help="seconds of a first session, not measured")
    parser.add_argument("--stages", action="store_true", help="time each part of a reading instead of a session")
    args = parser.parse_args(argv)
    seconds = args.minutes * 60 if args.minutes else args.seconds

    from avemo.app.live import LivePage
    from avemo.backend import limit_malloc_arenas
    from avemo.predict import Predictor

    limit_malloc_arenas()  # as app.py does

    predictor = Predictor()  # every model loaded now, as the app does
    frames, interval = frames_of()
    audio = speech_of(args.actor, seconds)
    if args.stages:
        print(stage_times(predictor, frames, audio))
        return
    cfg = dataclasses.replace(LIVE, session_seconds=seconds + 15)
    page = LivePage(predictor, cfg)
    # A first, short session warms what a fresh process meets once (imports, plotly's first figure, the
    # allocator's pools), as the app's first visitor does for the next ones; the figures are the second session's.
    warm = simulate(page, audio, frames, interval, args.warm_up)
    print(f"warm-up session ({args.warm_up:.0f} s): resident memory {warm.memory[0][1]:.0f} -> "
          f"{warm.memory[-1][1]:.0f} MB")
    load_before = os.getloadavg()
    run = simulate(page, audio, frames, interval, seconds, memory_every=5.0 if seconds <= 120 else 15.0)
    print(report(run, load_before, os.getloadavg()))


if __name__ == "__main__":
    main()
