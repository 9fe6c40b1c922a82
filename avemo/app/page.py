"""The Gradio page: a clip in (upload, webcam, microphone), the voice / face / fused emotions out.

    demo = build_demo()        # loads the models once (Hub or bundled weights), returns gr.Blocks
    demo.launch(**launch_options())

Every request goes through the one shared `Predictor.predict`; avemo.app.views turns its result (see
avemo.predict) into the summary, the charts, the face frames and the JSON download. The page never shows a
traceback: whatever `predict` refuses ends in the same "Could not analyse ..." message.

Besides the page, one API endpoint, `/predict` (a file in, the result dict out), returns what
`avemo predict --format jsonl` prints, with "path" set to the upload's original file name.

Privacy: an upload is deleted as soon as it has been analysed (the bundled examples excepted; one never
analysed after UNANALYSED_UPLOAD_MAX_AGE_SECONDS), user files are never in `allowed_paths`, and what the app
derives from a clip (the face frames, the result JSON) goes to the browser inside the page, never to disk.
When the app stops (Ctrl-C, or SIGTERM: see app.py) Gradio deletes every upload still there.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from pathlib import Path

from avemo.app.views import (CHARTS, NO_CLIP, WAITING, PageView, example_caption, result_view,
                             voice_languages, voice_measured)
from avemo.config import (AUDIO_EXTENSIONS, EMOTIONS, MAX_ANALYSIS_SECONDS, MAX_UPLOAD_BYTES, MEDIA_EXTENSIONS,
                          REPO_ROOT, VIDEO_EXTENSIONS)

log = logging.getLogger(__name__)

EXAMPLES_DIR = REPO_ROOT / "examples"
TITLE = "avemo: which emotion do you hear, which do you see?"
PREVIEW_FRAMES = 4
CONCURRENCY_LIMIT = 2          # analyses run at once (2 CPU cores on a free Space); others wait in the queue
QUEUE_SIZE = 32                # visitors who may wait; the next one is told the queue is full
UPLOAD_GRACE_SECONDS = 10.0    # an upload is deleted this long after its analysis (see UploadJanitor)
# An upload that is never analysed is deleted by Gradio's own cache cleaning, this long after it came.
UNANALYSED_UPLOAD_MAX_AGE_SECONDS = 1800
# What the page says while an analysis runs: Predictor.predict's stages, then the page's own.
STAGES = {"decoding": (0.05, "Decoding the file"), "voice": (0.2, "Listening to the voice"),
          "face": (0.5, "Looking at the face"), "frames": (0.8, "Drawing the faces the model looked at"),
          "charts": (0.9, "Drawing the charts")}


def max_upload_bytes() -> int:
    """The upload limit: MAX_UPLOAD_BYTES, or less if AVEMO_MAX_UPLOAD_BYTES says so (tests use it)."""
    try:
        return min(int(os.environ.get("AVEMO_MAX_UPLOAD_BYTES", MAX_UPLOAD_BYTES)), MAX_UPLOAD_BYTES)
    except ValueError:
        return MAX_UPLOAD_BYTES


def example_files() -> dict[str, list[Path]]:
    """The bundled examples by kind ("video", "audio")."""
    files = sorted(p for p in EXAMPLES_DIR.glob("*") if p.suffix.lower() in MEDIA_EXTENSIONS)
    return {"video": [p for p in files if p.suffix.lower() in VIDEO_EXTENSIONS],
            "audio": [p for p in files if p.suffix.lower() in AUDIO_EXTENSIONS]}


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_predictor():
    """The Predictor on resolve_weights(); if those models fail to load (a Hub file that passed the
    checks but that Keras refuses), the Predictor on the bundled weights instead."""
    from avemo.hub import bundled_weights
    from avemo.predict import Predictor

    try:
        return Predictor()
    except Exception as error:
        log.exception("the models failed to load; falling back on the bundled weights")
        source = bundled_weights(reason=f"the first models failed to load: {type(error).__name__}")
        return Predictor(source.folders, source.origin)


class UploadJanitor:
    """Deletes uploads once analysed, without pulling a file from under a request that still needs it.

    Gradio stores an upload at a path derived from its content, so two visitors (or one API client
    calling twice) sending the same bytes share one file. A file is therefore deleted only once no
    running request holds it (`claim`/`release`), no queued request names it (looked up in Gradio's
    queue, best effort), and `grace` seconds have passed since its last release, which covers a
    request whose upload is done but which has not yet joined the queue.
    """

    def __init__(self, protected_hashes: set[str], grace: float = 10.0, queue_lookup=None):
        import threading

        self.protected_hashes = protected_hashes
        self.grace = grace
        self.queue_lookup = queue_lookup or (lambda path: False)
        self._claims: dict[Path, int] = {}
        self._due: dict[Path, float] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        threading.Thread(target=self._sweep_forever, name="avemo-upload-janitor", daemon=True).start()

    def claim(self, path: Path) -> None:
        with self._lock:
            self._claims[path] = self._claims.get(path, 0) + 1
            self._due.pop(path, None)

    def release(self, path: Path) -> None:
        with self._lock:
            self._claims[path] = self._claims.get(path, 1) - 1
            if self._claims[path] <= 0:
                del self._claims[path]
                self._due[path] = time.monotonic() + self.grace
        self._wake.set()

    def _sweep_forever(self) -> None:
        while True:
            self._wake.wait(timeout=max(0.5, min(self.grace, 5.0)))
            self._wake.clear()
            self.sweep()

    def sweep(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [p for p, t in self._due.items() if t <= now and p not in self._claims]
        for path in due:
            try:
                queued = self.queue_lookup(path)
            except Exception:  # Gradio internals moved: fall back on the grace period alone
                queued = False
            with self._lock:
                if path in self._claims or path not in self._due:
                    continue
                if queued:
                    self._due[path] = now + self.grace
                    continue
                del self._due[path]
            self._delete(path)

    def _delete(self, path: Path) -> None:
        try:
            if not path.is_file() or path.resolve().is_relative_to(EXAMPLES_DIR.resolve()):
                return
            if path.stat().st_size < 50 * 2**20 and _sha256(path) in self.protected_hashes:
                return  # Gradio's cached copy of a bundled example: other visitors click it too
            path.unlink()
            try:
                path.parent.rmdir()
            except OSError:
                pass
        except OSError as error:
            log.warning("could not delete the upload %s: %s", path.name, error)


def _queued_in(demo):
    """A function telling whether any event waiting in `demo`'s queue names a path (Gradio internals)."""
    def lookup(path: Path) -> bool:
        queue = getattr(demo, "_queue", None)
        needle = str(path)
        for event_queue in getattr(queue, "event_queue_per_concurrency_id", {}).values():
            for event in list(getattr(event_queue, "queue", [])):
                body = getattr(getattr(event, "data", None), "data", None)
                if needle in json.dumps(body, default=str):
                    return True
        return False
    return lookup


