"""OpenFace 2.x output read as per-clip facial action-unit features.

Two kinds of file hold OpenFace output for a clip:

- the **per-frame CSV** that OpenFace's `FeatureExtraction` writes (and the RAVDESS Facial Landmark
  Tracking release ships): `frame, face_id, timestamp, confidence, success, ..., x_0..x_67, y_0..y_67,
  ..., AU01_r..AU45_r, AU01_c..AU45_c`, each header name after a comma led by a space;
- a **clip-means table**: one row per clip, a `take` column (the RAVDESS audio-visual id
  `01-01-EE-II-SS-RR-AA`) and the 35 action-unit columns averaged over the clip's frames, as in
  `ravdess/face_aus/openface_au_means.csv`.

    aus = read_clip_action_units(path, take="01-01-04-01-01-01-08")
    aus.means          # (35,) in AU_COLUMNS order: what the action-unit expert reads
    aus.tracked_share  # share of frames OpenFace tracked (1.0 for a means table)

A file that is neither gets one `OpenFaceError` line saying what is wrong.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemo.corpora import parse_ravdess_name
from avemo.media import MediaError

# OpenFace 2.x's action units: 17 intensities (0-5) and 18 presences (0/1 per frame; a share of
# frames once averaged). AU28 (lip suck) has a presence only. This order is the expert's input order.
AU_INTENSITIES: tuple[str, ...] = tuple(f"AU{n:02d}_r" for n in (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45))
AU_PRESENCES: tuple[str, ...] = tuple(f"AU{n:02d}_c" for n in (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 28, 45))
AU_COLUMNS: tuple[str, ...] = AU_INTENSITIES + AU_PRESENCES

# What a person calls each action unit (Ekman & Friesen's FACS names), for messages and the page.
AU_NAMES: dict[str, str] = {
    "AU01": "inner brow raiser", "AU02": "outer brow raiser", "AU04": "brow lowerer", "AU05": "upper lid raiser",
    "AU06": "cheek raiser", "AU07": "lid tightener", "AU09": "nose wrinkler", "AU10": "upper lip raiser",
    "AU12": "lip corner puller", "AU14": "dimpler", "AU15": "lip corner depressor", "AU17": "chin raiser",
    "AU20": "lip stretcher", "AU23": "lip tightener", "AU25": "lips part", "AU26": "jaw drop",
    "AU28": "lip suck", "AU45": "blink",
}
TAKE_COLUMN = "take"
# The largest OpenFace file read: a 60 s clip at 60 fps is about 3 MB of per-frame CSV.
MAX_OPENFACE_BYTES = 200 * 1024 * 1024


class OpenFaceError(MediaError):
    """An OpenFace file that cannot be used; the message says why in one line."""


@dataclass(frozen=True)
class ClipActionUnits:
    """One clip's action units, summarised over its tracked frames."""

    means: np.ndarray              # (35,) AU_COLUMNS averaged over the tracked frames
    spread: np.ndarray | None      # (35,) their standard deviation over frames (per-frame input only)
    frames: int                    # frames in the file (1 for a means-table row)
    tracked_frames: int            # of which OpenFace tracked a face (success = 1)
    source: str                    # "per-frame CSV" or "clip-means table"

    @property
    def tracked_share(self) -> float:
        return self.tracked_frames / self.frames if self.frames else 0.0

    def strongest(self, n: int = 3) -> list[tuple[str, float]]:
        """The `n` strongest action-unit intensities, as (FACS name, mean intensity 0-5)."""
        order = np.argsort(self.means[:len(AU_INTENSITIES)])[::-1][:n]
        return [(AU_NAMES[AU_INTENSITIES[i][:4]], float(self.means[i])) for i in order]


def take_id(name: str) -> str | None:
    """The RAVDESS audio-visual take id ('01-01-...') of a clip or file name of the same performance
    ('03-01-05-02-01-01-12.flac', '01-01-05-02-01-01-12.mp4'), or None if the name is not RAVDESS's."""
    stem = Path(name).name.split(".")[0]
    if parse_ravdess_name(stem) is None:
        return None
    return "01" + stem[2:]


