"""Live mode's engine without a browser (avemo.live, and the handlers behind the page's timers): real RAVDESS
speech and a RAVDESS face in as chunks, readings out; the session's summary against `predict` on the same clip."""
from __future__ import annotations

import numpy as np
import pytest

from avemo.config import EMOTIONS, LIVE, WEIGHTS_DIR
from avemo.media import load_audio

try:
    from tests import clips
except ImportError:
    import clips

pytestmark = pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON)


@pytest.fixture(scope="module")
def predictor():
    from avemo.predict import Predictor

    return Predictor({m: WEIGHTS_DIR / m for m in ("audio", "video", "fusion")}, origin="test", lazy=True)


class Clock:
    """A clock the test moves: the session's time is the stream's, whatever the CPU."""

    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def face_frame(actor: int = 1, width: int = 640) -> np.ndarray:
    import cv2

    bgr = cv2.imread(str(clips.face_still(actor)))
    bgr = cv2.resize(bgr, None, fx=width / bgr.shape[1], fy=width / bgr.shape[1])
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def feed(session, clock: Clock, audio: np.ndarray, frame_at, seconds: float, start: float = 0.0) -> None:
    """Chunks as the page's timers send them, at the stream's times: the sound since the last tick every
    LIVE.voice_every_seconds, and with it the frame shown then."""
    every = LIVE.voice_every_seconds  # (a frame with each chunk: as often as a busy CPU reads the face)
    for k in range(1, int(np.ceil(seconds / every - 1e-9)) + 1):
        clock.t = session.started + start + k * every
        a, b = int((start + (k - 1) * every) * 16_000), int((start + k * every) * 16_000)
        session.voice_step(audio[a:b], 16_000)
        session.face_step(frame_at(start + k * every))


def test_chunks_in_readings_out(predictor):
    """Silence, then an angry RAVDESS take, under a face: the face is read over the last second at every frame;
    the voice says "no speech" over the silence, then reads the take; the fused reading gives its reason."""
    from avemo.live import LiveSession

    take, _ = load_audio(clips.ravdess_clip(actor=1, emotion=5), 16_000, 60)
    audio = np.concatenate([np.zeros(3 * 16_000, np.float32), take]).astype(np.float32)
    clock = Clock()
    session = LiveSession(predictor, clock=clock)
    frame = face_frame()
    feed(session, clock, audio, lambda t: frame, len(audio) / 16_000)

    faces = session.readings["video"]
    assert len(faces) == session.frames_received == int(np.ceil(len(audio) / 16_000 / LIVE.voice_every_seconds))
    assert all(r.result is not None and r.result["label"] in EMOTIONS for r in faces)
    assert all(r.end - r.start <= LIVE.face_window_seconds + 1e-9 for r in faces)  # the last second only
    assert max(r.result["frames"] for r in faces) >= int(LIVE.face_window_seconds / LIVE.voice_every_seconds)

    voices = session.readings["audio"]
    gaps = np.diff([r.made for r in voices])
    assert gaps.max() <= 1.0, gaps  # the voice is read at least once a second
    early = [r for r in voices if r.end <= 3.0]
    assert early and all(r.result is None and "no speech" in r.why_not for r in early)
    late = [r for r in voices if r.result is not None]
    assert late and all(r.start >= r.end - LIVE.voice_window_seconds - 1e-6 for r in late)
    assert "angry" in {r.result["label"] for r in late}
    fused = session.readings["fused"]  # the face alone over the silence, then both
    assert fused[0].result["modalities"] == ["video"] and fused[0].result["reason"] == "only the face was analysed"
    both = [r for r in fused if len(r.result["modalities"]) == 2]
    assert both and all(" over " in r.result["reason"] for r in both)

    current = session.current()
    assert current["video"] is faces[-1] and current["audio"] is voices[-1]
    figures = session.figures()  # (the stream's clock stood still while the models read: no lag here)
    assert figures["readings"] == {"audio": len(voices), "video": len(faces), "fused": len(fused)}
    assert figures["lag_seconds"]["video"]["max"] == 0.0


