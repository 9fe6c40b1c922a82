"""The on-disk format of a model folder, and the arithmetic on logits every model shares.

A model folder (weights/audio, weights/video) holds `model.keras`, `labels.json` (the class
order of the outputs), `config.json` (feature parameters and the calibration temperature) and a
model card `README.md`; the audio folder also holds `functionals.keras`, `descriptors.keras` and
`speech.keras`, its clip-level experts.
Models output logits; `ModelFolder.calibrated` turns them into calibrated probabilities with the
folder's temperature.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avemo.backend import import_tensorflow
from avemo.config import EMOTIONS

import_tensorflow()  # before any Keras import below: quietly (see avemo.backend)


def combine_logits(*logits: np.ndarray, weights: tuple[float, ...] | None = None) -> np.ndarray:
    """What `combine_audio_models` computes, on logits already in hand: the (weighted) mean of the
    experts' log-probabilities."""
    def log_softmax(z):
        z = np.asarray(z, dtype=np.float64)
        z = z - z.max(axis=-1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    return np.average([log_softmax(z) for z in logits], axis=0, weights=weights)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


# The audio folder's clip-level experts and their files.
CLIP_EXPERT_FILES = {"functionals": "functionals.keras", "descriptors": "descriptors.keras", "speech": "speech.keras"}


def traced(model):
    """`model(x, training=False)` as one traced TensorFlow graph, for any batch size of its one input.
    Called eagerly, Keras spends a small model's time dispatching ops from Python: the audio CNN took
    30-50 ms a call that way and 2-6 ms traced, the functionals head 17 ms and 2 ms (measured here)."""
    import tensorflow as tf

    signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)]
    return tf.function(lambda x: model(x, training=False), input_signature=signature, autograph=False)


@dataclass
class ModelFolder:
    """A loaded model folder: the Keras model, its class order and its configuration, and for the
    audio model its clip-level experts (functionals, descriptors and speech)."""

    path: Path
    model: object
    labels: list[str]
    config: dict = field(default_factory=dict)
    functionals: object | None = None
    descriptors: object | None = None
    speech: object | None = None

    @property
    def temperature(self) -> float:
        return float(self.config.get("temperature", 1.0))

    def expert_weight(self, name: str) -> float:
        """An expert's weight in the clip's verdict, as its training chose it ("descriptors", "speech")."""
        return float(self.config.get("hparams", {}).get(f"{name}_weight", 1.0))

    def _infer(self, part: str, batch: np.ndarray) -> np.ndarray:
        """Logits of one of the folder's models ("model", "functionals", "descriptors", "speech") for a batch,
        through its traced graph (made on first use and kept)."""
        graphs = self.__dict__.setdefault("_graphs", {})
        if part not in graphs:
            graphs[part] = traced(getattr(self, part))
        return np.asarray(graphs[part](np.asarray(batch, np.float32)))

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Logits of a batch of windows (a single-input model)."""
        return self._infer("model", batch)

    def functionals_logits(self, functionals: np.ndarray) -> np.ndarray:
        """The functionals expert's logits for one clip's functionals."""
        return self._infer("functionals", np.asarray(functionals)[None])[0]

    def descriptors_logits(self, descriptor_windows: np.ndarray) -> np.ndarray:
        """The descriptor expert's logits for one clip: the mean over its windows of descriptor rows."""
        return self._infer("descriptors", descriptor_windows).mean(axis=0)

    def speech_logits(self, representation: np.ndarray) -> np.ndarray:
        """The speech expert's logits for one clip's Whisper encoder statistics."""
        return self._infer("speech", np.asarray(representation)[None])[0]

    def warm_up(self) -> None:
        """Trace the audio graphs now (about 0.5 s), with the models, rather than in the first request."""
        self.logits(np.zeros((1, *self.model.input_shape[1:]), np.float32))
        if self.functionals is not None:
            self.functionals_logits(np.zeros(self.functionals.input_shape[1:], np.float32))
        if self.descriptors is not None:
            self.descriptors_logits(np.ones((1, *self.descriptors.input_shape[1:]), np.float32))
        if self.speech is not None:
            self.speech_logits(np.zeros(self.speech.input_shape[1:], np.float32))

    def clip_logits(self, window_logits: np.ndarray, functionals: np.ndarray | None = None,
                    descriptor_windows: np.ndarray | None = None,
                    speech_representation: np.ndarray | None = None) -> np.ndarray:
        """A clip's logits: the mean over its windows, combined in log-probability space with the
        verdicts of the clip-level experts the folder has (functionals, descriptors, speech; the
        descriptor and speech experts with the weights their training chose), as train.audio's
        evaluation scores them."""
        parts, weights = [window_logits.mean(axis=0)], [1.0]
        if self.functionals is not None:
            parts.append(self.functionals_logits(functionals))
            weights.append(1.0)
        if self.descriptors is not None:
            parts.append(self.descriptors_logits(descriptor_windows))
            weights.append(self.expert_weight("descriptors"))
        if self.speech is not None:
            parts.append(self.speech_logits(speech_representation))
            weights.append(self.expert_weight("speech"))
        return parts[0] if len(parts) == 1 else combine_logits(*parts, weights=weights)

    def calibrated(self, logits: np.ndarray) -> np.ndarray:
        """Temperature-scaled probabilities of some logits, in the product's EMOTIONS order."""
        return to_product_order(softmax(logits, self.temperature), self.labels)


def to_product_order(probs: np.ndarray, labels: list[str]) -> np.ndarray:
    """Reorder (and zero-fill) probabilities from a model's label order into EMOTIONS order."""
    out = np.zeros(probs.shape[:-1] + (len(EMOTIONS),), dtype=np.float32)
    for i, name in enumerate(labels):
        out[..., EMOTIONS.index(name)] += probs[..., i]
    return out


def save_model_folder(folder: Path, model, labels: list[str], config: dict, **clip_experts) -> None:
    """Write a model folder; `clip_experts` are the audio model's clip-level experts by name
    (functionals=, descriptors=, speech=), each saved to its CLIP_EXPERT_FILES file."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.keras")
    for name, expert in clip_experts.items():
        if expert is not None:
            expert.save(folder / CLIP_EXPERT_FILES[name])
    (folder / "labels.json").write_text(json.dumps(list(labels), indent=1) + "\n")
    (folder / "config.json").write_text(json.dumps(config, indent=1, sort_keys=True) + "\n")


def load_model_folder(folder: Path) -> ModelFolder:
    """Load a model folder written by `save_model_folder`. Raises FileNotFoundError if absent.

    Models built with avemo's own Keras layers load once the module that registers them is imported:
    avemo.audio.layers for the audio folder (VoiceAnalyzer.load imports it), avemo.face.video for the video
    folder (VideoAnalyzer.load lives there). Keeping that on each modality's side leaves this module free of both."""
    import keras

    folder = Path(folder)
    model_file = folder / "model.keras"
    if not model_file.exists():
        raise FileNotFoundError(f"no model at {model_file}")
    # Safe mode (the default) refuses Lambda layers and arbitrary code: weights may come from the Hub.
    model = keras.saving.load_model(model_file, compile=False)
    clip_experts = {name: keras.saving.load_model(folder / file, compile=False)
                    for name, file in CLIP_EXPERT_FILES.items() if (folder / file).exists()}
    labels = json.loads((folder / "labels.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    return ModelFolder(folder, model, labels, config, **clip_experts)
