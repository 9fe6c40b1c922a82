"""The one function every front end calls: a media file in, audio / video / fused emotions out.

    from avemo import predict
    result = predict("clip.mp4")          # loads the models once, then reuses them
    result["fused"]["label"]

With OpenFace output for the clip (`predict(path, face_aus=read_clip_action_units(csv, take=path))`),
the face-AU expert is the face modality instead of the live face model, and `video.source` says so.

`Predictor` only orchestrates: it resolves the weights (the Hub, or the bundled `weights/`), loads each
modality's analyser (avemo.audio.analysis.VoiceAnalyzer, avemo.face.video.VideoAnalyzer, the face-AU
expert), runs those the input needs and fuses their verdicts (avemo.fusion.rule). `Predictor()` loads every
model at once (the app: ready when it starts); `Predictor(lazy=True)` loads each modality on its first need
(the CLI, the batch workers, `predict()`), so an audio file never loads the face models. The models are
loaded once per Predictor, under a lock, and shared by the threads that call it.

`predict_arrays` takes sound and frames already in memory (live mode's chunks) instead of a file.
Its result, like `predict`'s, is a plain JSON-ready dict:

    {"path": str | None,                  # None for predict_arrays
     "audio": {"label", "probs": {emotion: p}, "timeline": [{"start", "end", "probs"}],
               "reliability", "verdict_from",                     # each window: every voice expert
               "speech_seconds", "speech_found_by", "speech_segments",   # the speech the gate found
               "trimmed_seconds"} | None,                          # the sound the models read
     "video": {... same keys ..., "faces_found", "frames", "source",
               "frame_timeline": [{"time", "probs"}]} | None,   # each face the head read (live face model)
     "fused": {"label", "probs", "weights": {"audio": w, "video": w}, "agreement", "modalities", "method",
               "contributions": {modality: {emotion: bits}}, "reason": str} | None,
     "unavailable": {modality: reason},   # why a modality is missing (no face, no audio track, ...)
     "notes": [str],                       # e.g. "analysed the first 60 s of 312 s"
     "error": str | None}                  # set when nothing could be analysed
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from avemo.backend import release_freed_memory
from avemo.config import MAX_ANALYSIS_SECONDS
from avemo.media import MediaError, check_input_file, complete_header, probe

log = logging.getLogger(__name__)


class ModelLoadError(Exception):
    """A modality's models could not be loaded (a file the runtime refuses, a package that is not installed).
    The message is for the user. It is no fault of the input, so `Predictor.predict` raises it rather than
    writing it into one file's result."""


# The model folders a Predictor can hold, each with what loads it (imported only then: ONNX Runtime, mediapipe
# and openSMILE come with the models, not with this module). `warm_up`: run the models once now (the app, which
# loads at start) rather than at the first input (a command, which loads for that input).
def _load_voice(folder: Path, warm_up: bool):
    from avemo.audio.analysis import VoiceAnalyzer

    return VoiceAnalyzer.load(folder, warm_up)


def _load_face(folder: Path, warm_up: bool):
    from avemo.face.video import VideoAnalyzer

    return VideoAnalyzer.load(folder)


def _load_face_aus(folder: Path, warm_up: bool):
    from avemo.face.action_units import load_au_expert

    return load_au_expert(folder)


LOADERS: dict[str, Callable[[Path, bool], object]] = {"audio": _load_voice, "video": _load_face,
                                                      "face_aus": _load_face_aus}


def empty_result(path) -> dict:
    return {"path": None if path is None else str(path), "audio": None, "video": None, "fused": None,
            "unavailable": {}, "notes": [], "error": None}


