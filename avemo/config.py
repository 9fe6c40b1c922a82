"""The single source of truth for avemo's label set, feature parameters, limits and paths.

Training, inference, the app and the tests all import these names; nothing else in the
project spells out an emotion list, a sample rate or a window length.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

# The product's label set: the 8 RAVDESS emotions, in RAVDESS code order (01..08).
# SAVEE has no "calm"; FER2013 (the face backbone) has no "calm" either.
EMOTIONS: tuple[str, ...] = (
    "neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised",
)

# One colour per emotion, shared by every plot in the app and in the model cards.
EMOTION_COLOURS: dict[str, str] = {
    "neutral": "#9e9e9e", "calm": "#64b5f6", "happy": "#ffb300", "sad": "#3949ab",
    "angry": "#e53935", "fearful": "#8e24aa", "disgust": "#43a047", "surprised": "#f06292",
}

# The speech corpora a voice model may learn from, by the name its config.json "trained_on" counts their clips
# under ("<corpus>_clips"): how to name each, and its language (the app says what the voice has heard).
SPEECH_CORPORA: dict[str, tuple[str, str]] = {
    "ravdess": ("RAVDESS", "English"), "savee": ("SAVEE", "English"), "emodb": ("EmoDB", "German"),
}

MODALITIES: tuple[str, ...] = ("audio", "video")
# What a face result's "source" says: the live face model (video frames) or the expert on OpenFace action
# units. The fusion picks the face's confusion matrix by it.
LIVE_FACE_SOURCE = "face video"
ACTION_UNITS_SOURCE = "openface action units"


class SavedSettings:
    """Settings saved beside the weights as JSON (config.json) and read back from it. Keys a newer
    or older version does not know are ignored, so an older model folder still loads."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict):
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class AudioFeatureConfig(SavedSettings):
    """How a waveform becomes the audio model's input. Saved beside the weights.

    Frames are 32 ms apart; one analysis window is `window_seconds` long, and clips longer
    than that are covered by windows `window_hop_seconds` apart whose outputs are combined.
    """

    sample_rate: int = 16_000  # Hz; every input is resampled to this, mono
    n_fft: int = 512           # 32 ms analysis frame
    # 32 ms between frames: half the frames of a 16 ms hop, so twice the training steps in the
    # same CPU time; on a held-out fold it scored the same (40% vs 38%) with twice the epochs.
    hop_length: int = 512
    n_mels: int = 64           # log-mel bands (also the input of the MFCC transform)
    n_mfcc: int = 40           # used when kind == "mfcc"
    fmin: float = 40.0
    fmax: float = 8_000.0
    # "mfcc" or "logmel": MFCC frames scored 78.0 / 75.0% (RAVDESS / SAVEE) in the whole model against log-mel's
    # 76.4 / 74.6% on the same folds (v0.9.0's card), so the frame CNN reads MFCCs.
    kind: str = "mfcc"
    trim_top_db: float = 45.0  # leading/trailing silence quieter than this (dB below peak) is cut
    # What the experts read: the stretch from the speech detector's first segment to its last, widened by
    # `speech_margin_seconds` on each side ("speech detector"), or the energy trim above ("energy"; also the
    # fallback where the detector heard no speech). The energy trim cut nothing of a SAVEE take (its room's
    # noise floor is within 45 dB of the voice) nor of any clip with noise at 10 dB SNR, while the detector's
    # span of the same clip moved by under 0.1 s with that noise added.
    trim: str = "speech detector"
    speech_margin_seconds: float = 0.1
    window_seconds: float = 2.5      # RAVDESS speech is ~2 s once trimmed; SAVEE ~3.8 s
    window_hop_seconds: float = 1.25

    @property
    def n_bins(self) -> int:
        return self.n_mels if self.kind == "logmel" else self.n_mfcc

    @property
    def window_frames(self) -> int:
        return int(round(self.window_seconds * self.sample_rate / self.hop_length))

    @property
    def window_hop_frames(self) -> int:
        return int(round(self.window_hop_seconds * self.sample_rate / self.hop_length))


