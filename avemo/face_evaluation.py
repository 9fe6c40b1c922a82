"""Labelled face stills, and the face crops the live face model is measured on (train.faces).

The sets in `DIR/faces/` (see ../shared/data/README.md): JAFFE (posed, grey, 10 subjects) and SFEW 2.0
(film stills, in the wild; the movie is the nearest thing to a subject). Each still goes through the same
code as a frame of a real video: the face mesh finds and aligns the face (avemo.face.find_face), and the
video model reads it as a one-frame window, which for the shipped pooling model is exactly what a clip
of that still would give.

    stills = labelled_stills(root, "jaffe")          # [LabelledStill(path, emotion, subject)]
    crops, found = face_crops(stills, cfg)           # (n, 64, 64) and which had a face (cached)
    probs = analyser.crop_probabilities(crops[found])  # avemo.video.VideoAnalyzer
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import VIDEO_FEATURES, VideoFeatureConfig, cache_dir

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


def _cache_key(stills: list[LabelledStill], cfg: VideoFeatureConfig) -> str:
    from . import face

    digest = hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True).encode())
    digest.update(Path(face.__file__).read_bytes())  # a change of framing invalidates the crops
    for still in stills:
        digest.update(f"{still.path.name}:{still.path.stat().st_size}".encode())
    return digest.hexdigest()[:16]


def face_crops(stills: list[LabelledStill], cfg: VideoFeatureConfig = VIDEO_FEATURES,
               progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Aligned crops (n, size, size) in [-1, 1] of each still's largest face, and a mask of the stills
    where a face was found. Cached under avemo.config.cache_dir()/face-crops."""
    import cv2
    from tqdm import tqdm

    from .face import face_mesh, find_face

    cache = cache_dir() / "face-crops" / f"{_cache_key(stills, cfg)}.npz"
    if cache.is_file():
        saved = np.load(cache)
        return saved["crops"], saved["found"]
    crops = np.zeros((len(stills), cfg.crop_size, cfg.crop_size), np.float32)
    found = np.zeros(len(stills), bool)
    with face_mesh(cfg, stills=True) as mesh:
        for i, still in enumerate(tqdm(stills, desc="finding faces", unit="still", disable=not progress)):
            image = cv2.imread(str(still.path), cv2.IMREAD_COLOR)  # grey files come back as 3 equal channels
            if image is None:
                continue
            face = find_face(mesh, cv2.cvtColor(image, cv2.COLOR_BGR2RGB), cfg)
            if face is not None:
                crops[i], found[i] = face.crop, True
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, crops=crops, found=found)
    return crops, found

