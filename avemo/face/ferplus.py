"""FER+ (Barsoum et al. 2016): ten crowd workers' votes for every FER2013 face, read in place and aligned row by
row with avemo.face.fer2013, turned into the soft targets and the benchmark labels the frame CNN is trained and
measured on.

    votes = read_ferplus(root, n_images=len(fer.images))   # FerPlusVotes: votes (n, 10), usage, names
    classes = ferplus_classes(contempt=True)                # FER_CLASSES + ("contempt",): the network's outputs
    targets = vote_targets(votes.votes, classes)            # (n, 8) the crowd's distribution (soft targets)
    labels = plurality_labels(votes.votes, classes)          # (n,) most-voted class, -1 if not one of `classes`

`DIR/faces/fer2013/ferplus_votes.npz` (see ../shared/data/README.md) holds `votes` (int8, n x 10, in
FERPLUS_VOTES order; -1 where a face has no FER+ row, mostly exact duplicates of another row), `usage` (the
original split: Training / PublicTest / PrivateTest, "" without a FER+ row), `ferplus_name` and `vote_names`.

How votes become targets follows the FER+ reference code (github.com/microsoft/FERPlus, src/ferplus.py): a class
with a single vote is an outlier and dropped; "unknown" and "not a face" are not emotions, so their votes are
dropped and a face whose most-voted column is one of them is not used; the rest is normalised. Two test labels
are in use: the most-voted emotion (`plurality_labels`, what most later papers score) and the reference code's
strict majority (`majority_labels`: more than half of the votes left after the outliers are dropped).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

FERPLUS_FILE = Path("faces") / "fer2013" / "ferplus_votes.npz"
# The vote columns, in the file's order.
FERPLUS_VOTES: tuple[str, ...] = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                                  "contempt", "unknown", "NF")
# Each FER+ emotion by the frame CNN's class name (avemo.face.video.FER_CLASSES; contempt has none there).
FERPLUS_TO_FER: dict[str, str] = {"neutral": "neutral", "happiness": "happy", "surprise": "surprise",
                                  "sadness": "sad", "anger": "angry", "disgust": "disgust", "fear": "fear",
                                  "contempt": "contempt"}
SPLITS: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")
OUTLIER_VOTES = 1  # a class with this many votes or fewer is dropped (the FER+ reference code's outlier rule)


@dataclass
class FerPlusVotes:
    votes: np.ndarray   # (n, 10) int8 in FERPLUS_VOTES order; -1 where the face has no FER+ row
    usage: np.ndarray   # (n,) one of SPLITS, or "" where the face has no FER+ row
    names: np.ndarray   # (n,) FER+ image names ("fer0000000.png")

    @property
    def has_votes(self) -> np.ndarray:
        return self.votes[:, 0] >= 0

    def rows(self, split: str) -> np.ndarray:
        """Indices of the faces of one original split that have votes."""
        return np.flatnonzero((self.usage == split) & self.has_votes)


def ferplus_path(root: Path) -> Path:
    return Path(root) / FERPLUS_FILE


def read_ferplus(root: Path, n_images: int | None = None) -> FerPlusVotes:
    """The FER+ votes under `root` (FileNotFoundError if absent), checked to be the file the code expects and,
    given FER2013's row count `n_images`, aligned with it (ValueError otherwise)."""
    with np.load(ferplus_path(root)) as data:
        names = tuple(str(v) for v in data["vote_names"])
        votes, usage, image_names = data["votes"], data["usage"].astype(str), data["ferplus_name"].astype(str)
    if names != FERPLUS_VOTES:
        raise ValueError(f"{ferplus_path(root)}: vote columns {names}, expected {FERPLUS_VOTES}")
    if votes.shape != (len(usage), len(FERPLUS_VOTES)) or len(image_names) != len(usage):
        raise ValueError(f"{ferplus_path(root)}: votes {votes.shape}, usage {len(usage)}, names {len(image_names)}")
    if n_images is not None and len(usage) != n_images:
        raise ValueError(f"{ferplus_path(root)} has {len(usage)} rows; FER2013 has {n_images}: not aligned")
    unknown_split = set(usage[votes[:, 0] >= 0]) - set(SPLITS)
    if unknown_split:
        raise ValueError(f"{ferplus_path(root)}: unknown usage {sorted(unknown_split)}")
    return FerPlusVotes(votes, usage, image_names)


def ferplus_classes(contempt: bool = True) -> tuple[str, ...]:
    """The network's output classes: the frame CNN's seven (FER_CLASSES order), then contempt if kept."""
    from avemo.face.video import FER_CLASSES

    return FER_CLASSES + (("contempt",) if contempt else ())


def _columns(classes: tuple[str, ...]) -> list[int]:
    """For each of `classes` (FER_CLASSES names), its vote column."""
    by_name = {fer: FERPLUS_VOTES.index(plus) for plus, fer in FERPLUS_TO_FER.items()}
    return [by_name[name] for name in classes]


def _without_outliers(votes: np.ndarray) -> np.ndarray:
    votes = np.asarray(votes, np.float64)
    return np.where(votes > OUTLIER_VOTES, votes, 0.0)


def vote_targets(votes: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """(n, len(classes)) float32: each face's crowd distribution over `classes`, single votes dropped and the rest
    normalised; a row without any vote left (no FER+ row, or only unknown / not-a-face / dropped classes) is 0."""
    kept = _without_outliers(votes)[:, _columns(classes)]
    total = kept.sum(axis=1, keepdims=True)
    return np.divide(kept, total, out=np.zeros_like(kept), where=total > 0).astype(np.float32)


def plurality_labels(votes: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """(n,) index into `classes` of each face's most-voted column among all ten (ties: the first in FER+ order),
    or -1 where that column is not one of `classes` (unknown, not a face, contempt when left out) or the face has
    no votes."""
    votes = np.asarray(votes)
    top = votes.argmax(axis=1)
    index = {column: k for k, column in enumerate(_columns(classes))}
    labels = np.array([index.get(int(column), -1) for column in top], np.int64)
    labels[votes[:, 0] < 0] = -1
    return labels


def majority_labels(votes: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """(n,) the FER+ reference code's test label: with single votes dropped, the column holding more than half of
    the votes left, as an index into `classes`; -1 where there is none or it is not one of `classes`."""
    kept = _without_outliers(votes)
    top = kept.argmax(axis=1)
    clear = kept.max(axis=1) > 0.5 * kept.sum(axis=1)
    index = {column: k for k, column in enumerate(_columns(classes))}
    labels = np.array([index.get(int(column), -1) for column in top], np.int64)
    labels[~clear | (np.asarray(votes)[:, 0] < 0)] = -1
    return labels


def fer2013_agreement(fer_labels: np.ndarray, votes: np.ndarray) -> float:
    """Share of the faces with a FER+ emotion label (among FER2013's seven classes) where FER2013's own label
    (FER_CLASSES index) is the FER+ most-voted class."""
    labels = plurality_labels(votes, ferplus_classes(contempt=False))
    rows = labels >= 0
    return float(np.mean(labels[rows] == np.asarray(fer_labels)[rows]))