AUDIO_FEATURES = AudioFeatureConfig()


@dataclass(frozen=True)
class FunctionalsConfig(SavedSettings):
    """Utterance-level paralinguistic features of the audio model's third expert. Saved beside the weights.

    openSMILE's ComParE 2016 functionals: 6,373 statistics of 65 frame-level descriptors (loudness,
    pitch, jitter, shimmer, harmonics-to-noise ratio, spectral shape, MFCCs and more). They carry the
    prosody and voice quality that log-mel frames leave implicit; on held-out speakers they beat the
    CNN on its own (the card's ablation). They are computed on the trimmed speech after scaling its
    loudest 50 ms to `level_dbfs`, so the answer does not depend on the microphone's gain.
    """

    feature_set: str = "ComParE_2016"  # an opensmile.FeatureSet name
    level_dbfs: float = -20.0


FUNCTIONALS = FunctionalsConfig()


@dataclass(frozen=True)
class DescriptorsConfig(SavedSettings):
    """How the audio model's descriptor expert reads a clip. Saved beside the weights.

    The 65 ComParE 2016 low-level descriptors behind the functionals (loudness, pitch, voicing,
    jitter, shimmer, harmonics-to-noise ratio, spectral shape, MFCCs: one row every 10 ms), of the
    same trimmed, level-normalised speech (FUNCTIONALS.feature_set and level_dbfs), in windows
    of `window_frames` rows every `window_hop_frames`; a shorter clip is one padded window.
    """

    window_frames: int = 300       # 3 s: a whole RAVDESS utterance, most of a SAVEE one
    window_hop_frames: int = 150


DESCRIPTORS = DescriptorsConfig()


@dataclass(frozen=True)
class SpeechEncoderConfig(SavedSettings):
    """How the audio model's speech expert reads a clip (avemo.audio.speech_encoder). Saved beside the weights.

    `encoder` names the pretrained encoders (avemo.audio.speech_encoder.ENCODERS), joined by "+" when there
    are several: the expert reads each one's statistics side by side. Whisper tiny.en and base together
    beat either alone on held-out speakers (train.speech_encoders, the audio card). Each reads the trimmed
    speech after scaling its loudest 50 ms to `level_dbfs`, like the openSMILE features: Whisper's log-mel is
    absolute, so the answer would otherwise follow the microphone's gain.
    """

    encoder: str = "whisper-tiny.en+whisper-base"
    level_dbfs: float = -20.0

    @property
    def encoders(self) -> tuple[str, ...]:
        return tuple(self.encoder.split("+"))


SPEECH_ENCODER = SpeechEncoderConfig()


@dataclass(frozen=True)
class VideoFeatureConfig(SavedSettings):
    """How a video becomes the face model's input. Saved beside the video weights."""

    frames_per_window: int = 16    # frames sampled evenly from each window of the clip
    window_seconds: float = 4.0
    # Framing, measured on labelled stills (python -m train.faces sweep; the video model card shows it).
    # The square crop is centred on the eye-levelled landmark box, `margin` wider than the box's
    # longer side and moved up by `shift` of its side (negative: towards the brows).
    crop_size: int = 64            # the FER2013 mini-Xception's input: 64x64 grayscale
    crop_margin: float = 0.05
    crop_shift: float = -0.05
    expression_crop_size: int = 200    # the facex CNN's input: 200x200 RGB
    expression_crop_margin: float = 0.15
    expression_crop_shift: float = -0.1
    max_faces: int = 3             # several faces: the largest one is analysed


VIDEO_FEATURES = VideoFeatureConfig()

