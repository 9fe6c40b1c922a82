"""A classical baseline on the audio model's exact folds: MFCC statistics + an RBF SVM.

    python -m train.baseline        # prints speaker-independent figures per corpus; writes runs/baseline.json

Each clip becomes the mean and standard deviation of 40 MFCCs and their deltas over its trimmed speech;
an SVM is trained per fold on the other speakers. It tells the reader what the CNN adds over the
usual clip-average features (the seed project's approach, minus its speaker leak).
"""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from avemo.config import AUDIO_FEATURES, EMOTIONS, REPO_ROOT, data_dir
from train.audio import N_FOLDS, load_corpus


def clip_statistics(frames: np.ndarray) -> np.ndarray:
    deltas = np.diff(frames, axis=0) if len(frames) > 1 else np.zeros_like(frames)
    return np.concatenate([frames.mean(0), frames.std(0), deltas.std(0)])


def main() -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from avemo.audio.features import extract_features_cached
    from avemo.corpora import speaker_folds
    from avemo.evaluation import classification_report, mean_and_std

    cfg = replace(AUDIO_FEATURES, kind="mfcc")
    clips = load_corpus(data_dir())
    features = np.array([clip_statistics(v[0]) for v in extract_features_cached([c.path for c in clips], cfg)])
    labels = np.array([c.label for c in clips])
    corpus = np.array([c.corpus for c in clips])
    folds = np.array(speaker_folds(clips, N_FOLDS))
    report = {}
    for name in ("ravdess", "savee"):
        fold_reports = []
        for fold in range(N_FOLDS):
            train, test = folds != fold, (folds == fold) & (corpus == name)
            model = make_pipeline(StandardScaler(), SVC(C=3.0, class_weight="balanced")).fit(features[train], labels[train])
            scores = model.decision_function(features[test])
            if name == "savee":  # SAVEE has no calm: score over its 7 emotions, as for the CNN
                scores[:, list(model.classes_).index(EMOTIONS.index("calm"))] = -np.inf
            fold_reports.append(classification_report(labels[test], model.classes_[scores.argmax(1)]))
        report[name] = {k: mean_and_std(fold_reports, k) for k in ("accuracy", "macro_f1", "uar")}
        print(name, {k: f"{100 * m:.1f} ± {100 * s:.1f}" for k, (m, s) in report[name].items()})
    (REPO_ROOT / "runs").mkdir(exist_ok=True)
    (REPO_ROOT / "runs" / "baseline.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
