"""The page's Live tab: the webcam and the microphone read as the person speaks (the engine: avemo.live).

    live_tab = add_live_tab(predictor)    # inside the page's gr.Tabs(); returns the gr.Tab

How the sound and the frames travel: the browser captures them itself (getUserMedia; the sound as 16 kHz PCM
through Web Audio), and two gr.Timer ticks carry them to the server in the event's own request: the face timer
the newest frame as a JPEG data URL, every LIVE.face_every_seconds; the voice timer the sound heard since its last
tick, every LIVE.voice_every_seconds. A third timer redraws the rolling timeline every PLOT_EVERY_SECONDS (a Plotly
figure of 30 s of readings takes some 0.1-0.2 s of Python to build here: drawn on the face's tick, it held up a
face reading each time; and its redraw in the browser, on the same cores, slows every reading). A tick that falls while the previous one of its timer is still being
answered is skipped (Gradio's trigger_mode "once"), so a busy CPU skips frames rather than queueing them, and no
sound is lost (the browser keeps it for the next tick). Nothing streamed is written to disk: Gradio's own
streaming events upload every microphone chunk as a WAV file into its temp folder, which this way avoids; the
summary's JSON travels inside the page, like a clip's (avemo.app.views).

`LivePage` holds what the handlers do, keyed by the browser's session: the benchmark (bench/live.py) calls it
as the page's timers do, without a browser.
"""
from __future__ import annotations

import base64
import json
import re
import time

import gradio as gr
import numpy as np

from avemo.config import LIVE, LiveConfig
from avemo.live import LiveBusy, LiveSessions, Reading

MAX_FRAME_BYTES = 2 * 2**20      # a JPEG from the page's canvas (at most 640 px wide) is ~50 KB
MAX_SOUND_SECONDS = 10.0         # one tick's sound: a tick that waited long carries more
# The rolling timeline is redrawn this often (its own timer), with the newest reading of each modality per
# ROLLING_POINT_SECONDS. Each redraw costs the server ~0.1 s of Python and the browser a Plotly redraw of ~100 KB,
# on the cores that read the face: in Chromium here, every reading redrawn each second gave the face 3.1-3.3
# readings/s, one per 0.5 s redrawn every 2 s 4.7/s, no timeline 6.7/s (docs/experiments.md).
PLOT_EVERY_SECONDS = 2.0
ROLLING_POINT_SECONDS = 0.5
NAMES = {"audio": "Voice", "video": "Face", "fused": "Both"}
IDLE = "Press **Start**: your browser asks for the camera and the microphone."


# -- what the browser sends ----------------------------------------------------------------------------
def decode_frame(data_url: str | None) -> np.ndarray | None:
    """The RGB frame of a "data:image/jpeg;base64,..." URL from the page's canvas; None if there is none."""
    import cv2

    if not data_url or not data_url.startswith("data:image/") or "," not in data_url:
        return None
    raw = base64.b64decode(data_url.split(",", 1)[1], validate=False)
    if len(raw) > MAX_FRAME_BYTES:
        return None
    bgr = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def decode_sound(payload: str | None) -> tuple[np.ndarray, int] | None:
    """(int16 samples, rate) of the page's {"rate", "pcm": base64 little-endian int16} JSON; None if empty."""
    if not payload:
        return None
    try:
        data = json.loads(payload)
        rate = int(data["rate"])
        samples = np.frombuffer(base64.b64decode(data["pcm"]), "<i2")
    except (ValueError, KeyError, TypeError):
        return None
    if not 8000 <= rate <= 192_000 or samples.size == 0:
        return None
    return samples[-int(MAX_SOUND_SECONDS * rate):], rate


# -- what the page shows --------------------------------------------------------------------------------
def _percent(result: dict) -> str:
    return f"**{result['label']}** ({result['confidence']:.0%})"


def face_text(reading: Reading | None) -> str:
    if reading is None:
        return "**Face:** waiting for the camera"
    if reading.result is None:
        return f"**Face:** no face in the last second ({reading.why_not})"
    movements = reading.result.get("face_movements") or []
    return (f"**Face:** {_percent(reading.result)}" + (f" · {', '.join(movements)}" if movements else "")
            + f" · {reading.result['frames']} frame{'s' * (reading.result['frames'] != 1)} of the last second"
            + f" · {reading.lag:.1f} s behind")


def voice_text(reading: Reading | None) -> str:
    if reading is None:
        return "**Voice:** listening"
    if reading.result is None:  # the speech gate's reason, e.g. "only 0.2 s of the sound is voice-like, ..."
        why = re.sub(r"^no speech detected\W*", "", reading.why_not or "").rstrip(")")
        return "**Voice:** no speech" + (f" ({why})" if why else "")
    speech = reading.result.get("speech_seconds")
    return (f"**Voice:** {_percent(reading.result)} · the last {reading.end - reading.start:.1f} s of sound"
            + (f" ({speech:.1f} s of speech)" if speech else "") + f" · {reading.lag:.1f} s behind")


