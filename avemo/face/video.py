"""The video branch: sampled frames -> aligned face crops -> an LRCN (a per-frame CNN, then a
temporal part over the frames of a window) -> emotion probabilities per window and per clip.

    analyser = VideoAnalyzer.load(Path("weights/video"))
    result, notes = analyser.analyse(path, probe(path), max_seconds=60)
    result, notes = analyser.analyse_frames(frames, times)      # RGB frames already in memory (live mode)
    frames = analyser.preview_frames(path, probe(path), n=4)   # RGB images with the mesh drawn

Sampling: the analysed part of a clip (at most `max_seconds`) is cut into windows of about
`VIDEO_FEATURES.window_seconds`; `frames_per_window` frames are taken evenly from each window
(`pick_frames`: the nearest frame to each target). From a file, frames are decoded one at a time
with OpenCV (grab, and decode to pixels only the sampled ones), so memory does not grow with the
file: each sampled frame is reduced to its 64x64 face crop at once. Portrait phone videos are
turned upright from their rotation metadata. Frames already in memory are picked by the same rule,
and both go through the same analysis (`VideoAnalyzer.analyse_sampled`).

The model folder (see `avemo.models`) holds an LRCN (avemo.face.networks) exported to ONNX: it takes two
inputs per window, `frames` (batch, T, 64, 64, 1) face crops in [-1, 1] and `frame_weights` (batch, T), each
row non-negative and summing to 1 (a frame without a face has weight 0), and outputs logits. The shipped
folder's is a pooling model (the FER2013 frame CNN and a weighted mean of per-frame log-probabilities) with
expression models beside it (avemo.face.expression): each face's blendshapes and facex's outputs are read as
the frame is decoded, and a head trained on labelled faces turns them, with the FER CNN's log-probabilities,
into the frame's logits; the same weighted mean of log-probabilities pools them over a window
(`pooled_log_probs`).
"""
from __future__ import annotations

import json
import logging
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple, Sequence

import numpy as np

from avemo.config import EMOTIONS, LIVE_FACE_SOURCE, MAX_ANALYSIS_SECONDS, VIDEO_FEATURES, VideoFeatureConfig
from avemo.face.expression import BLENDSHAPES, FRAME_WIDTH, ExpressionModels, describe_blendshapes
from avemo.media import MediaError, MediaInfo
from avemo.results import modality_result, probs_dict

log = logging.getLogger(__name__)

# FER2013's classes in the backbone's output order, and their names in the product's label set.
FER_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER_TO_EMOTION: dict[str, str] = {
    "angry": "angry", "disgust": "disgust", "fear": "fearful", "happy": "happy",
    "sad": "sad", "surprise": "surprised", "neutral": "neutral",
}
POOLING_LABELS: list[str] = [FER_TO_EMOTION[name] for name in FER_CLASSES]  # no "calm"

# Beside the model folder: the live face model measured on labelled stills (written by train.faces).
FACES_EVALUATION_FILE = "faces_evaluation.json"

POOLING_MODEL_NAME = "avemo_video_lrcn_pooling"

# Where the head does not read blendshapes, they are read on every Nth face only, for the face's words.
WORDS_EVERY_N_FACES = 4

# A face in fewer than this share of the sampled frames earns a note to the user.
FEW_FACES_SHARE = 0.5

# Seconds between frames where the stream does not say (25 frames a second).
DEFAULT_FRAME_INTERVAL = 0.04


# -- sampling ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SamplingPlan:
    """Where to take frames: one row of target times (seconds) per window."""

    spans: list[tuple[float, float]]
    targets: np.ndarray  # (n_windows, frames_per_window), increasing

    @property
    def end(self) -> float:
        return self.spans[-1][1]


