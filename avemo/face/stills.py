"""Labelled face stills, and the face crops the live face model is measured on (train.faces).

The sets in `DIR/faces/` (see ../shared/data/README.md): JAFFE (posed, grey, 10 subjects) and SFEW 2.0
(film stills, in the wild; the movie is the nearest thing to a subject). Each still goes through the same
code as a frame of a real video: the face mesh finds and aligns the face (avemo.face.mesh.find_face), and the
video model reads it as a one-frame window, which for the shipped pooling model is exactly what a clip
of that still would give.

    stills = labelled_stills(root, "jaffe")          # [LabelledStill(path, emotion, subject)]
    faces = still_faces(stills, analyser)            # crops, expression features, found (cached)
    probs = analyser.face_probabilities(faces.crops, faces.features)  # avemo.face.video.VideoAnalyzer
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemo.config import VideoFeatureConfig, cache_dir

JAFFE_CODES = {"AN": "angry", "DI": "disgust", "FE": "fearful", "HA": "happy", "NE": "neutral", "SA": "sad",
               "SU": "surprised"}
SFEW_CODES = {"Angry": "angry", "Disgust": "disgust", "Fear": "fearful", "Happy": "happy", "Neutral": "neutral",
              "Sad": "sad", "Surprise": "surprised"}
FACE_SETS = ("jaffe", "sfew")
_JAFFE_NAME = re.compile(r"^([A-Z]{2})\.([A-Z]{2})\d+\.\d+$")
# SFEW: <Movie>_<timestamp>_<face>, the movie itself sometimes with _ or a - before the timestamp.
_SFEW_MOVIE = re.compile(r"^(.*?)[_-]\d{6,}")


@dataclass(frozen=True)
class LabelledStill:
    path: Path
    emotion: str
    subject: str   # JAFFE: the woman's initials; SFEW: the movie


def labelled_stills(root: Path, dataset: str) -> list[LabelledStill]:
    """The labelled stills of one set under `root/faces/`, sorted by path; [] if the set is absent."""
    folder = Path(root) / "faces" / dataset
    stills = []
    if dataset == "jaffe":
        for path in sorted(folder.glob("*.png")):
            match = _JAFFE_NAME.match(path.stem)
            if match and match.group(2) in JAFFE_CODES:
                stills.append(LabelledStill(path, JAFFE_CODES[match.group(2)], match.group(1)))
    elif dataset == "sfew":
        for path in sorted(folder.glob("*/*/*.png")):
            if path.parent.name in SFEW_CODES:
                movie = _SFEW_MOVIE.match(path.stem)
                stills.append(LabelledStill(path, SFEW_CODES[path.parent.name],
                                            movie.group(1) if movie else path.stem))
    else:
        raise ValueError(f"unknown face set {dataset!r} (known: {', '.join(FACE_SETS)})")
    return stills


@dataclass
class StillFaces:
    """What the video path reads from each labelled still (rows follow the stills)."""

    crops: np.ndarray      # (n, size, size) float32 in [-1, 1]: the FER CNN's input; 0 where no face
    features: np.ndarray   # (n, FRAME_WIDTH): blendshapes and facex's outputs; NaN where no face or none read
    found: np.ndarray      # (n,) bool: the face mesh found a face


def _cache_key(stills: list[LabelledStill], cfg: VideoFeatureConfig, model_files: list[Path]) -> str:
    from avemo.face import expression, mesh

    digest = hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode())
    for source in (mesh.__file__, expression.__file__):  # a change of framing invalidates the crops
        digest.update(Path(source).read_bytes())
    for path in model_files:
        digest.update(f"{path.name}:{path.stat().st_size}".encode())
    for still in stills:
        digest.update(f"{still.path.name}:{still.path.stat().st_size}".encode())
    return digest.hexdigest()[:16]


def still_faces(stills: list[LabelledStill], analyser, progress: bool = True) -> StillFaces:
    """Each still's largest face as the video path reads it (avemo.face.video.VideoAnalyzer.frame_face), with
    the mesh in still-image mode. Cached under avemo.config.cache_dir()/face-crops."""
    import cv2
    from tqdm import tqdm

    from avemo.face.mesh import face_mesh
    from avemo.face.expression import FACEX_FILE, FRAME_WIDTH, LANDMARKER_FILE

    cfg = analyser.cfg
    model_files = [analyser.folder.path / name for name in (LANDMARKER_FILE, FACEX_FILE)
                   if (analyser.folder.path / name).is_file()]
    cache = cache_dir() / "face-crops" / f"{_cache_key(stills, cfg, model_files)}.npz"
    if cache.is_file():
        saved = np.load(cache)
        if saved["features"].shape[1:] == (FRAME_WIDTH,):  # (else written by another version: read again)
            return StillFaces(saved["crops"], saved["features"], saved["found"])
    faces = StillFaces(np.zeros((len(stills), cfg.crop_size, cfg.crop_size), np.float32),
                       np.full((len(stills), FRAME_WIDTH), np.nan, np.float32), np.zeros(len(stills), bool))
    with face_mesh(cfg, stills=True) as mesh, analyser.landmarker() as landmarker:
        for i, still in enumerate(tqdm(stills, desc="reading faces", unit="still", disable=not progress)):
            image = cv2.imread(str(still.path), cv2.IMREAD_COLOR)  # grey files come back as 3 equal channels
            if image is None:
                continue
            face, features = analyser.frame_face(mesh, landmarker, cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
            if face is not None:
                faces.crops[i], faces.found[i] = face.crop, True
            if features is not None:
                faces.features[i] = features
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, crops=faces.crops, features=faces.features, found=faces.found)
    return faces