def _without_server_path(result: dict, path: Path, name: str | None = None) -> dict:
    """The result with the upload's server path replaced by its name in every message."""
    def clean(text):
        return text.replace(str(path), name or path.name) if isinstance(text, str) else text

    result["error"] = clean(result.get("error"))
    result["notes"] = [clean(note) for note in result.get("notes") or []]
    result["unavailable"] = {m: clean(r) for m, r in (result.get("unavailable") or {}).items()}
    return result


# -- the app -----------------------------------------------------------------------------------
class App:
    """The state shared by every request: the one Predictor, the examples, the upload janitor."""

    def __init__(self, predictor=None):
        self.predictor = predictor or load_predictor()
        self.examples = example_files()
        self.example_hashes = {_sha256(p) for kind in self.examples.values() for p in kind}
        self.limit = max_upload_bytes()
        grace = float(os.environ.get("AVEMO_UPLOAD_GRACE_SECONDS", UPLOAD_GRACE_SECONDS))
        self.janitor = UploadJanitor(self.example_hashes, grace)

    # -- what the page says about the models ----------------------------------------------------
    def missing_models(self) -> list[str]:
        missing = []
        if getattr(self.predictor, "audio_model", None) is None:
            missing.append("the voice model is not installed, so only faces are analysed")
        if getattr(self.predictor, "video_model", None) is None:
            missing.append("the face model is not installed, so only voices are analysed")
        return missing

    def voice_languages(self) -> str | None:
        """The languages the voice model learnt from (its folder's config.json), e.g. "English (RAVDESS, SAVEE)"."""
        return voice_languages((getattr(self.predictor, "folders", None) or {}).get("audio"))

    def voice_measured(self) -> str | None:
        """How the voice fared on corpora it never heard and in noise (its folder's evaluation.json)."""
        return voice_measured((getattr(self.predictor, "folders", None) or {}).get("audio"))

    def footer(self) -> str:
        origin = getattr(self.predictor, "origin", "unknown")
        return (f"Models loaded from: **{origin}**. Emotions: {', '.join(EMOTIONS)}. "
                f"Clips longer than {MAX_ANALYSIS_SECONDS:.0f} s are analysed up to that point. "
                f"**Your files:** uploads and recordings (up to {self.limit / 2**20:.0f} MB) are deleted right after "
                f"their analysis (one never analysed, after {UNANALYSED_UPLOAD_MAX_AGE_SECONDS / 60:.0f} minutes), and "
                "any left when the app stops; the face frames and the result are sent to your browser inside this "
                "page and never stored on the server. A research demo on acted emotions, not a judgement of "
                "anyone's feelings. Non-commercial research use only.")

    # -- one analysis ----------------------------------------------------------------------------
    def refuse(self, path: Path) -> str | None:
        """Why an upload is refused before analysis (too big), or None."""
        size = path.stat().st_size if path.exists() else 0
        if size > self.limit:
            return f"the file is {size / 2**20:.0f} MB; the limit is {self.limit / 2**20:.0f} MB"
        return None

    def run_predict(self, path: str | None, modality: str = "both", target: Path | None = None,
                    on_stage=None) -> dict:
        """`Predictor.predict` on an upload (or on `target`, its repaired copy), "path" = the upload's name."""
        if not path:
            return {"path": None, "audio": None, "video": None, "fused": None, "unavailable": {},
                    "notes": [], "error": "no file: upload or record a clip first"}
        path = Path(path)
        try:
            reason = self.refuse(path)
            if reason:
                result = {"path": str(path), "audio": None, "video": None, "fused": None,
                          "unavailable": {}, "notes": [], "error": reason}
            else:
                with (contextlib.nullcontext(target) if target else self.analysable(path)) as target:
                    result = _without_server_path(self.predictor.predict(target, modality=modality, on_stage=on_stage),
                                                  target, path.name)
        except Exception as error:  # predict does not raise for bad input; anything else is still no traceback
            log.exception("analysis failed for %s", path.name)
            result = {"path": str(path), "audio": None, "video": None, "fused": None, "unavailable": {},
                      "notes": [], "error": f"the analysis failed ({type(error).__name__})"}
        result["path"] = path.name
        return _without_server_path(result, path)

    @contextlib.contextmanager
    def analysable(self, path: Path):
        """The file to analyse for an upload: itself, or for a browser recording without a complete
        header (Chromium's MediaRecorder WebM) a stream copy that can be seeked (deleted afterwards)."""
        from avemo.media import MediaError, complete_header, probe

        try:
            info = probe(path) if path.is_file() else None
        except MediaError:
            info = None  # predict reports it
        if info is None:
            yield path
            return
        with complete_header(path, info) as target:
            yield target

    def hold_upload(self, path: str | None) -> None:
        if path:
            self.janitor.claim(Path(path))

    def forget_upload(self, path: str | None) -> None:
        """The analysis of this upload is over: it will be deleted (see UploadJanitor)."""
        if path:
            self.janitor.release(Path(path))

    def api_predict(self, path: str | None) -> dict:
        """The /predict endpoint: the same dict as `avemo predict --format jsonl`."""
        self.hold_upload(path)
        try:
            return self.run_predict(path)
        finally:
            self.forget_upload(path)

    def preview(self, path: Path, result: dict) -> list:
        """The face strip: sampled frames with the face's outline, the crop the model saw, its time and top emotion."""
        video_model = getattr(self.predictor, "video_model", None)
        if video_model is None or not hasattr(video_model, "preview_frames") or result.get("error"):
            return []
        try:
            from avemo.media import probe

            info = probe(path)
            if not info.has_video:
                return []
            return list(video_model.preview_frames(path, info, PREVIEW_FRAMES) or [])
        except Exception as error:  # a preview is a nicety: never fail the analysis for it
            log.warning("no face-mesh preview for %s: %s", path.name, error)
            return []

    def analyse(self, path: str | None, modality: str = "both", progress=None) -> PageView:
        """Everything the page shows for one clip, analysed for `modality` ("both": the video tab; "audio": the
        voice tab, which has no face to show). `progress(fraction, desc=...)` hears each stage (STAGES)."""
        if not path:
            return PageView(NO_CLIP)
        if progress is None:  # (not `progress or ...`: an idle gr.Progress has a length of 0, so it is falsy)
            progress = lambda *args, **kwargs: None  # noqa: E731

        def stage(name: str) -> None:
            fraction, description = STAGES[name]
            progress(fraction, desc=description)

        frames = []
        self.hold_upload(path)
        try:
            with self.analysable(Path(path)) as target:
                result = self.run_predict(path, modality, target=target, on_stage=stage)
                if not result.get("error") and result.get("video") is not None:
                    stage("frames")
                    frames = self.preview(target, result)
        finally:
            self.forget_upload(path)
        stage("charts")
        return result_view(result, Path(path).name, modality, frames)