def sampling_plan(duration: float, max_seconds: float = MAX_ANALYSIS_SECONDS,
                  cfg: VideoFeatureConfig = VIDEO_FEATURES) -> SamplingPlan:
    """Windows covering the first min(duration, max_seconds) seconds, frames evenly inside each.

    The analysed length is split into round(length / window_seconds) equal windows (at least
    one), and each window's frames sit at the centres of frames_per_window equal slices. An
    unknown duration (0) plans windows of window_seconds up to max_seconds; the reader then
    drops the targets past the end of the stream.
    """
    length = min(duration, max_seconds) if duration > 0 else max_seconds
    n_windows = max(1, round(length / cfg.window_seconds))
    edges = np.linspace(0.0, length, n_windows + 1)
    slots = (np.arange(cfg.frames_per_window) + 0.5) / cfg.frames_per_window
    targets = edges[:-1, None] + slots[None, :] * np.diff(edges)[:, None]
    return SamplingPlan([(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])], targets)


def open_video(path: Path):
    """An OpenCV capture that turns frames upright from the container's rotation metadata."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise MediaError("could not open the video stream (corrupt or unsupported)")
    # OpenCV's own default for this differs between builds; the pip wheel leaves it off.
    capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    return capture


def pick_frames(stream: Iterable[tuple[float, Callable[[], np.ndarray | None]]], times: np.ndarray,
                frame_interval: float) -> Iterator[tuple[float, np.ndarray | None, list[int]]]:
    """The frames shown at `times` (seconds, increasing), out of a stream of (frame time, decode) in time order,
    where decode() gives the RGB frame (None if it cannot): called only for the frames picked.

    Yields (frame time, RGB frame, indices into `times` that this frame serves). Each target gets the first
    frame whose timestamp reaches it less half a frame (the nearest frame), so a low or variable frame rate
    serves several targets with one frame. The stream is read no further than the last target. Targets past
    its end get the last frame picked (yielded again with frame None: reuse its result) if they lie within
    two frames of it, and are dropped otherwise.
    """
    times = np.asarray(times, dtype=float)
    tolerance = frame_interval / 2
    frames = iter(stream)
    next_target, last_time = 0, None
    while next_target < len(times) and (frame := next(frames, None)) is not None:
        t, decode = frame
        if t + tolerance < times[next_target]:
            continue
        rgb = decode()
        if rgb is None:
            continue
        served = []
        while next_target < len(times) and times[next_target] <= t + tolerance:
            served.append(next_target)
            next_target += 1
        last_time = t
        yield t, rgb, served
    if last_time is not None and next_target < len(times):
        rest = [i for i in range(next_target, len(times)) if times[i] <= last_time + 2 * frame_interval]
        if rest:
            yield last_time, None, rest  # the caller reuses the last frame's result


def stamped_frames(capture) -> tuple[Iterator[tuple[float, Callable[[], np.ndarray | None]]], float]:
    """An open capture's frames in order, each as (its time, a function that decodes it to RGB): grabbing is
    cheap, turning a frame into pixels is not, so only the frames someone picks are decoded. And the frame
    interval (seconds) the container states."""
    import cv2

    fps = capture.get(cv2.CAP_PROP_FPS)
    frame_interval = 1.0 / fps if 0 < fps < 1000 else DEFAULT_FRAME_INTERVAL

    def decode():
        ok, frame = capture.retrieve()
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if ok and frame is not None else None

    def stream():
        index = 0
        while capture.grab():
            msec = capture.get(cv2.CAP_PROP_POS_MSEC)
            yield (msec / 1000.0 if (msec > 0 or index == 0) else index * frame_interval), decode
            index += 1

    return stream(), frame_interval


def read_frames_at(path: Path, times: np.ndarray) -> Iterator[tuple[float, np.ndarray | None, list[int]]]:
    """Decode the frames of a video file shown at `times` (seconds, increasing), one at a time, as
    `pick_frames` picks them. Frames in between are grabbed but not converted to pixels; decoding stops
    after the last target."""
    capture = open_video(path)
    try:
        stream, frame_interval = stamped_frames(capture)
        yield from pick_frames(stream, times, frame_interval)
    finally:
        capture.release()


def video_frames(path: Path) -> Iterator[tuple[float, np.ndarray]]:
    """Every frame of a video file, decoded: (its time, RGB frame), with the times `read_frames_at` sees. For
    tools and tests; the analysis decodes only the frames it needs."""
    capture = open_video(path)
    try:
        stream, _ = stamped_frames(capture)
        for t, decode in stream:
            if (rgb := decode()) is not None:
                yield t, rgb
    finally:
        capture.release()


def frame_interval_of(frame_times: np.ndarray) -> float:
    """Seconds between frames shown at `frame_times`: the median step (DEFAULT_FRAME_INTERVAL for one frame)."""
    return float(np.median(np.diff(frame_times))) if len(frame_times) > 1 else DEFAULT_FRAME_INTERVAL


def frames_at(frames: Sequence[np.ndarray], frame_times: np.ndarray,
              times: np.ndarray) -> Iterator[tuple[float, np.ndarray | None, list[int]]]:
    """`read_frames_at` for RGB frames already in memory, shown at `frame_times` (seconds, increasing): the
    frames shown at `times`, picked by the same rule."""
    frame_times = np.asarray(frame_times, dtype=float)
    return pick_frames(((t, lambda frame=frame: frame) for t, frame in zip(frame_times, frames)), times,
                       frame_interval_of(frame_times))


# -- faces over a clip ---------------------------------------------------------------------------
@dataclass
class ClipFaces:
    """The face observations of a clip's sampled frames, arranged by window for the model."""

    plan: SamplingPlan
    crops: np.ndarray            # (n_windows, T, size, size, 1) float32 in [-1, 1]; 0 where no face
    weights: np.ndarray          # (n_windows, T) quality of each slot's frame; 0 where no face/frame
    features: np.ndarray         # (n_windows, T, FRAME_WIDTH): blendshapes, facex's outputs; NaN where unseen
    served: np.ndarray           # (n_windows, T) bool: a frame was decoded for this slot
    frames: int = 0              # distinct frames decoded and searched for a face
    faces_found: int = 0         # of which held a face
    quality_sum: float = 0.0     # sum of the quality of those frames
    several_faces: int = 0       # frames where the mesh saw more than one face
    dark: int = 0
    small: int = 0
    last_time: float = 0.0       # timestamp of the last decoded frame, seconds


