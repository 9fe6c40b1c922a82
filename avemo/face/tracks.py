"""Per-frame OpenFace 2.x tracks as fixed-length sequences of facial features, and the two small
sequence models of the seed project trained on them (train.video fit --openface-dir).

The tracks are laid out as in the "RAVDESS Facial Landmark Tracking" release (Zenodo 3255102):
one OpenFace `FeatureExtraction` CSV per clip, `Actor_XX/01-01-EE-II-SS-RR-AA.csv`, the header
`frame, face_id, timestamp, confidence, success, ..., x_0..x_67, y_0..y_67, ..., AU01_r..AU45_c`.

    scan = scan_tracks(folder)                 # avemo.corpora.ScanReport of Clips (emotion, actor)
    track = read_track(path)                   # FaceTrack: (tracked frames, 171) features
    x = resample(track.features, 64, track.times)              # (64, 171)
    model = build_lrcn(64, N_FEATURES, FaceTrackConfig())      # (batch, 64, 171) -> (batch, 8)

Per-frame features (N_FEATURES = 171, in FEATURE_NAMES order):

- the 35 OpenFace action units (avemo.face.openface.AU_COLUMNS): 17 intensities on OpenFace's 0-5
  scale, 18 presences 0/1;
- the 68 2-D landmarks `x_i, y_i` (pixels in the video) centred on their mean and divided by the
  inter-ocular distance (outer eye corners, landmarks 36 and 45): 68 x then 68 y, in units of
  inter-ocular distances, the same wherever and however large the face is in the picture (the
  in-plane rotation of the head is kept: it is part of the expression's movement).

Frames where OpenFace tracked no face (`success` = 0) are dropped; the gaps are bridged when the
tracked frames are resampled to a fixed number of frames over the clip's span.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from avemo.config import EMOTIONS
from avemo.corpora import Clip, CorpusError, ScanReport, parse_ravdess_name
from avemo.face.openface import AU_COLUMNS, OpenFaceError, numeric_columns, read_csv_table

N_LANDMARKS = 68
LANDMARK_X: tuple[str, ...] = tuple(f"x_{i}" for i in range(N_LANDMARKS))
LANDMARK_Y: tuple[str, ...] = tuple(f"y_{i}" for i in range(N_LANDMARKS))
OUTER_EYE_CORNERS = (36, 45)  # the 68-point (iBUG/Multi-PIE) scheme: right eye's outer corner, left eye's
FEATURE_NAMES: tuple[str, ...] = (AU_COLUMNS + tuple(f"geometry_{c}" for c in LANDMARK_X)
                                  + tuple(f"geometry_{c}" for c in LANDMARK_Y))
N_FEATURES = len(FEATURE_NAMES)  # 35 + 136 = 171


@dataclass(frozen=True)
class FaceTrackConfig:
    """Every number of the track models and their training, with the seed that fixes them."""

    seed: int = 1234
    frames: int = 64            # each clip resampled to this many frames (a RAVDESS sentence: ~3.5 s, ~105 frames at 30 fps)
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-3
    label_smoothing: float = 0.05
    units: int = 32             # width of the per-frame Dense layers and of the LSTM
    filters: int = 32           # Conv1D filters of the ConvLSTM-style model
    kernel: int = 5             # their kernel, in resampled frames (about 0.27 s of a 3.5 s clip)
    dropout: float = 0.3

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FaceTrack:
    """One clip's tracked frames."""

    features: np.ndarray   # (tracked, N_FEATURES) float32, FEATURE_NAMES order
    times: np.ndarray      # (tracked,) the frames' numbers in the video (OpenFace's `frame`), increasing
    frames: int            # frames in the file
    tracked: int           # of which OpenFace tracked the face (success = 1) with usable landmarks