def _keep_examples_in_cache(examples, component) -> None:
    """Exempt Gradio's copies of the example files from `delete_cache`, which would otherwise remove
    them after CACHE_MAX_AGE_SECONDS and break the examples (Gradio keeps only the thumbnails)."""
    for sample in getattr(examples, "non_none_processed_examples", {}).values():
        for value in sample:
            if isinstance(value, dict) and value.get("path"):
                component.keep_in_cache.add(value["path"])


def build_demo(predictor=None):
    """The gr.Blocks page (queue configured). `predictor` defaults to a Predictor on resolve_weights()."""
    import gradio as gr

    from avemo.app.live import add_live_tab

    app = App(predictor)
    heard, measured = app.voice_languages(), app.voice_measured()
    with gr.Blocks(title="avemo: audio-visual emotion recognition", analytics_enabled=False,
                   delete_cache=(600, UNANALYSED_UPLOAD_MAX_AGE_SECONDS)) as demo:
        gr.Markdown(
            f"# {TITLE}\n"
            "Upload or record a short clip of someone **speaking**. avemo estimates the emotion three ways: "
            "from the **voice** alone, from the **face** alone, and from **both together**, among eight "
            f"emotions ({', '.join(EMOTIONS)}), and shows how sure it is and how this changes over the clip."
            + (f" The voice model learnt from acted speech in {heard}: in other languages it is less often right."
               if heard else "") + (f" {measured}" if measured else ""),
            elem_id="intro")
        if app.missing_models():
            gr.Markdown("**Note:** " + "; ".join(app.missing_models()) + ".", elem_id="missing-models")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=340):
                with gr.Tabs():
                    with gr.Tab("Video (face + voice)", id="video-tab") as video_tab:
                        # (Short labels: on a phone a longer one ran under the player's buttons. A fixed height
                        # clipped the source icons.)
                        video_in = gr.Video(label="A clip of one person speaking", sources=["upload", "webcam"],
                                            include_audio=True, format=None, elem_id="video-input")
                        video_button = gr.Button("Analyse the video", variant="primary", elem_id="analyse-video")
                        video_examples = gr.Column()
                    with gr.Tab("Voice only", id="voice-tab") as voice_tab:
                        audio_in = gr.Audio(label="Speech: upload or record", sources=["upload", "microphone"],
                                            type="filepath", elem_id="audio-input")
                        audio_button = gr.Button("Analyse the voice", variant="primary", elem_id="analyse-voice")
                        audio_examples = gr.Column()
                    add_live_tab(app.predictor)  # the webcam and the microphone read live (avemo/app/live.py)
            with gr.Column(scale=1, min_width=340):
                summary = gr.Markdown(WAITING, elem_id="summary", min_height=80)
                frames = gr.HTML(elem_id="frames", visible=False)
                download = gr.HTML(elem_id="result-json", visible=False)
        # The charts appear with a result: before it they would be a wall of empty frames.
        with gr.Column(visible=False, elem_id="charts") as charts:
            gr.Markdown("### How sure is avemo? The probability of each emotion", elem_id="bars-heading")
            with gr.Row():
                plots = {"audio": gr.Plot(elem_id="plot-audio", show_label=False, min_width=300),
                         "video": gr.Plot(elem_id="plot-video", show_label=False, min_width=300),
                         "fused": gr.Plot(elem_id="plot-fused", show_label=False, min_width=300)}
            plots["timeline"] = gr.Plot(elem_id="plot-timeline", show_label=False)
            timeline_notes = gr.Markdown(elem_id="timeline-notes")
            plots["contributions"] = gr.Plot(elem_id="plot-contributions", show_label=False)
        outputs = [summary, frames, download, charts, *(plots[key] for key in CHARTS), timeline_notes]

        def show(view: PageView) -> tuple:
            """The outputs' updates for a view: a chart without a figure, and the strip without frames, hide."""
            shown = {key: view.charts.get(key) for key in CHARTS}
            return (view.summary, gr.HTML(view.frames, visible=bool(view.frames)),
                    gr.HTML(view.download, visible=bool(view.download)),
                    gr.Column(visible=any(figure is not None for figure in shown.values())),
                    *(gr.Plot(figure, visible=figure is not None) for figure in shown.values()),
                    "\n".join(f"- {note}" for note in view.timeline_notes))

        def analyse_video(video, progress=gr.Progress()):
            return show(app.analyse(video, "both", progress))

        def analyse_voice(audio, progress=gr.Progress()):
            return show(app.analyse(audio, "audio", progress))

        # While one analysis runs both buttons are off (a second press would only queue the same work again),
        # and the summary makes room for the stage the analysis is at.
        buttons = [video_button, audio_button]

        def started():
            return "", *(gr.Button(interactive=False) for _ in buttons)

        def finished():
            return [gr.Button(interactive=True) for _ in buttons]

        def run_analysis(trigger, fn, component, **api):
            trigger(started, outputs=[summary, *buttons], queue=False, api_visibility="private") \
                .then(fn, inputs=component, outputs=outputs, concurrency_limit=CONCURRENCY_LIMIT,
                      concurrency_id="analysis", show_progress_on=[summary], **api) \
                .then(finished, outputs=buttons, queue=False, api_visibility="private")

        page_api = dict(api_visibility="undocumented")
        run_analysis(video_button.click, analyse_video, video_in, api_name="analyse_video", **page_api)
        run_analysis(audio_button.click, analyse_voice, audio_in, api_name="analyse_voice", **page_api)

        # A new file, or the other tab, clears the last results: they belong to another clip.
        for event in (video_in.upload, video_in.clear, video_in.stop_recording, audio_in.upload, audio_in.clear,
                      audio_in.stop_recording, video_tab.select, voice_tab.select):
            event(lambda: show(PageView(WAITING)), outputs=outputs, api_visibility="private", concurrency_limit=None)

        example_sets = [
            (video_examples, video_in, analyse_video, app.examples["video"],
             "Examples: acted speech over a photo of the actor (click one to analyse it)"),
            (audio_examples, audio_in, analyse_voice, app.examples["audio"],
             "Examples: acted speech (click one to analyse it)"),
        ]
        for column, component, fn, files, label in example_sets:
            if files:
                with column:
                    examples = gr.Examples([[str(p)] for p in files], inputs=component, label=label,
                                           example_labels=[example_caption(p) for p in files],
                                           run_on_click=False, cache_examples=False)
                run_analysis(examples.load_input_event.then, fn, component, api_visibility="private")
                _keep_examples_in_cache(examples, component)

        # The API: a file in, the CLI's JSON out. Hidden components: only clients use it.
        api_file = gr.File(visible=False, type="filepath", label="media file")
        api_result = gr.JSON(visible=False, label="result")
        api_button = gr.Button(visible=False)
        api_button.click(app.api_predict, inputs=api_file, outputs=api_result, api_name="predict",
                         concurrency_limit=CONCURRENCY_LIMIT, concurrency_id="analysis",
                         api_description="Analyse one audio or video file; returns the dict of "
                                         "`avemo predict --format jsonl` (path = the file's name).")

        gr.Markdown(app.footer(), elem_id="footer")

    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY_LIMIT)
    app.janitor.queue_lookup = _queued_in(demo)
    demo.avemo_app = app  # for tests and the benchmark
    return demo


