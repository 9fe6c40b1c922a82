"""How the voice model is measured: whole speakers held out within the corpora, whole corpora held out, and
clips through the degradations of avemo.audio.degradations; and how a corpus is scored on its own classes.

Protocols (each gives every clip a fold; ALWAYS_TRAINED: in every fold's training set):
- "speakers": 4 folds; each corpus's speakers are dealt by sex and name (avemo.corpora.speaker_folds), so one
  set of trainings gives RAVDESS 4-fold by actor, SAVEE leave-one-speaker-out and EmoDB 4-fold by speaker.
- "emodb-loso": leave one EmoDB speaker out (10 folds), RAVDESS and SAVEE always trained on.
- "luna2022": Luna-Jiménez et al. 2022's 5 RAVDESS actor folds (the paired audio-video evaluation), the other
  corpora always trained on.
- "cross-<corpus>": the corpus held out whole (one fold), the model trained on the other two.

Scoring a corpus on its own classes (the corpus's emotions; EmoDB's boredom is not one of the product's):
- "as shown": the product's label as a user sees it (the most likely of the eight), a calm answer counting as
  neutral for a corpus without calm;
- "own classes": the most likely of the corpus's own classes, calm's probability added to neutral's where the
  corpus has no calm.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from avemo.config import EMOTIONS
from avemo.corpora import (ALWAYS_TRAINED, LUNA_JIMENEZ_2022_FOLDS, Clip, published_ravdess_folds, scan_emodb,
                           scan_ravdess, scan_savee, speaker_folds)

CORPORA = ("ravdess", "savee", "emodb")
CORPUS_NAMES = {"ravdess": "RAVDESS", "savee": "SAVEE", "emodb": "EmoDB"}
SPEAKER_FOLDS = 4
PROTOCOLS = ("speakers", "emodb-loso", "luna2022", *(f"cross-{corpus}" for corpus in CORPORA))
SCORINGS = ("own classes", "as shown")
_SCANNERS = {"ravdess": scan_ravdess, "savee": scan_savee, "emodb": scan_emodb}


def load_clips(root: Path, corpora: tuple[str, ...] = CORPORA, verbose: bool = True) -> list[Clip]:
    """The clips of the corpora under `root`, in CORPORA order."""
    clips = []
    for corpus in corpora:
        report = _SCANNERS[corpus](root)
        if verbose:
            print(report.summary(), flush=True)
        clips += report.clips
    return clips


def corpus_emotions(corpus: str) -> tuple[str, ...]:
    """The product's emotions a corpus has, in EMOTIONS order."""
    missing = {"ravdess": (), "savee": ("calm",), "emodb": ("calm", "surprised")}[corpus]
    return tuple(e for e in EMOTIONS if e not in missing)


def protocol_folds(clips: list[Clip], protocol: str) -> np.ndarray:
    """Each clip's fold under a protocol (ALWAYS_TRAINED: in every fold's training set)."""
    corpus = np.array([c.corpus for c in clips])
    if protocol == "speakers":
        return np.array(speaker_folds(clips, SPEAKER_FOLDS))
    if protocol == "luna2022":
        return np.array(published_ravdess_folds(clips, LUNA_JIMENEZ_2022_FOLDS))
    if protocol == "emodb-loso":
        speakers = sorted({c.speaker for c in clips if c.corpus == "emodb"})
        return np.array([speakers.index(c.speaker) if c.corpus == "emodb" else ALWAYS_TRAINED for c in clips])
    if protocol.startswith("cross-"):
        return np.where(corpus == protocol.removeprefix("cross-"), 0, ALWAYS_TRAINED)
    raise ValueError(f"unknown protocol {protocol!r} (known: {', '.join(PROTOCOLS)})")


def fold_count(protocol: str) -> int:
    return {"speakers": SPEAKER_FOLDS, "luna2022": len(LUNA_JIMENEZ_2022_FOLDS), "emodb-loso": 10}.get(protocol, 1)


def training_corpora(protocol: str, corpora: tuple[str, ...] = CORPORA) -> tuple[str, ...]:
    """The corpora a protocol's models learn from (a cross-corpus protocol leaves its held-out one out)."""
    return tuple(c for c in corpora if c != protocol.removeprefix("cross-"))


def corpus_probabilities(probs: np.ndarray, corpus: str) -> np.ndarray:
    """Probabilities over the corpus's own classes (corpus_emotions order): calm's added to neutral's where
    the corpus has no calm, the product's other emotions it lacks dropped."""
    probs = np.asarray(probs, np.float64).copy()
    own = corpus_emotions(corpus)
    if "calm" not in own:
        probs[:, EMOTIONS.index("neutral")] += probs[:, EMOTIONS.index("calm")]
    return probs[:, [EMOTIONS.index(e) for e in own]]


def predicted_emotions(probs: np.ndarray, corpus: str, scoring: str = "own classes") -> np.ndarray:
    """The emotion index (in EMOTIONS) each clip is given under a scoring (SCORINGS)."""
    if scoring == "own classes":
        own = [EMOTIONS.index(e) for e in corpus_emotions(corpus)]
        return np.array(own)[corpus_probabilities(probs, corpus).argmax(axis=1)]
    shown = np.asarray(probs).argmax(axis=1)
    if "calm" not in corpus_emotions(corpus):
        shown = np.where(shown == EMOTIONS.index("calm"), EMOTIONS.index("neutral"), shown)
    return shown


def corpus_report(probs: np.ndarray, labels: np.ndarray, corpus: str, scoring: str = "own classes") -> dict:
    """Accuracy, macro-F1, UAR and the confusion matrix of clips of one corpus under a scoring."""
    from avemo.evaluation import classification_report

    return classification_report(labels, predicted_emotions(probs, corpus, scoring))
