"""The one function every front end calls: a media file in, audio / video / fused emotions out.

    from avemo import predict
    result = predict("clip.mp4")          # loads the models once, then reuses them
    result["fused"]["label"]

With OpenFace output for the clip (`predict(path, face_aus=read_clip_action_units(csv, take=path))`),
the face-AU expert is the face modality instead of the live face model, and `video.source` says so.

`Predictor` holds the loaded models (safe to share between threads: Keras inference and the
per-call state here are read-only). Its result is a plain JSON-ready dict:

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from avemo.audio.features import (check_speech, spectral_frames, speech_stretch, timeline_spans, trim_silence,
                                  utterance_spans, windows)
from avemo.audio.functionals import descriptor_rows_of, descriptor_windows, descriptors, extractor, functionals
from avemo.audio.speech_encoder import encoder_states, speech_representation, window_representations
from avemo.audio.voice_activity import VAD_FILE, check_voice, session
from avemo.config import (AUDIO_FEATURES, DESCRIPTORS, FUNCTIONALS, LONG_SPEECH_SECONDS, MAX_ANALYSIS_SECONDS,
                          SPEECH_ENCODER, AudioFeatureConfig, DescriptorsConfig, FunctionalsConfig,
                          SpeechEncoderConfig)
from avemo.media import MediaError, check_input_file, complete_header, load_audio, probe
from avemo.results import modality_result

log = logging.getLogger(__name__)

# A modality analysed on less speech than this gets a proportionally smaller fusion weight.
FULL_RELIABILITY_SPEECH_SECONDS = 1.5


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
        from avemo.models import load_model_folder

        if folders is None:
            source = resolve_weights()
            folders, origin = source.folders, source.origin
        self.origin = origin or "given folders"
        self.audio_model = load_model_folder(folders["audio"]) if "audio" in folders else None
        self.audio_cfg = (AudioFeatureConfig.from_dict(self.audio_model.config["features"])
                          if self.audio_model else AUDIO_FEATURES)
        self.functionals_cfg = (FunctionalsConfig.from_dict(self.audio_model.config.get("functionals", {}))
                                if self.audio_model else FUNCTIONALS)
        self.descriptors_cfg = (DescriptorsConfig.from_dict(self.audio_model.config.get("descriptors", {}))
                                if self.audio_model else DESCRIPTORS)
        self.speech_cfg = (SpeechEncoderConfig.from_dict(self.audio_model.config.get("speech_encoder", {}))
                           if self.audio_model else SPEECH_ENCODER)
        if self.audio_model:  # now, with the models, not in the first request
            self.audio_model.warm_up()
            if self.audio_model.speech is not None:
                speech_representation(np.zeros(self.audio_cfg.sample_rate, np.float32) + 1e-3, self.speech_cfg)
            if self.audio_model.functionals is not None:
                extractor(self.functionals_cfg.feature_set)
            if self.audio_model.descriptors is not None:
                extractor(self.functionals_cfg.feature_set, "LowLevelDescriptors")
        # The speech gate (avemo.audio.voice_activity): Silero VAD's file in the audio folder. A folder without
        # it (one trained for a test, say) reads every sound as speech.
        self.voice_gate = None
        if self.audio_model and (Path(folders["audio"]) / VAD_FILE).is_file():
            self.voice_gate = Path(folders["audio"]) / VAD_FILE
            session(self.voice_gate)
        elif self.audio_model:
            log.warning("no %s in %s: sounds that are not a voice will not be refused", VAD_FILE, folders["audio"])
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

    # -- audio -----------------------------------------------------------------------------
    def analyse_audio(self, path: Path, max_seconds: float = MAX_ANALYSIS_SECONDS) -> tuple[dict, list[str]]:
        """Audio result for a file, and notes for the user. Raises MediaError with the reason."""
        if self.audio_model is None:
            raise MediaError("no audio model is installed")
        cfg = self.audio_cfg
        waveform, _ = load_audio(path, cfg.sample_rate, max_seconds)  # predict() notes a truncation
        speech, offset = trim_silence(waveform, cfg)
        check_speech(speech, cfg)
        # Is it a voice at all? A tone, noise or music is refused here, never given an emotion.
        voice = check_voice(waveform, speech, cfg.sample_rate, self.voice_gate) if self.voice_gate else {}
        # The experts read the speech the detector heard: the energy trim keeps a noisy room's silences.
        speech, offset = speech_stretch(waveform, voice.get("speech_segments", []), cfg)
        model = self.audio_model
        rate, seconds = cfg.sample_rate, speech.size / cfg.sample_rate
        long_clip = seconds > LONG_SPEECH_SECONDS
        frames = spectral_frames(speech, cfg)
        # The stretches the timeline shows, each read by every expert as a whole clip is: for a long clip
        # its utterances (which also give its verdict), else short windows across the speech the detector heard.
        voiced = [(max(0.0, a - offset), min(seconds, b - offset)) for a, b in voice.get("speech_segments", [])
                  if b > offset and a < offset + seconds]  # where the speech detector heard speech, in `speech`
        stretches = utterance_spans(speech, cfg, voiced) if long_clip else timeline_spans(len(frames), cfg, voiced)
        frame_index = lambda t: int(round(t * rate / cfg.hop_length))  # noqa: E731
        with ThreadPoolExecutor(max_workers=2) as helpers:
            # openSMILE runs in C without holding the GIL, so its passes (the clip's and each stretch's
            # functionals, the descriptors) run on other threads while the frame experts and the speech
            # encoder run here.
            def functionals_of(start, end):
                return (helpers.submit(functionals, speech[int(start * rate):int(end * rate)], self.functionals_cfg, rate)
                        if model.functionals is not None else None)

            pending_descriptors = (helpers.submit(descriptors, speech, self.functionals_cfg, rate)
                                   if model.descriptors is not None else None)
            pending_clip = functionals_of(0.0, seconds) if not long_clip else None
            pending_stretches = [functionals_of(start, end) for start, end in stretches]
            clip_frame_logits = model.logits(windows(frames, cfg)[0]) if not long_clip else None
            stretch_frame_logits = [model.logits(windows(frames[frame_index(a):max(frame_index(b), frame_index(a) + 1)],
                                                         cfg)[0]) for a, b in stretches]
            # Whisper's states depend on all the audio it attends to: an utterance of a long clip is encoded
            # alone, as it would be as a clip of its own; a short clip once, its windows reading their stretch.
            states = (encoder_states(speech, self.speech_cfg, rate)
                      if model.speech is not None and not long_clip else None)
            rows = pending_descriptors.result() if pending_descriptors else None

            def speech_input(start, end):
                if model.speech is None:
                    return None
                if long_clip:
                    return speech_representation(speech[int(start * rate):int(end * rate)], self.speech_cfg, rate)
                return window_representations(states, [(start, end)])[0]

            def read(frame_logits, pending, start, end):  # every expert on one stretch of the speech
                return model.clip_logits(
                    frame_logits, pending.result() if pending else None,
                    descriptor_windows(descriptor_rows_of(rows, start, end), self.descriptors_cfg) if rows is not None else None,
                    speech_input(start, end))

            stretch_logits = np.stack([read(f, p, a, b) for f, p, (a, b) in zip(stretch_frame_logits, pending_stretches, stretches)])
            if long_clip:  # longer than any training utterance: the verdict is its utterances', by their length
                from avemo.models import combine_logits  # (TensorFlow loads with the models, not with this module)

                clip_logits = combine_logits(*stretch_logits, weights=tuple(b - a for a, b in stretches))
                verdict_from = f"its {len(stretches)} utterances"
            else:  # one utterance, read whole by every expert, as the evaluation scored it
                clip_logits, verdict_from = read(clip_frame_logits, pending_clip, 0.0, seconds), "the whole utterance"
        spans = [(offset + a, offset + b) for a, b in stretches]
        reliability = min(1.0, seconds / FULL_RELIABILITY_SPEECH_SECONDS)
        return modality_result(model.calibrated(clip_logits), model.calibrated(stretch_logits), spans, reliability,
                               verdict_from=verdict_from,
                               **({"speech_seconds": round(seconds, 2)} | voice), trimmed_seconds=round(seconds, 2)), []

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
            else:
                self._run(result, "audio", lambda: self.analyse_audio(path, max_seconds))
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