def read_csv_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header (spaces stripped) and rows of a CSV file; OpenFaceError if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise OpenFaceError(f"OpenFace file not found: {path.name}")
    size = path.stat().st_size
    if size == 0:
        raise OpenFaceError(f"{path.name} is empty: no OpenFace output in it")
    if size > MAX_OPENFACE_BYTES:
        raise OpenFaceError(f"{path.name} is {size / 2**20:.0f} MB, more than any OpenFace file of a clip")
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise OpenFaceError(f"{path.name} is not a CSV file (binary content)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise OpenFaceError(f"{path.name} is not a CSV file (not UTF-8 text)") from None
    rows = list(csv.reader(io.StringIO(text), skipinitialspace=True))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise OpenFaceError(f"{path.name} is empty: no OpenFace output in it")
    header = [name.strip() for name in rows[0]]
    return header, rows[1:]


def numeric_columns(header: list[str], rows: list[list[str]], names: tuple[str, ...], path: Path) -> np.ndarray:
    """The named columns as floats (rows, len(names))."""
    missing = [name for name in names if name not in header]
    if missing:
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        raise OpenFaceError(f"{path.name} is not OpenFace action-unit output: no column {shown}")
    index = [header.index(name) for name in names]
    try:
        return np.array([[float(row[i]) for i in index] for row in rows], dtype=float).reshape(len(rows), len(names))
    except (ValueError, IndexError):
        raise OpenFaceError(f"{path.name} has rows that are not numbers in the action-unit columns") from None


def summarise_frames(values: np.ndarray, success: np.ndarray, source: str = "per-frame CSV") -> ClipActionUnits:
    """Per-frame action units (frames, 35) -> the clip's summary over the frames with success = 1."""
    tracked = values[success > 0.5]
    if not len(tracked):
        raise OpenFaceError(f"OpenFace tracked no face in any of the {len(values)} frames (success = 0 throughout)")
    return ClipActionUnits(means=tracked.mean(axis=0), spread=tracked.std(axis=0), frames=len(values),
                           tracked_frames=len(tracked), source=source)


def _frames(header: list[str], rows: list[list[str]], path: Path) -> ClipActionUnits:
    if not rows:
        raise OpenFaceError(f"{path.name} has a header but no frames")
    values = numeric_columns(header, rows, AU_COLUMNS, path)
    success = numeric_columns(header, rows, ("success",), path)[:, 0] if "success" in header else np.ones(len(rows))
    return summarise_frames(values, success)


def _means(header: list[str], rows: list[list[str]], path: Path) -> dict[str, np.ndarray]:
    if TAKE_COLUMN not in header:
        raise OpenFaceError(f"{path.name} has no '{TAKE_COLUMN}' column: not a clip-means table")
    values = numeric_columns(header, rows, AU_COLUMNS, path)
    takes = [row[header.index(TAKE_COLUMN)].strip() for row in rows]
    return dict(zip(takes, values))


def read_frame_csv(path: Path) -> ClipActionUnits:
    """A per-frame OpenFace CSV (FeatureExtraction's output) summarised over its tracked frames."""
    return _frames(*read_csv_table(path), Path(path))


def read_means_table(path: Path) -> dict[str, np.ndarray]:
    """A clip-means table: take id -> (35,) action-unit means."""
    return _means(*read_csv_table(path), Path(path))


def read_clip_action_units(path: Path, take: str | None = None) -> ClipActionUnits:
    """The action units of one clip from either kind of OpenFace file (read once; a `take` column makes
    it a clip-means table). For a table, `take` names the row (a RAVDESS take id, or any file name of
    the same performance); a table of one row needs none."""
    path = Path(path)
    header, rows = read_csv_table(path)
    if TAKE_COLUMN not in header:
        return _frames(header, rows, path)
    table = _means(header, rows, path)
    wanted = take_id(take) if take else None
    if wanted is None and len(table) == 1:
        (means,) = table.values()
    elif wanted in table:
        means = table[wanted]
    elif wanted is None:
        raise OpenFaceError(f"{path.name} holds {len(table)} clips; name the clip's take (a RAVDESS file name)")
    else:
        raise OpenFaceError(f"{path.name} has no row for take {wanted}")
    return ClipActionUnits(means=np.asarray(means, float), spread=None, frames=1, tracked_frames=1,
                           source="clip-means table")