class FrameObservation(NamedTuple):
    """What one frame shows: its largest face (None if none) and, with expression models, that face's features
    (FRAME_WIDTH,): blendshapes (NaN where not read), facex's log-probabilities and embedding."""

    face: object | None  # avemo.face.mesh.FrameFace
    features: np.ndarray | None


class FaceObserver:
    """Reads the faces of one stream of frames, taken in time order: a face mesh in tracking mode kept from frame
    to frame (as a clip's frames are read) and, with expression models, a landmarker and facex borrowed for each
    face. One caller at a time (a mesh is not thread-safe); close it, or use it as a context manager.

    A clip's analysis makes one for its frames; a live session keeps one for as long as it runs, so each frame
    is read once, as it arrives, however many readings its window serves (making a mesh costs some 25 ms)."""

    def __init__(self, cfg: VideoFeatureConfig = VIDEO_FEATURES, expression: ExpressionModels | None = None):
        from avemo.face.mesh import face_mesh

        self.cfg = cfg
        self.expression = expression
        self.mesh = face_mesh(cfg)
        self.faces_seen = 0

    def __call__(self, rgb: np.ndarray) -> FrameObservation:
        from avemo.face.mesh import find_face

        face = find_face(self.mesh, rgb, self.cfg)
        features = None
        if face is not None and self.expression is not None:
            # Blendshapes on every face when the head reads them; else on every few, for the face's words.
            blendshapes = self.expression.head_reads_blendshapes or self.faces_seen % WORDS_EVERY_N_FACES == 0
            with self.expression.landmarker() as landmarker:
                features = self.expression.frame_features(landmarker, face.expression_crop, blendshapes)
        self.faces_seen += face is not None
        return FrameObservation(face, features)

    def close(self) -> None:
        self.mesh.close()

    def __enter__(self) -> "FaceObserver":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def observe_faces(sampled: Iterable[tuple[float, np.ndarray | None, list[int]]], plan: SamplingPlan,
                  cfg: VideoFeatureConfig = VIDEO_FEATURES, expression: ExpressionModels | None = None,
                  observe: Callable[[np.ndarray], FrameObservation] | None = None) -> ClipFaces:
    """Find the largest face in each of the planned frames (`read_frames_at` or `frames_at` of
    `plan.targets`), one frame at a time; with `expression`, also read each face's blendshapes and facex
    outputs. `observe` reads a frame (default: a new FaceObserver for these frames)."""
    if observe is None:
        with FaceObserver(cfg, expression) as observer:
            return observe_faces(sampled, plan, cfg, expression, observer)
    n_windows, per_window = plan.targets.shape
    size = cfg.crop_size
    result = ClipFaces(
        plan,
        crops=np.zeros((n_windows, per_window, size, size, 1), dtype=np.float32),
        weights=np.zeros((n_windows, per_window), dtype=np.float32),
        features=np.full((n_windows, per_window, FRAME_WIDTH), np.nan, dtype=np.float32),
        served=np.zeros((n_windows, per_window), dtype=bool),
    )
    face, features = None, None
    for t, rgb, slots in sampled:
        if rgb is not None:
            face, features = observe(rgb)
            result.frames += 1
            result.last_time = t
            if face is not None:
                result.faces_found += 1
                result.quality_sum += face.quality
                result.several_faces += face.n_faces > 1
                result.dark += face.is_dark
                result.small += face.is_small
        for slot in slots:
            w, k = divmod(slot, per_window)
            result.served[w, k] = True
            if face is not None:
                result.crops[w, k, :, :, 0] = face.crop
                result.weights[w, k] = face.quality
            if features is not None:
                result.features[w, k] = features
    return result


