"""Where model folders come from: the Hugging Face Hub when reachable, else the bundled weights/.

(Minimal local-only version; the Hub download with fallback is filled in by the app/Hub work.)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import MODEL_NAMES, WEIGHTS_DIR


@dataclass(frozen=True)
class WeightsSource:
    folders: dict[str, Path]  # model name -> folder holding model.keras / config.json / README.md
    origin: str               # one line for the log and the app footer, e.g. "bundled weights/ (Hub unreachable)"


def resolve_weights(names: tuple[str, ...] = MODEL_NAMES) -> WeightsSource:
    """Model folders for `names`; a name whose folder does not exist is left out."""
    folders = {name: WEIGHTS_DIR / name for name in names if (WEIGHTS_DIR / name).is_dir()}
    return WeightsSource(folders, f"bundled {WEIGHTS_DIR}")
