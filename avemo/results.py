"""The JSON shape of one modality's result, shared by the audio, face-video and action-unit analyses.

    {"label", "confidence", "probs": {emotion: p}, "timeline": [{"start", "end", "probs"}],
     "reliability", ...extra keys of that modality (speech_seconds, faces_found, source, ...)}
"""
from __future__ import annotations

import numpy as np

from avemo.config import EMOTIONS


def probs_dict(probs: np.ndarray) -> dict[str, float]:
    return {name: round(float(p), 4) for name, p in zip(EMOTIONS, probs)}


def modality_result(clip_probs: np.ndarray, window_probs: np.ndarray, spans: list[tuple[float, float]],
                    reliability: float, **extra) -> dict:
    """One modality's result: the clip's probabilities (in EMOTIONS order) and each window's."""
    return {
        "label": EMOTIONS[int(np.argmax(clip_probs))],
        "confidence": round(float(np.max(clip_probs)), 4),
        "probs": probs_dict(clip_probs),
        "timeline": [
            {"start": round(start, 2), "end": round(end, 2), "probs": probs_dict(p)}
            for (start, end), p in zip(spans, window_probs)
        ],
        "reliability": round(float(reliability), 3),
        **extra,
    }