# A file dropped in the wrong tab (an audio file on the video box, a video on the voice box) would get
# Gradio's toast listing a dozen MIME types. The page catches such a drop first and hands the file to the
# other tab's box, which then holds it ready to analyse. It also keeps the video player's toast about a
# file it cannot play off the page: the summary says what is wrong, once.
ROUTE_DROPPED_FILES = """<script>
(() => {
  const AUDIO = /\\.(AUDIO_EXTENSIONS)$/i, VIDEO = /\\.(VIDEO_EXTENSIONS)$/i;
  const kind = (file) => (file.type.startsWith("audio/") || AUDIO.test(file.name)) ? "audio"
    : (file.type.startsWith("video/") || VIDEO.test(file.name)) ? "video" : null;
  const TABS = {audio: "Voice only", video: "Video"};
  window.addEventListener("drop", (event) => {
    const files = event.dataTransfer && event.dataTransfer.files;
    const box = event.target.closest && event.target.closest("#video-input, #audio-input");
    if (!box || !files || files.length !== 1) return;
    const wanted = kind(files[0]);
    if (!wanted || box.id === wanted + "-input") return;
    event.preventDefault();
    event.stopImmediatePropagation();
    const tab = [...document.querySelectorAll("button[role=tab]")].find((b) => b.textContent.includes(TABS[wanted]));
    if (tab) tab.click();
    const file = files[0], started = Date.now();
    const hand_over = () => {  // the other tab's box exists once its tab is shown
      const input = document.querySelector("#" + wanted + "-input input[type=file]");
      if (!input) { if (Date.now() - started < 5000) setTimeout(hand_over, 50); return; }
      const moved = new DataTransfer();
      moved.items.add(file);
      input.files = moved.files;
      input.dispatchEvent(new Event("change", {bubbles: true}));
    };
    setTimeout(hand_over, 50);
  }, true);
  // The video player's own "Video not playable" toast, for a file that is not a video: the summary says
  // what is wrong with it, once, when it is analysed.
  new MutationObserver(() => {
    for (const body of document.querySelectorAll(".toast-body")) {
      if (body.textContent.includes("Video not playable")) {
        (body.closest(".toast-wrap") || body.parentElement || body).remove();
      }
    }
  }).observe(document.body || document.documentElement, {childList: true, subtree: true});
})();
</script>""".replace("AUDIO_EXTENSIONS", "|".join(e[1:] for e in AUDIO_EXTENSIONS)).replace(
    "VIDEO_EXTENSIONS", "|".join(e[1:] for e in VIDEO_EXTENSIONS))