# -- the files -------------------------------------------------------------------------------------
def scan_tracks(folder: Path) -> ScanReport:
    """Every `*.csv` under `folder` (at any depth) whose stem is a RAVDESS take id, as Clips with the
    emotion and actor of its name (speaker "ravdess-AA"). Files whose names do not parse, and a second
    file of the same performance (an audio-visual and a video-only take are one recording), are in
    `skipped` with the reason. CorpusError if the folder is missing or holds no such file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusError(f"OpenFace track folder not found: {folder}")
    report = ScanReport("RAVDESS OpenFace tracks", folder)
    seen: dict[str, Path] = {}
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".csv" and p.is_file()):
        fields = parse_ravdess_name(path.stem)
        if fields is None:
            report.skipped.append((path, "name is not a RAVDESS take id (MM-CC-EE-II-SS-RR-AA)"))
            continue
        performance = path.stem[3:]  # all but the modality: 01 (audio-video) and 02 (video-only) share it
        if performance in seen:
            report.skipped.append((path, f"same performance as {seen[performance].name}"))
            continue
        seen[performance] = path
        report.clips.append(Clip(path, fields["emotion"], f"ravdess-{fields['actor']:02d}", "ravdess"))
    if not report.clips:
        raise CorpusError(f"no OpenFace CSV named by a RAVDESS take id (e.g. Actor_01/01-01-03-01-01-01-01.csv) "
                          f"under {folder}")
    return report


def normalise_landmarks(points: np.ndarray) -> np.ndarray:
    """2-D landmarks (..., 68, 2) in pixels -> the same shape, centred on the landmarks' mean and in
    units of the inter-ocular distance (between the outer eye corners 36 and 45): invariant to where
    the face is and how large it is. Where that distance is not positive and finite: NaN."""
    points = np.asarray(points, dtype=np.float64)
    centred = points - points.mean(axis=-2, keepdims=True)
    right, left = OUTER_EYE_CORNERS
    distance = np.linalg.norm(points[..., left, :] - points[..., right, :], axis=-1)[..., None, None]
    usable = np.isfinite(distance) & (distance > 1e-9)
    return np.where(usable, centred / np.where(usable, distance, 1.0), np.nan)


def frame_features(action_units: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-frame features (frames, N_FEATURES) float32 from action units (frames, 35) and landmark
    pixel coordinates x, y (frames, 68) each."""
    geometry = normalise_landmarks(np.stack([x, y], axis=-1))  # (frames, 68, 2)
    flat = np.concatenate([geometry[..., 0], geometry[..., 1]], axis=-1)
    return np.concatenate([np.asarray(action_units, np.float64), flat], axis=-1).astype(np.float32)


def read_track(path: Path) -> FaceTrack:
    """One per-frame OpenFace CSV (header names after commas led by a space, as OpenFace writes them)
    -> its tracked frames. Frames with success = 0, or whose features are not finite, are dropped.
    OpenFaceError (one line) if the file is unreadable, lacks the action-unit or landmark columns,
    or has no tracked frame."""
    path = Path(path)
    header, rows = read_csv_table(path)
    if not rows:
        raise OpenFaceError(f"{path.name} has a header but no frames")
    action_units = numeric_columns(header, rows, AU_COLUMNS, path)
    missing = [name for name in LANDMARK_X + LANDMARK_Y if name not in header]
    if missing:
        raise OpenFaceError(f"{path.name} has no 2-D landmark columns ({missing[0]} and {len(missing) - 1} more missing)")
    x = numeric_columns(header, rows, LANDMARK_X, path)
    y = numeric_columns(header, rows, LANDMARK_Y, path)
    success = numeric_columns(header, rows, ("success",), path)[:, 0] if "success" in header else np.ones(len(rows))
    times = (numeric_columns(header, rows, ("frame",), path)[:, 0] if "frame" in header
             else np.arange(1, len(rows) + 1, dtype=float))
    features = frame_features(action_units, x, y)
    keep = (success > 0.5) & np.isfinite(features).all(axis=1) & np.isfinite(times)
    if not keep.any():
        raise OpenFaceError(f"{path.name}: OpenFace tracked no face in any of its {len(rows)} frames")
    features, times = features[keep], times[keep]
    order = np.argsort(times, kind="stable")
    return FaceTrack(features=features[order], times=times[order], frames=len(rows), tracked=int(keep.sum()))