def fused_text(reading: Reading | None) -> str:
    if reading is None:
        return "**Both together:** waiting for the face or the voice"
    fused = reading.result
    return f"**Both together:** {_percent(fused)} · {fused['reason']}"


def status_text(session, busy: str | None = None) -> str:
    if busy:
        return f"**Not started:** {busy}."
    if session is None:
        return IDLE
    figures = session.figures()
    rates = figures["per_second"]
    return (f"**Live** · {session.seconds_left:.0f} s left of {session.cfg.session_seconds:.0f} s · "
            f"face {rates['video']:.1f} readings/s, voice {rates['audio']:.1f}/s")


def newest_per_step(windows: list[dict], step: float) -> list[dict]:
    """Of timeline windows in time order, the newest to end in each `step` seconds (the last of each run of
    windows whose ends fall in the same step)."""
    kept: list[dict] = []
    for window in windows:
        if kept and int(kept[-1]["end"] // step) == int(window["end"] // step):
            kept[-1] = window
        else:
            kept.append(window)
    return kept


def timeline_figure(timelines: dict[str, list[dict]], start: float, end: float, title: str,
                    point_every: float | None = None):
    """The three timelines (voice, face, both) between `start` and `end` (session seconds): every reading, or the
    newest of each `point_every` seconds."""
    from avemo.app.plots import probability_timeline

    result = {m: {"timeline": [w for w in windows if "probs" in w]} for m, windows in timelines.items()}
    if point_every:
        result = {m: {"timeline": newest_per_step(r["timeline"], point_every)} for m, r in result.items()}
    rows = [m for m in result if result[m]["timeline"]]
    result["error"] = "no reading yet: the face and the voice show here as they are read"
    fig = probability_timeline(result, modalities=("audio", "video", "fused"), names=NAMES, height_per_row=150)
    if rows:  # (else a panel that says why)
        fig.update_xaxes(range=[start, max(end, start + 1.0)])
        fig.update_xaxes(title_text="seconds since Start", row=len(rows), col=1)
        # The legend under the charts: above them it covers the title on a phone.
        fig.update_layout(title=dict(text=title), legend=dict(orientation="h", y=-0.12, yanchor="top", x=0,
                                                              xanchor="left"),
                          margin=dict(t=40, b=110), height=150 * len(rows) + 160)
    return fig


def summary_text(result: dict) -> str:
    """The session's verdicts as the page says a clip's (avemo.app.views), then how the session kept up."""
    from avemo.app.views import summary_markdown

    live = result["live"]
    lags = ", ".join(f"{NAMES[m].lower()} {lag['median']:.1f} s behind" for m, lag in live["lag_seconds"].items()
                     if lag and m != "fused")
    return (summary_markdown(result, f"The session ({live['seconds']:.0f} s)")
            + f"\n- Live readings: face {live['per_second']['video']:.1f}/s, voice {live['per_second']['audio']:.1f}/s"
            + (f"; {lags} (median)" if lags else ""))


class LivePage:
    """What the Live tab's events do, by browser session (`key`); the page's handlers pass request.session_hash."""

    def __init__(self, predictor, cfg: LiveConfig = LIVE):
        self.cfg = cfg
        self.sessions = LiveSessions(predictor, cfg)

    def start(self, key: str, browser_error: str | None = None) -> tuple[str, bool]:
        """(the status line, whether the session runs)."""
        if browser_error:
            return f"**Not started:** {browser_error}", False
        try:
            self.sessions.open(key)
        except LiveBusy as busy:
            return status_text(None, str(busy)), False
        return status_text(self.sessions.get(key)), True

    def face_tick(self, key: str, data_url: str | None) -> dict | None:
        """The newest frame in; the face's, the fused and the status lines out (None: no session)."""
        session = self.sessions.get(key)
        if session is None or session.over:
            return None
        frame = decode_frame(data_url)
        if frame is not None:
            session.face_step(frame)
        current = session.current()
        return {"face": face_text(current["video"]), "fused": fused_text(current["fused"]),
                "status": status_text(session)}

    def voice_tick(self, key: str, payload: str | None) -> dict | None:
        """The sound since the last tick in; the voice's and the fused lines out (None: no session)."""
        session = self.sessions.get(key)
        if session is None or session.over:
            return None
        sound = decode_sound(payload)
        if sound is not None:
            session.voice_step(*sound)
        current = session.current()
        return {"voice": voice_text(current["audio"]), "fused": fused_text(current["fused"])}

    def timeline_tick(self, key: str):
        """The rolling timeline's figure: the last LIVE.rolling_seconds of readings (None: no session)."""
        session = self.sessions.get(key)
        if session is None or session.over:
            return None
        now = session.now()
        since = max(0.0, now - self.cfg.rolling_seconds)
        return timeline_figure(session.timelines(since), since, now, f"The last {self.cfg.rolling_seconds:.0f} s",
                               ROLLING_POINT_SECONDS)

    def stop(self, key: str) -> dict | None:
        """The key's session's summary: {"result" (the CLI's dict, with "live"), "text", "figure" (its three
        timelines), "download" (a link holding the JSON: nothing is written to disk)}; None without a session."""
        from avemo.app.views import download_html

        session = self.sessions.close(key)
        if session is None:
            return None
        started = time.localtime(time.time() - session.now())
        result = session.summary()
        result["path"] = f"live session {time.strftime('%Y-%m-%d %H:%M:%S', started)}"
        return {"result": result, "text": summary_text(result),
                "figure": timeline_figure(result["live"]["timelines"], 0.0, result["live"]["seconds"],
                                          "The whole session: every reading"),
                "download": download_html(result, time.strftime("live-%Y%m%d-%H%M%S", started))}


# -- the browser's side ---------------------------------------------------------------------------------
# window.avemoLive: start() asks for the camera and the microphone, shows the camera in #live-preview, keeps the
# microphone's sound as PCM (a 16 kHz AudioContext where the browser allows it; the server resamples otherwise),
# and presses Stop itself when the session's time is up; frame() and sound() hand the timers their payloads.
BROWSER_JS = """
if (!window.avemoLive) {
  const live = window.avemoLive = {stream: null, context: null, pcm: [], rate: 16000, deadline: null};
  live.stop = () => {
    if (live.stream) live.stream.getTracks().forEach((track) => track.stop());
    if (live.context) live.context.close().catch(() => {});
    clearTimeout(live.deadline);
    live.stream = live.context = null;
    live.pcm = [];
    const video = document.querySelector("#live-preview video");
    if (video) video.srcObject = null;
  };
  live.start = async (seconds) => {
    live.stop();
    try {
      live.stream = await navigator.mediaDevices.getUserMedia({
        video: {width: {ideal: 640}, height: {ideal: 480}},
        audio: {channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false}});
    } catch (error) {
      return "the browser gave no camera or microphone (" + error.name + "): allow both for this page and press Start again";
    }
    const video = document.querySelector("#live-preview video");
    video.srcObject = live.stream;
    video.play().catch(() => {});
    let context;
    try { context = new AudioContext({sampleRate: 16000}); } catch (error) { context = new AudioContext(); }
    const source = context.createMediaStreamSource(live.stream);
    const tap = context.createScriptProcessor(2048, 1, 1);
    tap.onaudioprocess = (event) => { if (live.stream) live.pcm.push(new Float32Array(event.inputBuffer.getChannelData(0))); };
    source.connect(tap);
    tap.connect(context.destination);  // (a ScriptProcessor runs only when connected; it outputs silence)
    live.context = context;
    live.rate = context.sampleRate;
    live.deadline = setTimeout(() => { const stop = document.querySelector("#live-stop"); if (stop) stop.click(); },
                               seconds * 1000);
    return "";
  };
  live.frame = () => {
    const video = document.querySelector("#live-preview video");
    if (!live.stream || !video || !video.videoWidth) return "";
    const scale = Math.min(1, 640 / video.videoWidth);
    const canvas = live.canvas = live.canvas || document.createElement("canvas");
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL("image/jpeg", 0.85);
  };
  live.sound = () => {
    const chunks = live.pcm;
    live.pcm = [];
    const n = chunks.reduce((total, chunk) => total + chunk.length, 0);
    if (!n) return "";
    const pcm = new Int16Array(n);
    let at = 0;
    for (const chunk of chunks) for (let i = 0; i < chunk.length; i++, at++) {
      pcm[at] = Math.max(-32768, Math.min(32767, Math.round(chunk[i] * 32767)));
    }
    const bytes = new Uint8Array(pcm.buffer);
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return JSON.stringify({rate: live.rate, pcm: btoa(text)});
  };
}
"""
PREVIEW_HTML = ('<div id="live-preview"><video autoplay muted playsinline '
                'style="width:100%;max-height:300px;background:#222;border-radius:8px"></video></div>')


def add_live_tab(predictor, cfg: LiveConfig = LIVE):
    """The Live tab, its components and events (call inside the page's gr.Tabs()); returns the gr.Tab."""
    page = LivePage(predictor, cfg)
    limit = f"{cfg.session_seconds:.0f} s"
    with gr.Tab("Live", id="live-tab") as tab:
        gr.Markdown(f"**Live, with the webcam and the microphone.** Speak to the camera: avemo reads your **face** over the last second, your **voice** over the "
                    f"last {cfg.voice_window_seconds:.0f} s of sound (\"no speech\" while you are silent) and both "
                    f"together, several times a second. A session ends by itself after **{limit}**; **Stop** "
                    "keeps its summary, which you can download. Nothing you stream is stored.",
                    elem_id="live-intro")
        gr.HTML(PREVIEW_HTML)
        with gr.Row():
            start = gr.Button("Start", variant="primary", elem_id="live-start")
            stop = gr.Button("Stop", elem_id="live-stop")
        status = gr.Markdown(IDLE, elem_id="live-status")
        face = gr.Markdown(face_text(None), elem_id="live-face")
        voice = gr.Markdown(voice_text(None), elem_id="live-voice")
        fused = gr.Markdown(fused_text(None), elem_id="live-fused")
        rolling = gr.Plot(label=f"The last {cfg.rolling_seconds:.0f} s", elem_id="live-timeline", show_label=False)
        summary = gr.Markdown("", elem_id="live-summary")
        summary_plot = gr.Plot(label="The whole session", elem_id="live-summary-timeline", show_label=False,
                               visible=False)
        summary_file = gr.HTML(elem_id="live-summary-json", visible=False)
        payload = gr.Textbox(visible=False)  # what the browser's JS hands each event (a frame, sound, an error)
        face_timer = gr.Timer(cfg.face_every_seconds, active=False)
        voice_timer = gr.Timer(cfg.voice_every_seconds, active=False)
        plot_timer = gr.Timer(PLOT_EVERY_SECONDS, active=False)

    def on_start(browser_error, request: gr.Request):
        text, running = page.start(request.session_hash, browser_error or None)
        return (text, face_text(None), voice_text(None), fused_text(None), None, "",
                gr.Plot(value=None, visible=False), gr.HTML(value="", visible=False),
                gr.Timer(active=running), gr.Timer(active=running), gr.Timer(active=running),
                "running" if running else "")

    def on_face(data_url, request: gr.Request):
        shown = page.face_tick(request.session_hash, data_url)
        if shown is None:
            return (gr.skip(),) * 3
        return shown["face"], shown["fused"], shown["status"]

    def on_voice(payload_json, request: gr.Request):
        shown = page.voice_tick(request.session_hash, payload_json)
        if shown is None:
            return (gr.skip(),) * 2
        return shown["voice"], shown["fused"]

    def on_timeline(request: gr.Request):
        figure = page.timeline_tick(request.session_hash)
        return gr.skip() if figure is None else figure

    def on_stop(request: gr.Request):
        ended = page.stop(request.session_hash)
        if ended is None:  # nothing running (the time limit stopped it already): what is shown stays
            return (gr.skip(),) * 4 + (gr.Timer(active=False),) * 3
        return ("**Stopped.** The summary is below.", ended["text"], gr.Plot(value=ended["figure"], visible=True),
                gr.HTML(value=ended["download"], visible=True)) + (gr.Timer(active=False),) * 3

    quiet = dict(api_visibility="private", show_progress="hidden", queue=True)
    start.click(on_start, inputs=payload,
                outputs=[status, face, voice, fused, rolling, summary, summary_plot, summary_file, face_timer,
                         voice_timer, plot_timer, payload],
                js=f"async () => {{ {BROWSER_JS}; return [await window.avemoLive.start({cfg.session_seconds})]; }}",
                concurrency_limit=None, **quiet).then(
        None, inputs=payload, js="(state) => { if (state !== 'running') window.avemoLive.stop(); return []; }")
    face_timer.tick(on_face, inputs=payload, outputs=[face, fused, status],
                    js="() => [window.avemoLive ? window.avemoLive.frame() : '']",
                    concurrency_id="live-face", concurrency_limit=cfg.max_sessions, **quiet)
    voice_timer.tick(on_voice, inputs=payload, outputs=[voice, fused],
                     js="() => [window.avemoLive ? window.avemoLive.sound() : '']",
                     concurrency_id="live-voice", concurrency_limit=cfg.max_sessions, **quiet)
    plot_timer.tick(on_timeline, outputs=rolling, concurrency_id="live-plot", concurrency_limit=cfg.max_sessions,
                    **quiet)
    stop.click(on_stop, outputs=[status, summary, summary_plot, summary_file, face_timer, voice_timer, plot_timer],
               js="() => { if (window.avemoLive) window.avemoLive.stop(); return []; }",
               concurrency_limit=None, api_visibility="private")
    return tab