def window_inputs(faces: ClipFaces) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The model's inputs for the windows that hold a face, and those windows' indices."""
    totals = faces.weights.sum(axis=1)
    keep = np.flatnonzero(totals > 0)
    weights = faces.weights[keep] / totals[keep, None]
    return {"frames": faces.crops[keep], "frame_weights": weights.astype(np.float32)}, keep


N_BLENDSHAPES = len(BLENDSHAPES)  # the first of a frame's features


def face_movements(features: np.ndarray, weights: np.ndarray) -> list[str]:
    """What the face did over some frames, in words: their quality-weighted mean blendshapes, described."""
    blendshapes = np.asarray(features, np.float64).reshape(-1, FRAME_WIDTH)[:, :N_BLENDSHAPES]
    w = np.asarray(weights, np.float64).ravel() * ~np.isnan(blendshapes[:, 0])
    if w.sum() <= 0:
        return []
    return describe_blendshapes((np.nan_to_num(blendshapes) * w[:, None]).sum(axis=0) / w.sum())


def frame_timeline(faces: ClipFaces, kept: np.ndarray, frame_probs: np.ndarray) -> list[dict]:
    """Each sampled frame with a face, in time order: its time (seconds) and what the face model reads in that
    one frame (calibrated as a one-frame clip). `frame_probs` (len(kept) * T, 8) follows `faces` windows `kept`.
    The windows' verdicts pool these frames, weighted by face quality; a short clip has a single window, and
    its frames are what show how the face changed."""
    times = faces.plan.targets[kept].ravel()
    has_face = faces.weights[kept].ravel() > 0
    rows = sorted(zip(times[has_face], frame_probs[has_face]), key=lambda row: row[0])
    return [{"time": round(float(t), 2), "probs": probs_dict(p)} for t, p in rows]


def pooled_log_probs(frame_logits: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted mean over each window's frames of their log-probabilities: (windows, T, C), (windows, T)
    rows summing to 1 -> (windows, C). What the pooling model computes inside its graph, here for a head's
    frame logits."""
    shifted = frame_logits - frame_logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return np.einsum("wt,wtc->wc", weights, log_probs).astype(np.float32)


