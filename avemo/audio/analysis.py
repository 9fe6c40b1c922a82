"""The voice branch: a waveform -> the speech in it -> every voice expert on each stretch of it -> emotion
probabilities for the clip and for its timeline. The voice's counterpart of avemo.face.video.

    analyser = VoiceAnalyzer.load(Path("weights/audio"))
    result, notes = analyser.analyse(path)                           # a file's audio track, decoded, then:
    result, notes = analyser.analyse_waveform(samples, sample_rate)  # sound already in memory (live mode)

The steps: trim the leading and trailing silence; refuse silence, too little sound (check_speech) and a
sound that is not a voice (the speech gate, avemo.audio.voice_activity); lay out the stretches the
timeline shows (for a clip longer than LONG_SPEECH_SECONDS its utterances, which also give its verdict;
else short windows across the speech the gate heard); read each stretch, and the whole utterance, with
every expert the model folder has: the spectral-frame CNN, the openSMILE functionals and descriptors
experts, the Whisper speech expert.

The networks sit behind a small interface: the model folder's methods (avemo.models.ModelFolder: `logits`,
`clip_logits`, `calibrated`, `warm_up`, and which experts it holds: their ONNX exports, on ONNX Runtime)
and the speech encoder's functions (numpy). This module only arranges their inputs.
"""
from __future__ import annotations

import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemo.audio.features import (check_speech, spectral_frames, speech_stretch, timeline_spans, trim_silence,
                                  utterance_spans, windows)
from avemo.audio.functionals import descriptor_rows_of, descriptor_windows, descriptors, extractor, functionals
from avemo.audio.speech_encoder import (encoder_states, expert_input, load_encoder, speech_representation,
                                        window_representations)
from avemo.audio.voice_activity import VAD_FILE, check_voice, session
from avemo.config import (AUDIO_FEATURES, DESCRIPTORS, FUNCTIONALS, LONG_SPEECH_SECONDS, MAX_ANALYSIS_SECONDS,
                          SPEECH_ENCODER, AudioFeatureConfig, DescriptorsConfig, FunctionalsConfig,
                          SpeechEncoderConfig)
from avemo.media import load_audio, to_mono_at_rate
from avemo.results import modality_result

log = logging.getLogger(__name__)

def _import_signal_processing() -> None:
    """librosa's modules the analysis uses (their imports take a second or more: scipy.signal, numba)."""
    import librosa.core.spectrum  # noqa: F401
    import librosa.effects  # noqa: F401
    import librosa.feature  # noqa: F401


# A voice analysed on less speech than this gets a proportionally smaller fusion weight.
FULL_RELIABILITY_SPEECH_SECONDS = 1.5