def resample(values: np.ndarray, length: int, times: np.ndarray | None = None) -> np.ndarray:
    """A sequence (n, F) sampled at `times` (n,) (default 0..n-1) -> (length, F) float32 sampled at
    `length` evenly spaced times from the first to the last frame, linearly interpolated: longer
    clips are thinned, shorter ones stretched, gaps (dropped frames) bridged. One frame is repeated."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or not len(values):
        raise ValueError(f"resample needs a (frames, features) array with frames, not {values.shape}")
    if len(values) == 1:
        return np.repeat(values, length, axis=0).astype(np.float32)
    times = np.arange(len(values), dtype=float) if times is None else np.asarray(times, dtype=float)
    grid = np.linspace(times[0], times[-1], length)
    return np.stack([np.interp(grid, times, values[:, j]) for j in range(values.shape[1])], axis=1).astype(np.float32)


def load_sequences(paths: list[Path], length: int, progress: bool = True):
    """Read and resample every file: (x (kept, length, N_FEATURES) float32, indices of the kept
    paths, [(path, reason)] of the skipped ones; each skip is printed as one line)."""
    from tqdm import tqdm

    sequences, kept, failed = [], [], []
    for i, path in enumerate(tqdm(paths, desc="OpenFace tracks", unit="clip", disable=not progress)):
        try:
            track = read_track(path)
        except (OpenFaceError, OSError) as error:
            reason = str(error)
            tqdm.write(f"{reason if Path(path).name in reason else f'{Path(path).name}: {reason}'}; skipped")
            failed.append((Path(path), reason))
            continue
        sequences.append(resample(track.features, length, track.times))
        kept.append(i)
    x = np.stack(sequences) if sequences else np.zeros((0, length, N_FEATURES), np.float32)
    return x, np.asarray(kept, dtype=int), failed


def emotion_counts(clips: list[Clip]) -> dict[str, int]:
    counts = Counter(c.emotion for c in clips)
    return {e: counts[e] for e in EMOTIONS if counts[e]}


# -- standardisation -----------------------------------------------------------------------------
def fit_standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation (F,) over every frame of the training sequences
    x (clips, T, F); a constant feature gets deviation 1."""
    flat = np.asarray(x, dtype=np.float64).reshape(-1, x.shape[-1])
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    return mean.astype(np.float32), np.where(std > 1e-6, std, 1.0).astype(np.float32)


def standardise(x: np.ndarray, stats: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    mean, std = stats
    return ((np.asarray(x, dtype=np.float32) - mean) / std).astype(np.float32)


# -- the two models -------------------------------------------------------------------------------
def _keras():
    from avemo.backend import import_tensorflow

    import_tensorflow()  # quietly, before Keras (see avemo.backend)
    import keras

    return keras


def build_lrcn(frames: int, n_features: int, cfg: FaceTrackConfig, n_classes: int = len(EMOTIONS)):
    """LRCN: the same small network on every frame's features (two TimeDistributed Dense layers),
    an LSTM over the frames, its outputs averaged over time, softmax over the emotions.
    Input "face_tracks" (batch, frames, n_features) standardised features -> (batch, n_classes)
    probabilities."""
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input((frames, n_features), name="face_tracks")
    h = layers.TimeDistributed(layers.Dense(cfg.units, activation="relu"), name="frame_dense_1")(inputs)
    h = layers.Dropout(cfg.dropout, name="frame_dropout")(h)
    h = layers.TimeDistributed(layers.Dense(cfg.units, activation="relu"), name="frame_dense_2")(h)
    h = layers.LSTM(cfg.units, return_sequences=True, name="lstm")(h)
    h = layers.GlobalAveragePooling1D(name="mean_over_time")(h)
    h = layers.Dropout(cfg.dropout, name="dropout")(h)
    outputs = layers.Dense(n_classes, activation="softmax", name="emotion")(h)
    return keras.Model(inputs, outputs, name="face_track_lrcn")


def build_conv_lstm(frames: int, n_features: int, cfg: FaceTrackConfig, n_classes: int = len(EMOTIONS)):
    """ConvLSTM-style: two 1-D convolutions over time (kernel cfg.kernel frames, each followed by
    max-pooling by 2) feeding an LSTM, softmax over the emotions.
    Input "face_tracks" (batch, frames, n_features) standardised features -> (batch, n_classes)
    probabilities."""
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input((frames, n_features), name="face_tracks")
    h = layers.Conv1D(cfg.filters, cfg.kernel, padding="same", activation="relu", name="conv_1")(inputs)
    h = layers.MaxPooling1D(2, name="pool_1")(h)
    h = layers.Dropout(cfg.dropout, name="conv_dropout")(h)
    h = layers.Conv1D(cfg.filters, cfg.kernel, padding="same", activation="relu", name="conv_2")(h)
    h = layers.MaxPooling1D(2, name="pool_2")(h)
    h = layers.LSTM(cfg.units, name="lstm")(h)
    h = layers.Dropout(cfg.dropout, name="dropout")(h)
    outputs = layers.Dense(n_classes, activation="softmax", name="emotion")(h)
    return keras.Model(inputs, outputs, name="face_track_conv_lstm")


MODELS = {"lrcn": build_lrcn, "conv_lstm": build_conv_lstm}
