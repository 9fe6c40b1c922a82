"""Live mode's engine: the webcam's frames and the microphone's sound in, as they come; the face's, the voice's
and the fused readings of the newest stretch out, and at the end a summary of the whole session.

    session = LiveSession(predictor)
    reading = session.face_step(rgb_frame)           # the face over the last second of frames (and the fusion)
    reading = session.voice_step(samples, rate)       # the voice over the last seconds of sound, when due
    summary = session.summary()                      # the session as a clip: Predictor.predict_arrays's dict

Nothing here is a second model: each reading is the file analysis applied to the newest stretch
(`VideoAnalyzer.analyse_frames` on the frames of the last LIVE.face_window_seconds, `VoiceAnalyzer.analyse_waveform`
with its speech gate on a ring buffer's last LIVE.voice_window_seconds), and the fused reading is
avemo.fusion.rule.fuse of the freshest two, as `predict` fuses a clip's.

Each frame is read once, as it arrives (its face found by a mesh kept for the session, in tracking mode as for a
clip's frames, then the expression CNNs): a face reading pools what was read of the frames of its window, so it
costs one frame's reading however many frames the window holds.

Keeping up: a step runs the analysis of the newest data at once, in the caller's thread, and returns when it is
done. The caller (the page's timers, the benchmark's simulated browser) asks for the next frame only then, so
frames shown while the CPU was busy are never read: a slow CPU gives fewer readings, never older ones. Sound is
never dropped (every sample reaches the ring buffer and the session's record), but the voice reads only the
newest window. Each reading records when the newest data it read arrived and when it was ready: its lag.

The summary is what `predict` says of the session as a clip: `Predictor.predict_arrays` on the session's sound
and on one frame every LIVE.record_frame_every_seconds (JPEG-encoded in memory; nothing is written to disk), both
capped at MAX_ANALYSIS_SECONDS like a file, with the session's three timelines of readings beside it.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from avemo.config import AUDIO_FEATURES, LIVE, MAX_ANALYSIS_SECONDS, LiveConfig
from avemo.media import MediaError, to_mono_at_rate

SAMPLE_RATE = AUDIO_FEATURES.sample_rate
RECORD_JPEG_QUALITY = 90
# What a reading keeps of its result once a newer one replaced it: the timelines' and the figures' needs.
KEPT_KEYS = ("label", "confidence", "probs", "reliability", "modalities", "reason", "frames", "speech_seconds")


@dataclass
class Reading:
    """One live reading: what a modality ("audio", "video" or "fused") said about the stretch start..end
    (seconds since the session started), ready at `made`. `result` is the modality's result as `predict` gives
    it, or None with `why_not` ("no speech detected: ...", "no face found ...")."""

    modality: str
    start: float
    end: float
    made: float
    result: dict | None
    why_not: str | None = None

    @property
    def lag(self) -> float:
        """Seconds between the newest data this reading read reaching the server and the reading being ready."""
        return self.made - self.end

    def entry(self) -> dict:
        """The reading as one timeline window (the shape of a result's "timeline" entries)."""
        entry = {"start": round(self.start, 2), "end": round(self.end, 2), "made": round(self.made, 2)}
        if self.result is not None:
            entry |= {"label": self.result["label"], "probs": self.result["probs"]}
        else:
            entry["why_not"] = self.why_not
        return entry


class AudioRing:
    """The last `seconds` of mono float32 sound, and how many samples have passed through."""

    def __init__(self, seconds: float, rate: int = SAMPLE_RATE):
        self.buffer = np.zeros(int(seconds * rate), np.float32)
        self.rate = rate
        self.total = 0  # samples ever appended

    def append(self, samples: np.ndarray) -> None:
        samples = samples[-len(self.buffer):]
        n = len(samples)
        self.buffer = np.roll(self.buffer, -n)
        self.buffer[len(self.buffer) - n:] = samples
        self.total += n

    def last(self, seconds: float) -> np.ndarray:
        n = min(int(seconds * self.rate), self.total, len(self.buffer))
        return self.buffer[len(self.buffer) - n:].copy()


@dataclass
class LiveFrame:
    """A webcam frame of the face's window: when it arrived (session seconds), its pixels, and what the session's
    FaceObserver read in it (None until read)."""

    time: float
    rgb: np.ndarray
    observation: object | None = None  # avemo.face.video.FrameObservation


@dataclass
class SessionRecord:
    """What the summary analyses: the session's sound (int16) and one JPEG frame every so often, with its time,
    each up to MAX_ANALYSIS_SECONDS."""

    every: float
    audio: list[np.ndarray] = field(default_factory=list)
    audio_samples: int = 0
    frames: list[bytes] = field(default_factory=list)
    frame_times: list[float] = field(default_factory=list)
    capped: bool = False

    def add_audio(self, mono: np.ndarray) -> None:
        room = int(MAX_ANALYSIS_SECONDS * SAMPLE_RATE) - self.audio_samples
        if room < len(mono):
            self.capped = True
        if room > 0:
            kept = mono[:room]
            self.audio.append((np.clip(kept, -1.0, 1.0) * 32767).astype(np.int16))
            self.audio_samples += len(kept)

    def add_frame(self, rgb: np.ndarray, t: float) -> None:
        import cv2

        if self.frame_times and t - self.frame_times[-1] < self.every:
            return
        if self.frame_times and t - self.frame_times[0] >= MAX_ANALYSIS_SECONDS:
            self.capped = True
            return
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, RECORD_JPEG_QUALITY])
        if ok:
            self.frames.append(jpeg.tobytes())
            self.frame_times.append(t)

    def arrays(self) -> tuple[tuple | None, tuple | None]:
        """(audio, video) as Predictor.predict_arrays takes them; None for a modality that sent nothing."""
        import cv2

        audio = (np.concatenate(self.audio), SAMPLE_RATE) if self.audio_samples else None
        video = None
        if self.frames:
            frames = [cv2.cvtColor(cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
                      for j in self.frames]
            times = np.asarray(self.frame_times) - self.frame_times[0]
            video = (frames, times, float(times[-1] + self.every))
        return audio, video


class LiveSession:
    """One person's live session: the newest frames and sound, the readings so far, the record for the summary.
    `face_step` and `voice_step` may run at the same time in two threads (the page's two timers); each is called
    again only after it returned."""

    def __init__(self, predictor, cfg: LiveConfig = LIVE, clock: Callable[[], float] = time.monotonic):
        self.predictor = predictor
        self.cfg = cfg
        self.clock = clock
        self.started = clock()
        self.last_input = self.started
        self.frames: deque[LiveFrame] = deque()  # the face's window
        self.ring = AudioRing(cfg.voice_window_seconds + 1.0)
        self.audio_arrived = 0.0  # when the newest sound arrived (session seconds)
        self.record = SessionRecord(cfg.record_frame_every_seconds)
        self.readings: dict[str, list[Reading]] = {"audio": [], "video": [], "fused": []}
        self.latest: dict[str, Reading | None] = {"audio": None, "video": None}
        self.frames_received = 0
        self.stopped: float | None = None
        self._voice_read_at = -np.inf
        self._lock = threading.Lock()
        self._observer = None  # the session's FaceObserver, made with the first frame, closed by stop()
        self._observer_lock = threading.Lock()  # (stop() may come from another thread during a reading)

    # -- time --------------------------------------------------------------------------------------
    def now(self) -> float:
        """Seconds since the session started."""
        return self.clock() - self.started

    @property
    def seconds_left(self) -> float:
        return max(0.0, self.cfg.session_seconds - self.now())

    @property
    def over(self) -> bool:
        """Stopped, or past its time limit: it takes no more input."""
        return self.stopped is not None or self.now() >= self.cfg.session_seconds

    # -- the face ------------------------------------------------------------------------------------
    def face_step(self, rgb: np.ndarray) -> Reading | None:
        """Take the newest webcam frame (RGB uint8) and read the face over the last second of frames; then fuse.
        Returns the face's reading (None once the session is over)."""
        if self.over:
            return None
        now = self.now()
        with self._lock:
            self.last_input = self.clock()
            self.frames_received += 1
            self.frames.append(LiveFrame(now, rgb))
            while self.frames and self.frames[0].time < now - self.cfg.face_window_seconds:
                self.frames.popleft()
            window = list(self.frames)
            self.record.add_frame(rgb, now)
        times = np.array([frame.time for frame in window])

        def analyse():
            analyser = self._analyser("video")
            for frame in window:  # the new one (and any a failed step left unread), in time order
                if frame.observation is None:
                    frame.observation = self._observe(analyser, frame.rgb)
            read = {id(frame.rgb): frame.observation for frame in window}
            return analyser.analyse_frames([frame.rgb for frame in window], times - times[0],
                                           observe=lambda rgb: read[id(rgb)])

        return self._read("video", times[0], now, analyse)

    def _observe(self, analyser, rgb: np.ndarray):
        """The session's FaceObserver's reading of one frame."""
        with self._observer_lock:
            if self.stopped is not None:
                raise MediaError("the session has stopped")
            if self._observer is None:
                self._observer = analyser.face_observer()
            return self._observer(rgb)

    # -- the voice -----------------------------------------------------------------------------------
    def voice_step(self, samples: np.ndarray, rate: int) -> Reading | None:
        """Take the sound heard since the last call ((n,) or (n, channels), float or int16 PCM at `rate`); read
        the voice over the last LIVE.voice_window_seconds if the last reading is older than
        LIVE.voice_read_every_seconds. Returns the voice's reading, or None when none was due."""
        if self.over:
            return None
        mono = to_mono_at_rate(samples, rate, SAMPLE_RATE) if len(samples) else np.zeros(0, np.float32)
        now = self.now()
        with self._lock:
            self.last_input = self.clock()
            self.ring.append(mono)
            self.record.add_audio(mono)
            self.audio_arrived = now
            # (less half a tick: a tick's jitter must not put the reading off to the tick after, every 1 s)
            due = now - self._voice_read_at >= self.cfg.voice_read_every_seconds - self.cfg.voice_every_seconds / 2
            heard = self.ring.total / SAMPLE_RATE
        if not due or heard < 0.5:
            return None
        self._voice_read_at = now
        window = self.ring.last(self.cfg.voice_window_seconds)
        start = now - len(window) / SAMPLE_RATE
        return self._read("audio", start, now, lambda: self._analyser("audio").analyse_waveform(window, SAMPLE_RATE))

    # -- readings and their fusion -------------------------------------------------------------------
    def _analyser(self, modality: str):
        analyser = self.predictor.audio_model if modality == "audio" else self.predictor.video_model
        if analyser is None:
            raise MediaError(f"no {'voice' if modality == 'audio' else 'face'} model is installed")
        return analyser

    def _read(self, modality: str, start: float, end: float, analyse) -> Reading:
        try:
            result, _ = analyse()
            reading = Reading(modality, start, end, self.now(), result)
        except MediaError as error:  # no face, no speech: said as the reading
            reading = Reading(modality, start, end, self.now(), None, str(error))
        with self._lock:
            self._keep(modality, reading)
            self.latest[modality] = reading
            self._fuse(reading.made)
        return reading

    def _keep(self, modality: str, reading: Reading) -> None:
        """Add a reading to its timeline, the one before it slimmed (a session's memory stays flat)."""
        history = self.readings[modality]
        if history and history[-1].result is not None:
            history[-1].result = {k: v for k, v in history[-1].result.items() if k in KEPT_KEYS}
        history.append(reading)

    def _fuse(self, made: float) -> None:
        """The fused reading of the freshest voice and face readings (the rule `predict` fuses a clip with)."""
        from avemo.fusion.rule import fuse

        fresh = {m: r for m, r in self.latest.items()
                 if r is not None and r.result is not None and made - r.end <= self.cfg.fresh_seconds}
        fused = fuse(fresh["audio"].result if "audio" in fresh else None,
                     fresh["video"].result if "video" in fresh else None, self.predictor.fusion)
        if fused is None:
            return
        self._keep("fused", Reading("fused", min(r.start for r in fresh.values()), max(r.end for r in fresh.values()),
                                    made, fused))

    def current(self) -> dict[str, Reading | None]:
        """The newest reading of each: "audio", "video", "fused" (the fused one only if still fresh)."""
        with self._lock:
            fused = self.readings["fused"][-1] if self.readings["fused"] else None
            latest = dict(self.latest)
        if fused is not None and self.now() - fused.made > self.cfg.fresh_seconds:
            fused = None
        return {**latest, "fused": fused}

    def timelines(self, since: float = 0.0) -> dict[str, list[dict]]:
        """Each modality's readings that end after `since` (session seconds), as timeline windows."""
        with self._lock:
            return {m: [r.entry() for r in readings if r.end >= since] for m, readings in self.readings.items()}

    # -- the end -------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Take no more input, and let the session's face mesh go."""
        with self._observer_lock:
            if self.stopped is None:
                self.stopped = min(self.now(), self.cfg.session_seconds)
            if self._observer is not None:
                self._observer.close()
                self._observer = None

    def figures(self) -> dict:
        """How the session went: readings per second, lags, frames received."""
        seconds = self.stopped if self.stopped is not None else self.now()

        def lags(modality):
            values = sorted(r.lag for r in self.readings[modality])
            if not values:
                return None
            return {"median": round(float(np.median(values)), 3), "p90": round(values[int(0.9 * (len(values) - 1))], 3),
                    "max": round(values[-1], 3)}

        return {"seconds": round(seconds, 2), "frames_received": self.frames_received,
                "readings": {m: len(r) for m, r in self.readings.items()},
                "per_second": {m: round(len(r) / max(seconds, 1e-6), 2) for m, r in self.readings.items()},
                "lag_seconds": {m: lags(m) for m in self.readings}}

    def summary(self) -> dict:
        """The session as a clip: `Predictor.predict_arrays` on its sound and recorded frames (the CLI's dict),
        with "live": the session's figures and its three timelines of readings. Stops the session."""
        self.stop()
        audio, video = self.record.arrays()
        result = self.predictor.predict_arrays(audio, video)
        if audio is None:
            result["unavailable"].setdefault("audio", "no sound reached the server")
        if video is None:
            result["unavailable"].setdefault("video", "no webcam frame reached the server")
        if self.record.capped:
            result["notes"].append(f"the session lasted {self.stopped:.0f} s; its summary reads the first "
                                   f"{MAX_ANALYSIS_SECONDS:.0f} s, as for a file")
        result["live"] = {**self.figures(), "record": {
            "audio_seconds": round(self.record.audio_samples / SAMPLE_RATE, 2), "frames": len(self.record.frames)},
            "timelines": self.timelines()}
        return result


class LiveBusy(Exception):
    """Every live slot is taken; the message says when one frees up."""


class LiveSessions:
    """The sessions running in this process, by key (the browser's session), at most LIVE.max_sessions: a live
    session keeps a CPU core busy. A session nobody fed for `idle_seconds` (a closed tab) is let go."""

    def __init__(self, predictor, cfg: LiveConfig = LIVE, idle_seconds: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self.predictor = predictor
        self.cfg = cfg
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._sessions: dict[str, LiveSession] = {}
        self._lock = threading.Lock()

    def open(self, key: str) -> LiveSession:
        """A new session for `key` (replacing its old one). Raises LiveBusy when every slot is taken."""
        with self._lock:
            if (old := self._sessions.pop(key, None)) is not None:
                old.stop()
            self._reap()
            if len(self._sessions) >= self.cfg.max_sessions:
                wait = min(s.seconds_left for s in self._sessions.values())
                raise LiveBusy(f"someone else is live right now (one session at a time on this machine); "
                               f"try again in {wait:.0f} s")
            session = self._sessions[key] = LiveSession(self.predictor, self.cfg, self.clock)
            return session

    def get(self, key: str) -> LiveSession | None:
        with self._lock:
            return self._sessions.get(key)

    def close(self, key: str) -> LiveSession | None:
        with self._lock:
            return self._sessions.pop(key, None)

    def _reap(self) -> None:
        now = self.clock()
        for key, session in list(self._sessions.items()):
            if session.over or now - session.last_input > self.idle_seconds:
                del self._sessions[key]
                session.stop()
