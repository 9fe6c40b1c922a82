"""The on-disk format of a model folder, and the arithmetic on logits every model shares.

A model folder (weights/audio, weights/video) holds `model.keras`, `labels.json` (the class
order of the outputs), `config.json` (feature parameters and the calibration temperature) and a
model card `README.md`; the audio folder may also hold `functionals.keras`, `descriptors.keras` and
`speech.keras`, its clip-level experts. Every expert of the audio folder is optional, its frame CNN
(`model.keras`) too, as long as one is there. Beside each `.keras` file lies its ONNX export
(`model.onnx`, ...), written when the model is saved (`save_model_folder`, avemo.onnx_export): inference
loads the exports only (`load_model_folder`, avemo.runtime), so it never imports TensorFlow or Keras.
Models output logits; `ModelFolder.calibrated` turns them into calibrated probabilities with the
folder's temperature.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avemo.config import EMOTIONS
from avemo.runtime import SOURCE_SHA256, OnnxModel, file_sha256


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


@dataclass
class ModelFolder:
    """A loaded model folder: its model (avemo.runtime.OnnxModel), class order and configuration, and for
    the audio model the clip-level experts it has (functionals, descriptors and speech; None where absent)."""

    path: Path
    model: object | None  # the frame model; None in an audio folder whose verdict is its clip-level experts'
    labels: list[str]
    config: dict = field(default_factory=dict)
    functionals: object | None = None
    descriptors: object | None = None
    speech: object | None = None

    @property
    def temperature(self) -> float:
        return float(self.config.get("temperature", 1.0))

    def expert_weight(self, name: str) -> float:
        """An expert's weight in the clip's verdict, as its training chose it ("descriptors", "speech"; the
        frame CNN and the functionals expert weigh 1)."""
        return float(self.config.get("hparams", {}).get(f"{name}_weight", 1.0))

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Logits of a batch of windows (a single-input model)."""
        return self.model(batch)

    def functionals_logits(self, functionals: np.ndarray) -> np.ndarray:
        """The functionals expert's logits for one clip's functionals."""
        return self.functionals(np.asarray(functionals)[None])[0]

    def descriptors_logits(self, descriptor_windows: np.ndarray) -> np.ndarray:
        """The descriptor expert's logits for one clip: the mean over its windows of descriptor rows."""
        return self.descriptors(descriptor_windows).mean(axis=0)

    def speech_logits(self, representation: np.ndarray) -> np.ndarray:
        """The speech expert's logits for one clip's Whisper encoder statistics."""
        return self.speech(np.asarray(representation)[None])[0]

    def warm_up(self) -> None:
        """Run each audio model once now, with the models, rather than in the first request (ONNX Runtime
        plans its memory on the first run)."""
        if self.model is not None:
            self.logits(np.zeros((1, *self.model.input_shape[1:]), np.float32))
        if self.functionals is not None:
            self.functionals_logits(np.zeros(self.functionals.input_shape[1:], np.float32))
        if self.descriptors is not None:
            self.descriptors_logits(np.ones((1, *self.descriptors.input_shape[1:]), np.float32))
        if self.speech is not None:
            self.speech_logits(np.zeros(self.speech.input_shape[1:], np.float32))

    def clip_logits(self, window_logits: np.ndarray | None, functionals: np.ndarray | None = None,
                    descriptor_windows: np.ndarray | None = None,
                    speech_representation: np.ndarray | None = None) -> np.ndarray:
        """A clip's logits: the mean over its windows of the frame model's (where the folder has one),
        combined in log-probability space with the verdicts of the clip-level experts the folder has
        (functionals, descriptors, speech), each at the weight its training chose, as train.audio's
        evaluation scores them."""
        parts, weights = [], []
        if self.model is not None:
            parts.append(window_logits.mean(axis=0))
            weights.append(self.expert_weight("frames"))
        if self.functionals is not None:
            parts.append(self.functionals_logits(functionals))
            weights.append(self.expert_weight("functionals"))
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
    """Write a model folder: each Keras model with its ONNX export beside it (avemo.onnx_export, which needs
    TensorFlow: training's side); `clip_experts` are the audio model's clip-level experts by name
    (functionals=, descriptors=, speech=), each saved to its CLIP_EXPERT_FILES file. `model` may be None in
    an audio folder. The files of a model not given (an expert an older recipe had) are removed, with their
    exports, so that a retrained folder never answers with a stale expert."""
    from avemo.onnx_export import save_and_export

    folder.mkdir(parents=True, exist_ok=True)
    for name, file in {"frames": "model.keras", **CLIP_EXPERT_FILES}.items():
        given = model if name == "frames" else clip_experts.get(name)
        if given is not None:
            save_and_export(given, folder / file)
        else:
            for stale in (folder / file, (folder / file).with_suffix(".onnx")):
                stale.unlink(missing_ok=True)
    (folder / "labels.json").write_text(json.dumps(list(labels), indent=1) + "\n")
    (folder / "config.json").write_text(json.dumps(config, indent=1, sort_keys=True) + "\n")


class StaleExport(Exception):
    """A model's ONNX export is missing, or was made from another version of its .keras file."""


def load_exported(keras_path: Path) -> OnnxModel:
    """The ONNX export beside a .keras file, checked to come from that very file where the file is there.
    Raises StaleExport with what to run."""
    exported = keras_path.with_suffix(".onnx")
    fix = f"export it: python -m avemo.onnx_export {keras_path.parent}"
    if not exported.is_file():
        raise StaleExport(f"{exported} is missing ({fix})")
    model = OnnxModel.load(exported)
    if keras_path.is_file() and model.metadata.get(SOURCE_SHA256) != file_sha256(keras_path):
        raise StaleExport(f"{exported} was exported from another {keras_path.name} than the one beside it ({fix})")
    return model


def load_model_folder(folder: Path) -> ModelFolder:
    """Load a model folder written by `save_model_folder`: the ONNX exports of its models, on ONNX Runtime.
    Raises FileNotFoundError if it has no model at all, StaleExport if an export is missing or out of date."""
    folder = Path(folder)

    def there(file: str) -> bool:
        return (folder / file).exists() or (folder / file).with_suffix(".onnx").exists()

    if not any(there(file) for file in ("model.keras", *CLIP_EXPERT_FILES.values())):
        raise FileNotFoundError(f"no model in {folder}")
    model = load_exported(folder / "model.keras") if there("model.keras") else None
    clip_experts = {name: load_exported(folder / file) for name, file in CLIP_EXPERT_FILES.items() if there(file)}
    labels = json.loads((folder / "labels.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    return ModelFolder(folder, model, labels, config, **clip_experts)