# Limits on what one request may ask of the machine. Longer clips are analysed up to the
# limit (with a note); shorter ones or silent ones are refused with a clear message.
MIN_SPEECH_SECONDS = 0.5
MAX_ANALYSIS_SECONDS = 60.0
# The voice timeline: windows of TIMELINE_WINDOW_SECONDS of speech about TIMELINE_HOP_SECONDS apart (further on
# long clips: at most TIMELINE_MAX_WINDOWS), each read by every voice expert, as a whole clip is (the frame
# experts saw windows this short in training, padded, as trimmed RAVDESS speech is). A clip with more speech
# than LONG_SPEECH_SECONDS, longer than any training utterance, takes its verdict from them.
TIMELINE_WINDOW_SECONDS = 1.5
TIMELINE_HOP_SECONDS = 0.5
TIMELINE_MAX_WINDOWS = 30
LONG_SPEECH_SECONDS = 8.0
# A long clip is read utterance by utterance: stretches of sound between pauses of at least PAUSE_SECONDS
# (quieter than AudioFeatureConfig.trim_top_db below the peak), a stretch over MAX_UTTERANCE_SECONDS cut into
# equal parts, and one under MIN_SPEECH_SECONDS joined to its neighbour.
PAUSE_SECONDS = 0.25
MAX_UTTERANCE_SECONDS = 5.0
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
# A clip whose loudest 50 ms stays below this is treated as silence. (The speech gate, not this level, refuses
# noise and other sounds: at -55 dBFS this refused one quiet RAVDESS take, 03-01-02-02-02-02-20, at -55.03.)
SILENCE_RMS_DBFS = -60.0

# Live mode (avemo.live): the windows the face and the voice read while the person speaks, and how often.
@dataclass(frozen=True)
class LiveConfig:
    """Each live reading is a file's analysis applied to the newest stretch: the face's to the frames of the
    last `face_window_seconds`, the voice's (speech gate included) to the last `voice_window_seconds` of sound,
    long enough for a RAVDESS sentence (~2 s of speech)."""

    # The page offers a frame this often; one is taken only once the last reading is shown, so the face is read
    # as often as the CPU allows (a longer interval would wait up to a whole interval after each reading).
    face_every_seconds: float = 0.1
    face_window_seconds: float = 1.0
    voice_every_seconds: float = 0.25       # the page sends the sound it heard this often
    voice_read_every_seconds: float = 0.75  # ... and the voice is read at most this often
    voice_window_seconds: float = 3.0
    fresh_seconds: float = 3.0              # an older reading is not fused: the face left, the voice stopped
    rolling_seconds: float = 30.0           # the page's timeline
    session_seconds: float = 60.0           # a session ends by itself after this (a free Space's CPU is shared)
    # The summary analyses the session as a clip (Predictor.predict_arrays): its sound, and one frame every
    # `record_frame_every_seconds` (kept JPEG-encoded in memory, never on disk), both capped like a file's at
    # MAX_ANALYSIS_SECONDS.
    record_frame_every_seconds: float = 0.5
    max_sessions: int = 1                   # live sessions at once (2 CPU cores on a free Space)


LIVE = LiveConfig()

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus", ".weba")
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".avi", ".mkv", ".m4v")
MEDIA_EXTENSIONS = AUDIO_EXTENSIONS + VIDEO_EXTENSIONS

# Paths. The repository root holds the bundled weights; data and caches live outside the package.
REPO_ROOT = Path(__file__).resolve().parent.parent
WEIGHTS_DIR = Path(os.environ.get("AVEMO_WEIGHTS", REPO_ROOT / "weights"))
# The model folders: voice, live face, the face-AU expert (OpenFace input), and their fusion.
MODEL_NAMES: tuple[str, ...] = ("audio", "video", "face_aus", "fusion")


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Where the corpora live: `override`, else $AVEMO_DATA, else ../shared/data beside the repo."""
    if override:
        return Path(override)
    return Path(os.environ.get("AVEMO_DATA", REPO_ROOT.parent / "shared" / "data"))


def cache_dir() -> Path:
    """Where extracted features are cached between runs ($AVEMO_CACHE, default ./cache)."""
    return Path(os.environ.get("AVEMO_CACHE", REPO_ROOT / "cache"))