# -- the analyser ---------------------------------------------------------------------------------
@dataclass
class VideoAnalyzer:
    """A loaded video model folder; `analyse` may be called from several threads at once (each call makes
    its own FaceObserver, which borrows expression models; the ONNX session is shared)."""

    folder: object  # avemo.models.ModelFolder
    cfg: VideoFeatureConfig = VIDEO_FEATURES
    measured_accuracy: float | None = None  # on labelled face stills (FACES_EVALUATION_FILE, train.faces)
    expression: ExpressionModels | None = None  # blendshapes, facex and the head (pooling models only)

    @classmethod
    def load(cls, folder: Path) -> "VideoAnalyzer":
        """Load a video model folder, mediapipe and one landmarker, and run its model once."""
        from avemo.backend import import_mediapipe
        from avemo.models import load_model_folder

        import_mediapipe()  # (a second or two: loaded with the models, not in the first face's time)

        loaded = load_model_folder(Path(folder))
        cfg = VideoFeatureConfig.from_dict(loaded.config.get("features", {}))
        measured = Path(folder) / FACES_EVALUATION_FILE
        accuracy = json.loads(measured.read_text())["pooled"]["accuracy"] if measured.is_file() else None
        is_pooling = loaded.model.name == POOLING_MODEL_NAME
        analyser = cls(loaded, cfg, accuracy, ExpressionModels.load(folder) if is_pooling else None)
        size = cfg.crop_size
        analyser.window_logits({"frames": np.zeros((1, 1, size, size, 1), np.float32),
                                "frame_weights": np.ones((1, 1), np.float32)})
        with analyser.landmarker():  # made now, and kept in its pool for the first clip
            pass
        return analyser

    @property
    def labels(self) -> list[str]:
        return list(self.folder.labels)

    def window_logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Logits (windows, classes) in `labels` order for the model's two inputs."""
        return self.folder.model(inputs["frames"], inputs["frame_weights"])

    @property
    def head(self):
        return self.expression.head if self.expression else None

    def frame_logits(self, crops: np.ndarray, features: np.ndarray | None = None, batch: int = 256) -> np.ndarray:
        """Logits (n, classes) in `labels` order of single face crops (n, size, size) in [-1, 1], each read as
        a one-frame window: the FER CNN's log-probabilities, read with the frames' features (n, FRAME_WIDTH) by
        the expression head where the folder has one. For a pooling model, a window's logits are the
        weighted mean of its frames' log-softmax of these (`pooled_log_probs`)."""
        fer = self.fer_logits(crops, batch)
        if self.head is None:
            return fer
        if features is None:
            features = np.full((len(fer), FRAME_WIDTH), np.nan, np.float32)
        return self.head.logits(fer, features)

    def fer_logits(self, crops: np.ndarray, batch: int = 256) -> np.ndarray:
        """The bare FER CNN's log-probabilities (n, classes) in `labels` order of face crops (n, size, size)."""
        size = self.cfg.crop_size
        crops = np.asarray(crops, np.float32).reshape(-1, size, size)
        rows = [self.window_logits({"frames": crops[start:start + batch, None, :, :, None],
                                    "frame_weights": np.ones((len(crops[start:start + batch]), 1), np.float32)})
                for start in range(0, len(crops), batch)]
        return np.concatenate(rows) if rows else np.zeros((0, len(self.labels)), np.float32)

    def face_probabilities(self, crops: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        """Calibrated probabilities (n, 8) in EMOTIONS order of single faces (see `frame_logits`): for the
        pooling model, what a clip of that still gives."""
        return self.folder.calibrated(self.frame_logits(crops, features))

    def frame_face(self, mesh, landmarker, rgb: np.ndarray):
        """(FrameFace, its features (FRAME_WIDTH,) or None) of the largest face of an RGB frame; (None, None) if none."""
        from avemo.face.mesh import find_face

        face = find_face(mesh, rgb, self.cfg)
        if face is None or self.expression is None:
            return face, None
        return face, self.expression.frame_features(landmarker, face.expression_crop)

    def face_observer(self) -> FaceObserver:
        """A FaceObserver for one stream of frames (a live session's): pass it to `analyse_frames` as `observe`,
        or a function that returns what it said of a frame already read."""
        return FaceObserver(self.cfg, self.expression)

    def landmarker(self):
        """The blendshape landmarker for one clip or set of stills (a null context without expression models)."""
        return self.expression.landmarker() if self.expression else nullcontext()

    def analyse(self, path: Path, info: MediaInfo, max_seconds: float = MAX_ANALYSIS_SECONDS) -> tuple[dict, list[str]]:
        """Video result (see avemo.results.modality_result) of a file's first `max_seconds`, and notes: only
        the frames the plan needs are decoded, one at a time. Raises MediaError."""
        if not info.has_video:
            raise MediaError("the file has no video track: it is audio only")
        plan = sampling_plan(info.duration, max_seconds, self.cfg)
        return self.analyse_sampled(plan, read_frames_at(Path(path), plan.targets.ravel()))

    def analyse_frames(self, frames: Sequence[np.ndarray], times: Sequence[float], duration: float | None = None,
                       max_seconds: float = MAX_ANALYSIS_SECONDS,
                       observe: Callable[[np.ndarray], FrameObservation] | None = None) -> tuple[dict, list[str]]:
        """The same for RGB frames (height, width, 3) already in memory, shown at `times` (seconds from the
        start of the clip or chunk, increasing), over `duration` seconds (default: to one frame after the
        last). The frames the file's plan would decode are picked from them by the same rule, and read by
        `observe` (default: a new FaceObserver; live mode passes what its session's observer said of each
        frame as it arrived). Raises MediaError."""
        times = np.asarray(times, dtype=float)
        if len(frames) != len(times) or len(times) == 0:
            raise MediaError(f"{len(frames)} frames with {len(times)} times: one time per frame is needed")
        if np.any(np.diff(times) < 0) or times[0] < 0:
            raise MediaError("the frames' times must start at 0 or later and never go back")
        if any(np.ndim(frame) != 3 or np.shape(frame)[-1] != 3 or np.asarray(frame).dtype != np.uint8
               for frame in frames):
            raise MediaError("each frame must be an RGB image: a uint8 array (height, width, 3)")
        if duration is None:
            duration = times[-1] + frame_interval_of(times)
        plan = sampling_plan(duration, max_seconds, self.cfg)
        return self.analyse_sampled(plan, frames_at(frames, times, plan.targets.ravel()), observe)

    def analyse_sampled(self, plan: SamplingPlan, sampled,
                        observe: Callable[[np.ndarray], FrameObservation] | None = None) -> tuple[dict, list[str]]:
        """What `analyse` and `analyse_frames` share: the faces of the planned frames (`read_frames_at` or
        `frames_at`), read by the models, pooled over windows and over the clip."""
        faces = observe_faces(sampled, plan, self.cfg, self.expression, observe)
        if faces.frames == 0:
            raise MediaError("could not decode any video frame (corrupt or unsupported)")
        if faces.faces_found == 0:
            raise MediaError(f"no face found in any of the {faces.frames} frames sampled")
        inputs, kept = window_inputs(faces)
        frame_logits = None
        if self.head is not None:
            shape = faces.weights[kept].shape
            frame_logits = self.frame_logits(faces.crops[kept], faces.features[kept].reshape(-1, FRAME_WIDTH))
            logits = pooled_log_probs(frame_logits.reshape(shape + (-1,)), inputs["frame_weights"])
        else:
            logits = self.window_logits(inputs)
        # Clip level: windows weighted by the face evidence they hold (for the pooling model this
        # equals pooling every sampled frame of the clip at once).
        evidence = faces.weights[kept].sum(axis=1)
        clip_logits = (logits * evidence[:, None]).sum(axis=0) / evidence.sum()
        window_probs = self.folder.calibrated(logits)
        clip_probs = self.folder.calibrated(clip_logits)
        spans = [self._served_span(faces, w) for w in kept]
        reliability = faces.quality_sum / faces.frames
        result = modality_result(clip_probs, window_probs, spans, reliability,
                                 faces_found=int(faces.faces_found), frames=int(faces.frames), source=LIVE_FACE_SOURCE,
                                 measured_accuracy=self.measured_accuracy,
                                 face_movements=face_movements(faces.features, faces.weights))
        for entry, window in zip(result["timeline"], kept):
            entry["face_movements"] = face_movements(faces.features[window], faces.weights[window])
        if frame_logits is not None:  # the frames the windows pooled (a trained LRCN's windows are not such pools)
            result["frame_timeline"] = frame_timeline(faces, kept, self.folder.calibrated(frame_logits))
        return result, self._notes(faces)

    @staticmethod
    def _served_span(faces: ClipFaces, window: int) -> tuple[float, float]:
        start, end = faces.plan.spans[window]
        if faces.served[window].all():
            return start, end
        return start, min(end, max(start, faces.last_time))

    @staticmethod
    def _notes(faces: ClipFaces) -> list[str]:
        notes = []
        if faces.faces_found < FEW_FACES_SHARE * faces.frames:
            notes.append(f"video: a face was found in only {faces.faces_found} of {faces.frames} frames")
        if faces.several_faces:
            notes.append("video: several faces are visible; the largest one was analysed")
        if faces.dark > faces.faces_found / 2:
            notes.append("video: the picture is very dark; the face was brightened and weighs less")
        if faces.small > faces.faces_found / 2:
            notes.append("video: the face is small in the picture; its expression weighs less")
        return notes

    def preview_frames(self, path: Path, info: MediaInfo, n: int = 4,
                       max_seconds: float = MAX_ANALYSIS_SECONDS) -> list[tuple[np.ndarray, str]]:
        """Up to `n` frames spread over the analysed part, for the app's face strip (never in the JSON
        result): each an RGB frame with the face's outline drawn and the crop the model saw set in its
        corner, and a caption with its time and the model's top emotion on that frame. Frames without a
        face come back plain, captioned so."""
        from avemo.face.mesh import draw_mesh, face_mesh, with_inset

        length = min(info.duration, max_seconds) if info.duration > 0 else min(max_seconds, 4.0)
        times = (np.arange(n) + 0.5) / n * length
        strip = []
        with face_mesh(self.cfg, stills=True) as mesh, self.landmarker() as landmarker:
            for t, rgb, _ in read_frames_at(Path(path), times):
                if rgb is None:
                    continue
                face, features = self.frame_face(mesh, landmarker, rgb)
                if face is None:
                    strip.append((rgb, f"{t:.1f} s: no face"))
                    continue
                probs = self.face_probabilities(face.crop, features)[0]
                top = int(np.argmax(probs))
                movements = describe_blendshapes(features[:N_BLENDSHAPES]) if features is not None else []
                caption = f"{t:.1f} s: {EMOTIONS[top]} {probs[top]:.0%}" + "".join(f", {m}" for m in movements)
                strip.append((with_inset(draw_mesh(rgb, face.landmarks), face.crop), caption))
        return strip


def clip_windows(path: Path, duration: float, cfg: VideoFeatureConfig = VIDEO_FEATURES,
                 max_seconds: float = MAX_ANALYSIS_SECONDS) -> tuple[dict[str, np.ndarray], ClipFaces]:
    """The model inputs of every window of a clip that holds a face (for training and tests)."""
    plan = sampling_plan(duration, max_seconds, cfg)
    faces = observe_faces(read_frames_at(Path(path), plan.targets.ravel()), plan, cfg)
    inputs, _ = window_inputs(faces)
    return inputs, faces