@dataclass
class VoiceAnalyzer:
    """A loaded audio model folder and its speech gate; `analyse` and `analyse_waveform` may be called from
    several threads at once (the ONNX sessions and the speech encoder are shared read-only, and each call keeps
    its own state)."""

    folder: object  # avemo.models.ModelFolder: the frame CNN and the clip-level experts
    cfg: AudioFeatureConfig = AUDIO_FEATURES
    functionals_cfg: FunctionalsConfig = FUNCTIONALS
    descriptors_cfg: DescriptorsConfig = DESCRIPTORS
    speech_cfg: SpeechEncoderConfig = SPEECH_ENCODER
    voice_gate: Path | None = None  # Silero VAD's file; None reads every sound as speech
    speech_normalise: str = "none"  # how the speech expert's training normalised its input (speech_encoder.expert_input)

    @classmethod
    def load(cls, folder: Path, warm_up: bool = True) -> "VoiceAnalyzer":
        """Load an audio model folder with its configuration, speech gate and all the analysis reads
        (`prepare`); with `warm_up`, run every model once too (the app: with the models, not in the first
        request; a one-off command would only wait longer). A folder without the gate's file (one trained for
        a test, say) reads every sound as speech."""
        from avemo.models import load_model_folder  # (ONNX Runtime loads with the models, not with this module)

        folder = Path(folder)
        loaded = load_model_folder(folder)
        config = loaded.config
        gate = folder / VAD_FILE
        analyser = cls(loaded, AudioFeatureConfig.from_dict(config["features"]),
                       FunctionalsConfig.from_dict(config.get("functionals", {})),
                       DescriptorsConfig.from_dict(config.get("descriptors", {})),
                       SpeechEncoderConfig.from_dict(config.get("speech_encoder", {})),
                       gate if gate.is_file() else None,
                       config.get("hparams", {}).get("speech_normalise", "none"))
        analyser.prepare()
        if warm_up:
            analyser.warm_up()
        if analyser.voice_gate is None:
            log.warning("no %s in %s: sounds that are not a voice will not be refused", VAD_FILE, folder)
        return analyser

    def prepare(self) -> None:
        """Load the speech encoders, openSMILE's extractors and the gate's session side by side on a few threads
        (they are independent, and most of their time is reading and hashing files or native code), then
        librosa's signal processing, once the encoders' files, read whole, are freed (a 3 s clip's command
        peaked at 690-710 MB so, 750-760 MB with all four at once)."""
        jobs = []
        if self.folder.speech is not None:  # one encoder after the other: each file is read whole (75-145 MB)
            jobs.append(lambda: [load_encoder(name) for name in self.speech_cfg.encoders])
        if self.folder.functionals is not None:
            jobs.append(functools.partial(extractor, self.functionals_cfg.feature_set))
        if self.folder.descriptors is not None:
            jobs.append(functools.partial(extractor, self.functionals_cfg.feature_set, "LowLevelDescriptors"))
        if self.voice_gate is not None:
            jobs.append(functools.partial(session, self.voice_gate))
        with ThreadPoolExecutor(max_workers=3) as loading:
            for job in [loading.submit(job) for job in jobs]:
                job.result()
        _import_signal_processing()

    def warm_up(self) -> None:
        """Run every model once (ONNX Runtime plans its memory on the first run; numpy's speech encoder too)."""
        self.folder.warm_up()
        if self.folder.speech is not None:
            speech_representation(np.zeros(self.cfg.sample_rate, np.float32) + 1e-3, self.speech_cfg)

    @property
    def path(self) -> Path:
        return self.folder.path

    @property
    def labels(self) -> list[str]:
        return list(self.folder.labels)

    def analyse(self, path: Path, max_seconds: float = MAX_ANALYSIS_SECONDS) -> tuple[dict, list[str]]:
        """Voice result (avemo.results.modality_result) of a file's first `max_seconds` of sound, and notes.
        Raises MediaError with the reason for the user."""
        waveform, _ = load_audio(path, self.cfg.sample_rate, max_seconds)  # Predictor.predict notes a truncation
        return self.analyse_waveform(waveform, self.cfg.sample_rate)

    def analyse_waveform(self, samples: np.ndarray, sample_rate: int) -> tuple[dict, list[str]]:
        """The same for sound already in memory: `samples` (n,) or (n, channels) at `sample_rate`, float in
        [-1, 1] or integer PCM; all of it is analysed (times in the result count from its first sample).
        Raises MediaError."""
        waveform = to_mono_at_rate(samples, sample_rate, self.cfg.sample_rate)
        speech, offset = trim_silence(waveform, self.cfg)
        check_speech(speech, self.cfg)
        # Is it a voice at all? A tone, noise or music is refused here, never given an emotion.
        voice = check_voice(waveform, speech, self.cfg.sample_rate, self.voice_gate) if self.voice_gate else {}
        # The experts read the speech the detector heard: the energy trim keeps a noisy room's silences.
        speech, offset = speech_stretch(waveform, voice.get("speech_segments", []), self.cfg)
        seconds = speech.size / self.cfg.sample_rate
        long_clip = seconds > LONG_SPEECH_SECONDS
        # (the frame CNN's input, where the folder has one; the timeline's windows are laid on its frame grid)
        frames = spectral_frames(speech, self.cfg) if self.folder.model is not None else None
        n_frames = len(frames) if frames is not None else 1 + speech.size // self.cfg.hop_length
        # The stretches the timeline shows, each read by every expert as a whole clip is: for a long clip
        # its utterances (which also give its verdict), else short windows across the speech the detector heard.
        voiced = [(max(0.0, a - offset), min(seconds, b - offset)) for a, b in voice.get("speech_segments", [])
                  if b > offset and a < offset + seconds]  # where the speech detector heard speech, in `speech`
        stretches = (utterance_spans(speech, self.cfg, voiced) if long_clip
                     else timeline_spans(n_frames, self.cfg, voiced))
        clip_logits, stretch_logits, verdict_from = self._read(speech, frames, stretches, long_clip)
        spans = [(offset + a, offset + b) for a, b in stretches]
        reliability = min(1.0, seconds / FULL_RELIABILITY_SPEECH_SECONDS)
        return modality_result(self.folder.calibrated(clip_logits), self.folder.calibrated(stretch_logits), spans,
                               reliability, verdict_from=verdict_from,
                               **({"speech_seconds": round(seconds, 2)} | voice), trimmed_seconds=round(seconds, 2)), []

    def _read(self, speech: np.ndarray, frames: np.ndarray | None, stretches: list[tuple[float, float]],
              long_clip: bool) -> tuple[np.ndarray, np.ndarray, str]:
        """(the clip's logits, each stretch's logits, what the verdict comes from): every expert of the folder
        on each stretch of `speech` (seconds), and on the whole utterance, or for a long clip its utterances'."""
        model, cfg, rate = self.folder, self.cfg, self.cfg.sample_rate
        seconds = speech.size / rate

        def frame_index(t: float) -> int:
            return int(round(t * rate / cfg.hop_length))

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
            def frame_logits(first: int, last: int):
                return model.logits(windows(frames[first:max(last, first + 1)], cfg)[0]) if frames is not None else None

            clip_frame_logits = frame_logits(0, len(frames)) if frames is not None and not long_clip else None
            stretch_frame_logits = [frame_logits(frame_index(a), frame_index(b)) for a, b in stretches]
            # Whisper's states depend on all the audio it attends to: an utterance of a long clip is encoded
            # alone, as it would be as a clip of its own; a short clip once, its windows reading their stretch.
            states = (encoder_states(speech, self.speech_cfg, rate)
                      if model.speech is not None and not long_clip else None)
            rows = pending_descriptors.result() if pending_descriptors else None

            def speech_input(start, end):
                if model.speech is None:
                    return None
                if long_clip:
                    representation = speech_representation(speech[int(start * rate):int(end * rate)], self.speech_cfg, rate)
                else:
                    representation = window_representations(states, [(start, end)])[0]
                return expert_input(representation, self.speech_cfg.encoders, self.speech_normalise)

            def read(frame_logits, pending, start, end):  # every expert on one stretch of the speech
                return model.clip_logits(
                    frame_logits, pending.result() if pending else None,
                    descriptor_windows(descriptor_rows_of(rows, start, end), self.descriptors_cfg) if rows is not None else None,
                    speech_input(start, end))

            stretch_logits = np.stack([read(f, p, a, b) for f, p, (a, b) in zip(stretch_frame_logits, pending_stretches, stretches)])
            if long_clip:  # longer than any training utterance: the verdict is its utterances', by their length
                from avemo.models import combine_logits

                clip_logits = combine_logits(*stretch_logits, weights=tuple(b - a for a, b in stretches))
                return clip_logits, stretch_logits, f"its {len(stretches)} utterances"
            # one utterance, read whole by every expert, as the evaluation scored it
            return read(clip_frame_logits, pending_clip, 0.0, seconds), stretch_logits, "the whole utterance"
