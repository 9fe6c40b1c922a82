"""The one function every front end calls: a media file in, audio / video / fused emotions out.

    from avemo import predict
    result = predict("clip.mp4")          # loads the models once, then reuses them
    result["fused"]["label"]

With OpenFace output for the clip (`predict(path, face_aus=read_clip_action_units(csv, take=path))`),
the face-AU expert is the face modality instead of the live face model, and `video.source` says so.

`Predictor` holds the loaded analysers, the voice's (avemo.audio.analysis.VoiceAnalyzer) and the face's
(avemo.face.video.VideoAnalyzer), and fuses their verdicts (safe to share between threads: Keras inference
and the per-call state here are read-only). Its result is a plain JSON-ready dict:

    {"path": str,
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

from avemo.config import MAX_ANALYSIS_SECONDS
from avemo.media import MediaError, check_input_file, complete_header, probe

log = logging.getLogger(__name__)


class Predictor:
    """Loaded models plus the analysis of one file at a time.

    Making one keeps TensorFlow's and mediapipe's C++ notices off standard error for the rest of the
    process, as the CLI and the app do (avemo.backend.filter_native_logs; AVEMO_NATIVE_LOGS=1 shows them):
    a Python user would otherwise see lines such as mediapipe's "W0000 ... landmark_projection_calculator"
    on the first face of every clip."""

    def __init__(self, folders: dict[str, Path] | None = None, origin: str | None = None):
        from avemo.backend import filter_native_logs
        from avemo.fusion.rule import load_fusion

        filter_native_logs()
        from avemo.hub import resolve_weights

        if folders is None:
            source = resolve_weights()
            folders, origin = source.folders, source.origin
        self.origin = origin or "given folders"
        self.audio_model = None
        if "audio" in folders:
            from avemo.audio.analysis import VoiceAnalyzer

            self.audio_model = VoiceAnalyzer.load(folders["audio"])
        self.video_model = None
        if "video" in folders:
            from avemo.face.video import VideoAnalyzer

            self.video_model = VideoAnalyzer.load(folders["video"])
        self.au_expert = None
        if "face_aus" in folders:
            from avemo.face.action_units import load_au_expert

            self.au_expert = load_au_expert(folders["face_aus"])
        self.fusion = load_fusion(folders.get("fusion"))
        log.info("avemo models loaded from %s: %s", self.origin, ", ".join(sorted(folders)) or "none")

    # -- one file ----------------------------------------------------------------------------
    def predict(self, path: str | Path, modality: str = "both",
                max_seconds: float = MAX_ANALYSIS_SECONDS, face_aus=None) -> dict:
        """Analyse one file. Never raises for bad input: problems land in "error"/"unavailable".

        `face_aus` (an avemo.face.openface.ClipActionUnits): the clip's OpenFace action units, read by the
        face-AU expert as the face modality in place of the video's frames."""
        result = {"path": str(path), "audio": None, "video": None, "fused": None,
                  "unavailable": {}, "notes": [], "error": None}
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
                self._analyse(result, readable, info, modality, max_seconds, face_aus)
        except OSError:  # a streamed recording that ffmpeg cannot even copy
            result["error"] = "could not read the recording (corrupt or truncated)"
        return result

    def _analyse(self, result: dict, path: Path, info, modality: str, max_seconds: float, face_aus=None) -> None:
        from avemo.fusion.rule import fuse

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
            elif self.audio_model is None:
                result["unavailable"]["audio"] = "no audio model is installed"
            else:
                self._run(result, "audio", lambda: self.audio_model.analyse(path, max_seconds))
        if "video" in wanted:
            if not info.has_video:
                result["unavailable"]["video"] = "the file has no video track: it is audio only"
            elif self.video_model is None:
                result["unavailable"]["video"] = "no video model is installed"
            else:
                self._run(result, "video", lambda: self.video_model.analyse(path, info, max_seconds))

        result["fused"] = fuse(result["audio"], result["video"], self.fusion)
        if result["fused"] is None:
            # Name what failed in what the file holds; "no video" is no news for an audio file.
            held = {m for m, present in (("audio", info.has_audio), ("video", info.has_video)) if present}
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
        except Exception as error:  # a decoder or model failure must not take the other modality down
            log.exception("%s analysis failed", modality)
            result["unavailable"][modality] = f"{modality} analysis failed ({type(error).__name__})"


_default: Predictor | None = None
_default_lock = threading.Lock()


def default_predictor() -> Predictor:
    """The process-wide Predictor, loaded on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Predictor()
        return _default


def predict(path: str | Path, modality: str = "both") -> dict:
    """Analyse one media file with the default (bundled or Hub) models. See the module docstring."""
    return default_predictor().predict(path, modality)