class Predictor:
    """The model folders, their analysers (loaded on first need, or all at once), and the analysis of one
    input at a time.

    Making one keeps mediapipe's and the runtimes' C++ notices off standard error for the rest of the
    process, as the CLI and the app do (avemo.backend.filter_native_logs; AVEMO_NATIVE_LOGS=1 shows them):
    a Python user would otherwise see lines such as mediapipe's "W0000 ... landmark_projection_calculator"
    on the first face of every clip."""

    def __init__(self, folders: dict[str, Path] | None = None, origin: str | None = None, *, lazy: bool = False):
        """`folders`: {"audio", "video", "face_aus", "fusion": model folder} (default: resolve_weights()).
        Without `lazy`, every model is loaded now and a failure raises ModelLoadError here; with it, each
        modality's models load on its first need (`load` warms some now)."""
        from avemo.backend import filter_native_logs
        from avemo.fusion.rule import load_fusion

        filter_native_logs()
        if folders is None:
            from avemo.hub import resolve_weights

            source = resolve_weights()
            folders, origin = source.folders, source.origin
        self.folders = {name: Path(folder) for name, folder in folders.items()}
        self.origin = origin or "given folders"
        self.fusion = load_fusion(self.folders.get("fusion"))
        self._models: dict[str, object] = {}
        self._loading = {name: threading.Lock() for name in LOADERS}
        self._warm_up = not lazy
        if not lazy:
            self.load()
        log.info("avemo models from %s: %s%s", self.origin, ", ".join(sorted(self.folders)) or "none",
                 " (each loaded on first need)" if lazy else "")

    # -- the models, each loaded once ---------------------------------------------------------
    def load(self, *modalities: str) -> None:
        """Load the models of `modalities` ("audio", "video", "face_aus"; default: all) now, if not yet.
        Raises ModelLoadError."""
        for name in modalities or LOADERS:
            self._model(name)

    def _model(self, name: str):
        """The loaded analyser of a modality (None if the folders have none for it), loaded on first call.
        One lock per modality: two threads never load the same models twice; two modalities load side by side."""
        if name in self._models:  # (a dict read needs no lock; a model is stored only once fully loaded)
            return self._models[name]
        with self._loading[name]:
            if name not in self._models:
                folder = self.folders.get(name)
                self._models[name] = None if folder is None else self._load(name, folder, self._warm_up)
            return self._models[name]

    def _prefetch(self, name: str) -> None:
        """Start loading a modality's models on a helper thread, if not loaded yet: a video's face models (and
        mediapipe) then load while its voice is analysed. A failure there is left for `_model` to raise."""
        if name in self._models or self.folders.get(name) is None:
            return

        def load():
            try:
                self._model(name)
            except ModelLoadError:
                pass

        threading.Thread(target=load, name=f"avemo-load-{name}", daemon=True).start()

    @staticmethod
    def _load(name: str, folder: Path, warm_up: bool):
        log.info("loading the %s models from %s", name, folder)
        try:
            return LOADERS[name](folder, warm_up)
        except MediaError as error:  # e.g. the speech encoder's package is not installed: a sentence already
            raise ModelLoadError(str(error)) from error
        except Exception as error:  # a file Keras or onnxruntime refuses
            raise ModelLoadError(f"{folder}: {type(error).__name__}: {error}") from error

    @property
    def audio_model(self):
        """The voice's analyser (avemo.audio.analysis.VoiceAnalyzer), or None without an audio folder."""
        return self._model("audio")

    @property
    def video_model(self):
        """The face's analyser (avemo.face.video.VideoAnalyzer), or None without a video folder."""
        return self._model("video")

    @property
    def au_expert(self):
        """The face-AU expert (avemo.face.action_units.ActionUnitExpert), or None."""
        return self._model("face_aus")

    def _analyser(self, modality: str):
        analyser = self._model(modality)
        if analyser is None:
            raise MediaError(f"no {modality} model is installed")
        return analyser

    # -- one file ----------------------------------------------------------------------------
    def predict(self, path: str | Path, modality: str = "both",
                max_seconds: float = MAX_ANALYSIS_SECONDS, face_aus=None, on_stage=None) -> dict:
        """Analyse one file. Never raises for bad input: problems land in "error"/"unavailable". Raises
        ModelLoadError if a model the file needs cannot be loaded.

        `face_aus` (an avemo.face.openface.ClipActionUnits): the clip's OpenFace action units, read by the
        face-AU expert as the face modality in place of the video's frames. `on_stage(name)`, if given, hears
        each stage as it starts ("decoding", "voice", "face"): the app shows it while a long clip is analysed."""
        on_stage = on_stage or (lambda name: None)
        on_stage("decoding")
        result = empty_result(path)
        try:
            path = check_input_file(path)
            info = probe(path)
        except MediaError as error:
            result["error"] = str(error)
            return result
        if info.duration > max_seconds:
            result["notes"].append(f"the clip is {info.duration:.0f} s long; analysed the first {max_seconds:.0f} s")
        try:
            with complete_header(path, info) as readable:
                self._analyse(result, readable, info, modality, max_seconds, face_aus, on_stage)
        except OSError:  # a streamed recording that ffmpeg cannot even copy
            result["error"] = "could not read the recording (corrupt or truncated)"
        finally:
            release_freed_memory()  # (see avemo.backend: the app's threads would otherwise hold it)
        return result

    def _analyse(self, result: dict, path: Path, info, modality: str, max_seconds: float, face_aus=None,
                 on_stage=lambda name: None) -> None:
        wanted = {"audio", "video"} if modality == "both" else {modality}
        if face_aus is not None and "video" in wanted:
            if self.au_expert is None:
                result["unavailable"]["video"] = "no action-unit model is installed"
            else:
                result["video"] = self.au_expert.analyse(face_aus)
            wanted.discard("video")
        if "audio" in wanted:
            if not info.has_audio:
                result["unavailable"]["audio"] = "the file has no audio track"
            else:
                if "video" in wanted and info.has_video:
                    self._prefetch("video")
                on_stage("voice")
                self._run(result, "audio", lambda: self._analyser("audio").analyse(path, max_seconds))
        if "video" in wanted:
            if not info.has_video:
                result["unavailable"]["video"] = "the file has no video track: it is audio only"
            else:
                on_stage("face")
                self._run(result, "video", lambda: self._analyser("video").analyse(path, info, max_seconds))
        held = {m for m, present in (("audio", info.has_audio), ("video", info.has_video)) if present}
        self._fuse(result, held)

    # -- sound and frames in memory (live mode) -----------------------------------------------
    def predict_arrays(self, audio: tuple | None = None, video: tuple | None = None) -> dict:
        """Analyse sound and/or frames already in memory, as `predict` analyses a file: `audio` = (samples,
        sample_rate) (VoiceAnalyzer.analyse_waveform), `video` = (RGB frames, their times in seconds[, duration])
        (VideoAnalyzer.analyse_frames), times counting from the start of both. The result's "path" is None.
        Raises ModelLoadError."""
        result = empty_result(None)
        if audio is not None:
            self._run(result, "audio", lambda: self._analyser("audio").analyse_waveform(*audio))
        if video is not None:
            self._run(result, "video", lambda: self._analyser("video").analyse_frames(*video))
        self._fuse(result, {m for m, given in (("audio", audio), ("video", video)) if given is not None})
        return result

    # -- the parts every input shares ---------------------------------------------------------
    def _fuse(self, result: dict, held: set[str]) -> None:
        """The fused verdict of the modalities analysed, or the error that says why there is none; `held`:
        the modalities the input holds (naming what failed in them: "no video" is no news for an audio file)."""
        from avemo.fusion.rule import fuse

        result["fused"] = fuse(result["audio"], result["video"], self.fusion)
        if result["fused"] is None:
            reasons = {m: r for m, r in result["unavailable"].items() if m in held} or result["unavailable"]
            result["error"] = "; ".join(f"{m}: {r}" for m, r in reasons.items()) or "nothing could be analysed"

    @staticmethod
    def _run(result: dict, modality: str, analyse) -> None:
        try:
            output, notes = analyse()
            result[modality] = output
            result["notes"].extend(notes)
        except MediaError as error:
            result["unavailable"][modality] = str(error)
        except ModelLoadError:  # the models, not this input: the caller says so once
            raise
        except Exception as error:  # a decoder or model failure must not take the other modality down
            log.exception("%s analysis failed", modality)
            result["unavailable"][modality] = f"{modality} analysis failed ({type(error).__name__})"


_default: Predictor | None = None
_default_lock = threading.Lock()


def default_predictor() -> Predictor:
    """The process-wide Predictor; each modality's models load on first need."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Predictor(lazy=True)
        return _default


def predict(path: str | Path, modality: str = "both") -> dict:
    """Analyse one media file with the default (bundled or Hub) models. See the module docstring."""
    return default_predictor().predict(path, modality)