def test_each_frame_is_read_once_by_the_sessions_face_mesh(predictor, monkeypatch):
    """A face reading pools the frames of its last second, but reads only the newest: every frame is read once, as
    it arrives, by one FaceObserver (one face mesh) kept for the session and closed when it stops; and the pooled
    reading is what the file analysis says of the same frames."""
    from avemo.face.video import FaceObserver
    from avemo.live import LiveSession

    class CountingObserver(FaceObserver):
        made: list["CountingObserver"] = []

        def __init__(self, *args):
            super().__init__(*args)
            self.frames_read, self.closed = 0, False
            CountingObserver.made.append(self)

        def __call__(self, rgb):
            self.frames_read += 1
            return super().__call__(rgb)

        def close(self):
            self.closed = True
            super().close()

    analyser = predictor.video_model
    monkeypatch.setattr(analyser, "face_observer", lambda: CountingObserver(analyser.cfg, analyser.expression))
    clock = Clock()
    session = LiveSession(predictor, clock=clock)
    still = face_frame(actor=1)
    readings = []
    for k in range(1, 13):  # 3 s of frames, 4 a second
        clock.t = session.started + k * 0.25
        readings.append(session.face_step(still.copy()))
    [observer] = CountingObserver.made  # one mesh for the session
    assert observer.frames_read == 12  # each frame read once
    last = readings[-1]
    assert last.result["frames"] == len(session.frames) > 1  # ... though each reading pools its last second
    window = [frame.rgb for frame in session.frames]
    times = np.array([frame.time for frame in session.frames])
    alone, _ = analyser.analyse_frames(window, times - times[0])  # a new mesh, every frame read again
    assert alone["label"] == last.result["label"]
    assert max(abs(alone["probs"][e] - last.result["probs"][e]) for e in EMOTIONS) < 0.02
    session.stop()
    assert observer.closed and session.face_step(still) is None


def test_the_voice_is_read_every_few_ticks_whatever_the_jitter(predictor):
    """The page's sound arrives every LIVE.voice_every_seconds, a little early or late: a reading is due every
    LIVE.voice_read_every_seconds of ticks, not put off to the tick after (which made it one a second)."""
    from avemo.live import LiveSession

    take, _ = load_audio(clips.ravdess_clip(actor=1, emotion=5), 16_000, 60)
    clock = Clock()
    session = LiveSession(predictor, clock=clock)
    every = LIVE.voice_every_seconds
    ticks = int(len(take) / 16_000 / every)
    for k in range(1, ticks + 1):
        clock.t = session.started + k * every + 0.03 * (-1) ** k  # late, early, late, ...
        session.voice_step(take[int((k - 1) * every * 16_000):int(k * every * 16_000)], 16_000)
    gaps = np.diff([r.end for r in session.readings["audio"]])
    assert len(gaps) >= 3 and gaps.max() <= LIVE.voice_read_every_seconds + 0.1, gaps


def test_the_rolling_timeline_draws_the_newest_reading_of_each_half_second():
    """30 s of face readings, 6 a second: the rolling timeline draws one per ROLLING_POINT_SECONDS, the newest of
    each (what the page redraws every PLOT_EVERY_SECONDS stays light), and the session's summary draws them all."""
    from avemo.app.live import ROLLING_POINT_SECONDS, timeline_figure

    windows = [{"start": t - 1.0, "end": t, "made": t, "probs": {e: 1 / len(EMOTIONS) for e in EMOTIONS}}
               for t in np.arange(1, 180) / 6]  # (ends within 30 s)
    timelines = {"video": windows, "audio": [], "fused": []}
    drawn = np.array(timeline_figure(timelines, 0, 30, "rolling", ROLLING_POINT_SECONDS).data[0].x)
    middles = np.array([(w["start"] + w["end"]) / 2 for w in windows])
    assert len(drawn) == round(30 / ROLLING_POINT_SECONDS)
    assert drawn[-1] == middles[-1] and set(drawn) <= set(middles)  # the newest reading, and readings only
    assert np.diff(drawn).max() <= ROLLING_POINT_SECONDS + 1e-9
    assert len(timeline_figure(timelines, 0, 30, "summary").data[0].x) == len(windows)


