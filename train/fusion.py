"""Fusion of the audio and video models: the default rule, and trained fusion where paired data exists.

    python -m train.fusion default                 # weights/fusion from the measured audio evaluation
    python -m train.fusion fit --data-dir DIR      # LR / SVM / KNN / MLP on RAVDESS audio-video clips

`default` writes the Bayesian product-of-experts rule of avemo.fusion: the audio model's confusion
matrix is its speaker-independent out-of-fold one (weights/audio/evaluation.json); the video model
has no labelled video to be measured on, so its matrix is the FER2013 backbone's published accuracy
spread evenly over the other classes, with *calm* read like *neutral* (the face model has no calm).

`fit` runs both shipped models on each RAVDESS audio-video clip (`01-01-*.mp4`, as released), then
compares audio-only, video-only, the default rule and four trained fusers by grouped cross-validation
over actors, and ships the best trained fuser only if it beats the default rule.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from avemo.config import EMOTIONS, MODALITIES, WEIGHTS_DIR, data_dir
from avemo.fusion import TRAINED_FILE

# Arriaga, Valdenegro-Toro & Plöger (2017), "Real-time convolutional neural networks for emotion and
# gender classification": the mini-Xception that avemo's frame CNN starts from, 66% on the FER2013 test set.
FER2013_BACKBONE_ACCURACY = 0.66
# Evidence counts given to that assumed matrix: a weak prior, easily outweighed once measured.
ASSUMED_COUNTS_PER_CLASS = 20


def audio_confusion_counts(audio_dir: Path) -> tuple[np.ndarray, str]:
    """Out-of-fold confusion counts (8 x 8) of the shipped audio model, RAVDESS and SAVEE pooled."""
    report = json.loads((audio_dir / "evaluation.json").read_text())
    evaluation = report["evaluations"][report["chosen"]]
    counts = np.zeros((len(EMOTIONS), len(EMOTIONS)))
    for corpus in evaluation["summary"].values():
        pooled = corpus["pooled"]
        idx = [EMOTIONS.index(name) for name in pooled["labels"]]
        counts[np.ix_(idx, idx)] += np.asarray(pooled["confusion"])
    return counts, f"out-of-fold, speaker-independent ({report['chosen']}; weights/audio/evaluation.json)"


def assumed_video_counts(video_dir: Path) -> tuple[np.ndarray, str]:
    """The video model's confusion as far as it is known: the backbone's published accuracy, errors
    spread evenly; classes the model has no evidence for are read like neutral."""
    config = json.loads((video_dir / "config.json").read_text()) if (video_dir / "config.json").exists() else {}
    n = len(EMOTIONS)
    rates = np.full((n, n), (1 - FER2013_BACKBONE_ACCURACY) / (n - 1))
    np.fill_diagonal(rates, FER2013_BACKBONE_ACCURACY)
    for name in config.get("classes_without_evidence", ["calm"]):
        rates[EMOTIONS.index(name)] = rates[EMOTIONS.index("neutral")]
    source = (f"assumed: FER2013 test accuracy {FER2013_BACKBONE_ACCURACY:.0%} (Arriaga et al. 2017) spread "
              f"evenly; {', '.join(config.get('classes_without_evidence', ['calm']))} read as neutral")
    return rates * ASSUMED_COUNTS_PER_CLASS, source


def write_default(weights: Path, out: Path) -> dict:
    from avemo.cards import write_fusion_card

    audio_counts, audio_source = audio_confusion_counts(weights / "audio")
    video_counts, video_source = assumed_video_counts(weights / "video")
    audio_config = json.loads((weights / "audio" / "config.json").read_text())
    video_config = json.loads((weights / "video" / "config.json").read_text())
    config = {
        "rule": "bayes-product",
        "confusions": {"audio": audio_counts.round(3).tolist(), "video": video_counts.round(3).tolist()},
        "sources": {"audio": audio_source, "video": video_source},
        "temperatures": {"audio": audio_config.get("temperature", 1.0), "video": video_config.get("temperature", 1.0)},
        "labels": list(EMOTIONS),
    }
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("trained.joblib", TRAINED_FILE):  # (trained.joblib: what earlier versions wrote)
        (out / stale).unlink(missing_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    audio_eval = json.loads((weights / "audio" / "evaluation.json").read_text())
    write_fusion_card(out, config, audio_eval.get("calibration"), comparison=None)
    print(f"wrote {out}")
    return config


def paired_outputs(root: Path, predictor) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(features, labels, actor groups, paths) from running both models on RAVDESS audio-video clips."""
    from tqdm import tqdm

    from avemo.corpora import scan_ravdess
    from avemo.fusion import fusion_features

    report = scan_ravdess(root, modality="video")
    print(report.summary(), flush=True)
    paired = [c for c in report.clips if c.path.name.startswith("01-")]
    rows, labels, groups, paths = [], [], [], []
    for clip in tqdm(paired, desc="audio + video outputs", unit="clip"):
        result = predictor.predict(clip.path)
        if result["audio"] is None or result["video"] is None:
            print(f"skipped {clip.path.name}: {result['unavailable']}", flush=True)
            continue
        p = {m: np.array([result[m]["probs"][e] for e in EMOTIONS]) for m in MODALITIES}
        rows.append(fusion_features(p["audio"], p["video"], result["audio"]["reliability"],
                                    result["video"]["reliability"])[0])
        labels.append(clip.label)
        groups.append(clip.speaker)
        paths.append(str(clip.path))
    if len(set(groups)) < 2:
        raise SystemExit("trained fusion needs paired clips from at least 2 actors")
    return np.array(rows), np.array(labels), np.array(groups), paths


