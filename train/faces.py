"""The live face model measured on labelled face stills (JAFFE, SFEW 2.0), none of them seen in training.

    python -m train.faces evaluate [--data-dir DIR] [--video weights/video]

For each set: accuracy, macro-F1 and UAR over its 7 classes, the confusion matrix (a PNG beside the
report), and the stills where no face was found (counted as errors: the product would not answer
either). The pooled confusion matrix is what the fusion rule uses for the live face model
(train/fusion.py default). Writes weights/video/faces_evaluation.json and the model card's section on it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from avemo.config import EMOTIONS, WEIGHTS_DIR, data_dir

NO_FACE = -1


def evaluate(root: Path, video_dir: Path) -> dict:
    from avemo.cards import write_faces_section
    from avemo.evaluation import classification_report
    from avemo.face_evaluation import FACE_SETS, face_crops, labelled_stills
    from avemo.plots import confusion_matrix_png
    from avemo.video import FACES_EVALUATION_FILE, VideoAnalyzer

    analyser = VideoAnalyzer.load(video_dir)
    datasets, all_true, all_pred = {}, [], []
    for name in FACE_SETS:
        stills = labelled_stills(root, name)
        if not stills:
            print(f"{name}: no labelled stills under {root / 'faces' / name}, skipped")
            continue
        crops, found = face_crops(stills, analyser.cfg)
        probs = analyser.crop_probabilities(crops[found])
        true = np.array([EMOTIONS.index(s.emotion) for s in stills])
        # A still without a face counts as wrong: it gets the one class no face set has (calm).
        predicted = np.full(len(stills), EMOTIONS.index("calm"))
        predicted[found] = probs.argmax(1)
        report = classification_report(true, predicted)
        report["faces_not_found"] = [s.path.name for s, ok in zip(stills, found) if not ok]
        report["subjects"] = len({s.subject for s in stills})
        datasets[name] = report
        all_true.append(true[found])
        all_pred.append(predicted[found])
        confusion_matrix_png(report["confusion"], report["labels"], video_dir / f"confusion_{name}.png",
                             f"live face model on {name.upper()} ({len(stills)} stills)")
        print(f"{name}: {len(stills)} stills, {int(found.sum())} faces found; accuracy {report['accuracy']:.3f}, "
              f"macro-F1 {report['macro_f1']:.3f}, UAR {report['uar']:.3f}")
    if not datasets:
        raise SystemExit(f"no labelled face stills under {root / 'faces'}")
    pooled = classification_report(np.concatenate(all_true), np.concatenate(all_pred))
    result = {"datasets": datasets, "pooled": pooled,
              "protocol": "every labelled still of each set (the model never trained on any); the pooled "
                          "confusion matrix counts the stills with a face found"}
    (video_dir / FACES_EVALUATION_FILE).write_text(json.dumps(result, indent=1) + "\n")
    if (video_dir / "README.md").is_file():
        write_faces_section(video_dir, result)
    print(f"pooled (faces found): accuracy {pooled['accuracy']:.3f}; wrote {video_dir / FACES_EVALUATION_FILE}")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["evaluate"])
    parser.add_argument("--data-dir", help="folder holding faces/ (default: $AVEMO_DATA or ../shared/data)")
    parser.add_argument("--video", type=Path, default=WEIGHTS_DIR / "video", help="the video model folder")
    args = parser.parse_args(argv)
    evaluate(data_dir(args.data_dir), args.video)


if __name__ == "__main__":
    main()