def test_a_busy_cpu_drops_frames_it_never_queues_them(predictor):
    """Frames that piled up while the CPU was busy: the face reads the newest second only, and the voice the
    newest seconds of sound (all of which still reach the summary's record)."""
    from avemo.live import LiveFrame, LiveSession

    clock = Clock()
    session = LiveSession(predictor, clock=clock)
    frame = face_frame()
    for k in range(40):  # 10 s of frames arrive at once
        session.frames.append(LiveFrame(k * 0.25, frame))
    clock.t = session.started + 10.0
    reading = session.face_step(frame)
    assert reading.start >= 9.0 and reading.result["frames"] <= 5
    take, _ = load_audio(clips.ravdess_clip(actor=2, emotion=3), 16_000, 60)
    reading = session.voice_step(np.tile(take, 3), 16_000)  # ~11 s of sound in one tick
    assert reading.end - reading.start == pytest.approx(LIVE.voice_window_seconds)
    assert session.record.audio_samples == 3 * len(take)


def test_time_limit_and_one_session_at_a_time(predictor):
    from avemo.live import LiveBusy, LiveSessions

    clock = Clock()
    sessions = LiveSessions(predictor, clock=clock)
    first = sessions.open("a")
    with pytest.raises(LiveBusy, match="try again in 60 s"):
        sessions.open("b")
    clock.t += LIVE.session_seconds
    assert first.over and first.face_step(face_frame()) is None  # it ended by itself
    assert sessions.open("b") is not None  # and freed its slot


def test_the_summary_is_what_predict_says_of_the_same_clip(predictor, tmp_path):
    """A RAVDESS face and a RAVDESS take muxed into a clip, streamed as chunks: the summary's verdicts are those of
    `predict` on the clip (the voice on the same sound; the face on one frame every LIVE.record_frame_every_seconds
    where the file's plan takes 16 every 4 s), and exactly those of predict_arrays on what the session kept."""
    from avemo.face.video import video_frames
    from avemo.live import LiveSession

    clip = clips.still_video(tmp_path / "take.mp4", clips.face_still(2), clips.ravdess_clip(actor=2, emotion=4),
                             size=(640, 360))
    expected = predictor.predict(clip)
    audio, _ = load_audio(clip, 16_000, 60)
    stamped = list(video_frames(clip))

    def frame_at(t):
        return min(stamped, key=lambda s: abs(s[0] - t))[1]

    clock = Clock()
    session = LiveSession(predictor, clock=clock)
    feed(session, clock, audio, frame_at, len(audio) / 16_000)
    summary = session.summary()

    for modality in ("audio", "video", "fused"):
        assert summary[modality]["label"] == expected[modality]["label"], modality
    assert max(abs(summary["audio"]["probs"][e] - expected["audio"]["probs"][e]) for e in EMOTIONS) < 0.01
    assert max(abs(summary["video"]["probs"][e] - expected["video"]["probs"][e]) for e in EMOTIONS) < 0.1
    again = predictor.predict_arrays(*session.record.arrays())
    for modality in ("audio", "video", "fused"):
        assert summary[modality]["probs"] == again[modality]["probs"]
    # The CLI's shape, plus the session's timelines and figures.
    assert {"path", "audio", "video", "fused", "unavailable", "notes", "error"} <= set(summary)
    live = summary["live"]
    assert set(live["timelines"]) == {"audio", "video", "fused"} and live["timelines"]["video"]
    assert live["record"]["audio_seconds"] == pytest.approx(len(audio) / 16_000, abs=0.01)