# Plotly's toolbar would cover the charts' titles on hover; the bars need no zoom (the JSON has the numbers).
# Plotly draws its text in a fixed colour: in dark mode it takes the page's instead (the charts' backgrounds are
# transparent, see avemo.app.plots). The face strip lays its frames out in as many columns as fit, each
# caption whole beneath its frame.
PAGE_CSS = """
#plot-audio .modebar-container, #plot-video .modebar-container, #plot-fused .modebar-container,
#plot-contributions .modebar-container { display: none !important; }
body.dark .js-plotly-plot text:not(.hoverlayer *) { fill: var(--body-text-color) !important; }
#frames .strip-title { font-size: var(--text-sm); color: var(--body-text-color-subdued); margin-bottom: 6px; }
#frames .face-strip { display: grid; grid-template-columns: repeat(auto-fill, minmax(120px, 1fr)); gap: 8px; }
#frames figure { margin: 0; }
#frames img { width: 100%; border-radius: 4px; display: block; }
#frames figcaption { font-size: var(--text-sm); line-height: 1.3; margin-top: 3px; }
#result-json a.result-download { font-size: var(--text-md); }
"""


def launch_options() -> dict:
    """Keyword arguments for demo.launch(): address from the environment, the upload limit, examples only."""
    return dict(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        max_file_size=max_upload_bytes(),
        allowed_paths=[str(EXAMPLES_DIR)],  # the bundled examples; never a user's file
        show_error=False,
        footer_links=["api", "gradio"],
        run_history=False,  # a run would point at uploads that are deleted after the analysis
        head=ROUTE_DROPPED_FILES,
        css=PAGE_CSS,
    )