def fusion_candidates(n_samples: int) -> dict:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return {
        "LR": make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)),
        # Platt-calibrated probabilities, as SVC(probability=True) gave (deprecated in scikit-learn 1.9).
        "SVM": make_pipeline(StandardScaler(), CalibratedClassifierCV(SVC(C=1.0), ensemble=False, cv=2)),
        "KNN": make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=max(1, min(15, n_samples // 10)))),
        "MLP": make_pipeline(StandardScaler(), MLPClassifier((32,), alpha=1e-3, max_iter=2000, random_state=0)),
    }


def compare(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, rule) -> tuple[dict, dict]:
    """Out-of-fold predictions (grouped by actor) of every candidate, and their reports."""
    from sklearn.base import clone
    from sklearn.model_selection import GroupKFold

    from avemo.evaluation import classification_report
    from avemo.fusion import bayes_product

    n = len(EMOTIONS)
    audio, video = features[:, :n], features[:, n:2 * n]
    reliability = features[:, 2 * n:]
    predictions = {
        "audio only": audio.argmax(1),
        "video only": video.argmax(1),
        "default rule": np.array([
            bayes_product({"audio": a, "video": v}, {"audio": ra, "video": rv}, rule.confusions).argmax()
            for a, v, (ra, rv) in zip(audio, video, reliability)
        ]),
    }
    folds = GroupKFold(n_splits=min(4, len(set(groups))))
    for name, estimator in fusion_candidates(len(labels)).items():
        predicted = np.zeros(len(labels), dtype=int)
        for train, test in folds.split(features, labels, groups):
            model = clone(estimator).fit(features[train], labels[train])
            predicted[test] = model.classes_[model.predict_proba(features[test]).argmax(1)]
        predictions[name] = predicted
    reports = {name: classification_report(labels, pred) for name, pred in predictions.items()}
    return predictions, reports


def fit(root: Path, weights: Path, out: Path) -> dict:
    from avemo.cards import write_fusion_card
    from avemo.fusion import load_fusion, save_trained
    from avemo.predict import Predictor

    if not (out / "config.json").exists():
        write_default(weights, out)
    # No fusion folder: the candidates are judged on the two models' own outputs.
    predictor = Predictor({m: weights / m for m in MODALITIES}, origin=str(weights))
    started = time.time()
    features, labels, groups, paths = paired_outputs(root, predictor)
    rule = load_fusion(out)
    _, reports = compare(features, labels, groups, rule)
    for name, report in reports.items():
        print(f"{name:>12}: accuracy {report['accuracy']:.3f}  macro-F1 {report['macro_f1']:.3f}  UAR {report['uar']:.3f}")
    trained = {k: v for k, v in reports.items() if k in fusion_candidates(1)}
    best = max(trained, key=lambda k: trained[k]["macro_f1"])
    config = json.loads((out / "config.json").read_text())
    comparison = {"reports": reports, "n_clips": int(len(labels)), "n_actors": int(len(set(groups))),
                  "seconds": time.time() - started, "best_trained": best}
    if trained[best]["macro_f1"] > reports["default rule"]["macro_f1"]:
        model = fusion_candidates(len(labels))[best].fit(features, labels)
        save_trained(model, out)
        config["trained"] = {"name": best, "features": "audio probs (8), video probs (8), reliabilities (2)",
                             "n_clips": int(len(labels)), "actors": sorted(set(groups.tolist()))}
        print(f"shipping trained {best}: it beats the default rule")
    else:
        (out / TRAINED_FILE).unlink(missing_ok=True)
        config.pop("trained", None)
        print(f"keeping the default rule: the best trained fuser ({best}) does not beat it")
    (out / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    (out / "comparison.json").write_text(json.dumps(comparison, indent=1) + "\n")
    audio_eval = json.loads((weights / "audio" / "evaluation.json").read_text())
    write_fusion_card(out, config, audio_eval.get("calibration"), comparison=comparison)
    return comparison


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["default", "fit"])
    parser.add_argument("--data-dir", help="folder holding ravdess/video/Actor_XX/*.mp4 (fit)")
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR, help="folder with audio/ and video/")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / "fusion")
    args = parser.parse_args(argv)
    if args.stage == "default":
        write_default(args.weights, args.out)
    else:
        fit(data_dir(args.data_dir), args.weights, args.out)


if __name__ == "__main__":
    main()
