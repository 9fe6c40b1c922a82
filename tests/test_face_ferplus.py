"""FER+ (avemo.face.ferplus): the crowd's votes read in place, aligned with the FER2013 rows and the original split,
turned into soft targets and benchmark labels; the frame CNN trained on them end to end on a handful of faces
(train.face_backbone --labels ferplus), resumable, and its product network (contempt dropped) loadable by the video
path. The votes and images are read in place (they may not be redistributed); those tests skip without them."""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from avemo.config import WEIGHTS_DIR

try:
    from tests import clips
except ImportError:
    import clips

FER2013 = clips.DATA / "faces" / "fer2013" / "fer2013_48x48.npz"
FERPLUS = clips.DATA / "faces" / "fer2013" / "ferplus_votes.npz"
needs_ferplus = pytest.mark.skipif(not (FER2013.is_file() and FERPLUS.is_file()),
                                   reason=f"no FER2013 / FER+ votes under {FER2013.parent} (set AVEMO_DATA)")


def votes_row(**counts) -> list[int]:
    from avemo.face.ferplus import FERPLUS_VOTES

    return [counts.get(name, 0) for name in FERPLUS_VOTES]


def test_votes_become_soft_targets_and_labels_by_the_ferplus_rules():
    from avemo.face.ferplus import ferplus_classes, majority_labels, plurality_labels, vote_targets

    classes8, classes7 = ferplus_classes(contempt=True), ferplus_classes(contempt=False)
    assert classes8[:7] == classes7 and classes8[7] == "contempt" and classes7[3] == "happy"
    votes = np.array([
        votes_row(happiness=6, surprise=3, anger=1),   # anger's single vote is an outlier
        votes_row(neutral=4, sadness=4, unknown=2),    # a tie: the first in FER+ order; no strict majority
        votes_row(unknown=6, neutral=4),               # most voted "unknown": not an emotion label
        votes_row(contempt=5, neutral=3, disgust=2),   # contempt: a class only where it is kept
        [-1] * 10,                                     # a face without a FER+ row
    ])
    targets = vote_targets(votes, classes8)
    happy, surprise = classes8.index("happy"), classes8.index("surprise")
    assert targets[0, happy] == pytest.approx(6 / 9) and targets[0, surprise] == pytest.approx(3 / 9)
    assert targets[0, classes8.index("angry")] == 0
    assert targets[1, classes8.index("neutral")] == targets[1, classes8.index("sad")] == pytest.approx(0.5)
    assert targets[2, classes8.index("neutral")] == 1.0  # unknown's votes are dropped, not the face's emotion
    assert targets[3, 7] == pytest.approx(0.5) and vote_targets(votes, classes7)[3].sum() == pytest.approx(1.0)
    assert targets[4].sum() == 0
    assert plurality_labels(votes, classes8).tolist() == [happy, classes8.index("neutral"), -1, 7, -1]
    assert plurality_labels(votes, classes7).tolist()[3] == -1
    assert majority_labels(votes, classes8).tolist() == [happy, -1, -1, -1, -1]  # 5 of 10 is not more than half


@needs_ferplus
def test_ferplus_votes_are_read_in_place_and_aligned_with_the_fer2013_rows_and_split():
    from avemo.face.fer2013 import read_fer2013
    from avemo.face.ferplus import SPLITS, fer2013_agreement, ferplus_classes, plurality_labels, read_ferplus

    fer = read_fer2013(clips.DATA)
    votes = read_ferplus(clips.DATA, len(fer.images))
    assert votes.votes.shape == (35887, 10) and votes.votes.dtype == np.int8
    assert [len(votes.rows(split)) for split in SPLITS] == [27330, 3281, 3250]
    assert int((~votes.has_votes).sum()) == 2026 and set(votes.usage[~votes.has_votes]) == {""}
    assert np.isin(votes.votes[votes.has_votes].sum(axis=1), (9, 10)).all()  # ten workers (one face: nine)
    # Aligned row by row: FER2013's own label is the crowd's top class for about 62% of the faces in every split;
    # votes on the wrong rows would agree about as often as two random labels (some 25%).
    assert 0.60 < fer2013_agreement(fer.labels, votes.votes) < 0.66
    shuffled = votes.votes[np.random.default_rng(0).permutation(len(votes.votes))]
    assert fer2013_agreement(fer.labels, shuffled) < 0.35
    labels = plurality_labels(votes.votes, ferplus_classes(contempt=False))
    for split in SPLITS:
        rows = votes.rows(split)
        rows = rows[labels[rows] >= 0]
        assert np.mean(labels[rows] == fer.labels[rows]) > 0.55, split
    # The faces without votes are mostly exact duplicates of a face that has them.
    digests = np.array([hashlib.md5(image.tobytes()).hexdigest() for image in fer.images])
    voted = set(digests[votes.has_votes])
    assert np.mean([d in voted for d in digests[~votes.has_votes]]) > 0.8
    with pytest.raises(ValueError, match="not aligned"):
        read_ferplus(clips.DATA, len(fer.images) - 1)


@needs_ferplus
def test_soft_target_training_on_a_handful_of_faces_end_to_end(tmp_path):
    """train.face_backbone --labels ferplus on 120 faces: FER+'s split, the vote distributions as targets, the
    PrivateTest report, and a product network without contempt that the video path loads."""
    import keras

    from avemo.face.frame_cnn import FrameCnnTraining
    from avemo.face.video import VideoAnalyzer
    from train import face_backbone

    out = tmp_path / "cnn"
    hp = replace(FrameCnnTraining(), architecture="compact", labels="ferplus", epochs=2, batch_size=16,
                 label_smoothing=0.0, class_weight_power=0.0)
    result = face_backbone.fit(clips.DATA, out, hp, limit=120, progress=False)
    assert result["classes"][-1] == "contempt" and len(result["classes"]) == 8
    assert len(result["epochs"]) == 2 and result["data"]["trained_on"] > 60
    report = result["ferplus"]
    assert report["split"] == "PrivateTest" and 0 < report["most_voted"]["n"] <= report["faces"]
    assert report["majority_rule"]["n"] <= report["most_voted"]["n"]
    assert 0 <= report["seven_classes"]["accuracy"] <= 1 and "contempt" not in report["seven_classes"]["labels"]
    assert json.loads((out / face_backbone.TRAINING_FILE).read_text())["ferplus"] == report
    assert (out / face_backbone.FERPLUS_CONFUSION_FILE).is_file()

    trained = keras.saving.load_model(out / face_backbone.FERPLUS_CNN_FILE, compile=False)
    product = keras.saving.load_model(out / face_backbone.FRAME_CNN_FILE, compile=False)
    assert trained.outputs[0].shape[-1] == 8 and product.outputs[0].shape[-1] == 7
    x = np.random.default_rng(0).uniform(-1, 1, (6, 64, 64, 1)).astype(np.float32)
    eight = trained.predict(x, verbose=0)
    assert np.allclose(product.predict(x, verbose=0), eight[:, :7] / eight[:, :7].sum(1, keepdims=True), atol=1e-5)

    video = tmp_path / "video"
    shutil.copytree(WEIGHTS_DIR / "video", video)
    face_backbone.install_frame_cnn(product, video, {"file": "test"})
    analyser = VideoAnalyzer.load(video)
    assert np.allclose(np.exp(analyser.fer_logits(x[..., 0])), product.predict(x, verbose=0), atol=1e-5)


def test_training_resumes_from_its_last_epoch(tmp_path):
    """A run stopped after its first epoch goes on from there: the log keeps epoch 1 and only epoch 2 is trained."""
    from avemo.face.frame_cnn import EpochCheckpoint, FrameCnnTraining, compact_cnn, train_frame_cnn

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (48, 64, 64, 1)).astype(np.float32)
    targets = rng.dirichlet(np.ones(8), 48).astype(np.float32)
    hp = replace(FrameCnnTraining(), epochs=2, batch_size=16, label_smoothing=0.0, class_weight_power=0.0)
    train, held_out = np.arange(32), np.arange(32, 48)

    def stop_at_epoch_2(line):
        if line.startswith("epoch 2/"):
            raise KeyboardInterrupt  # as a user stopping the run (before epoch 2's checkpoint)

    with pytest.raises(KeyboardInterrupt):
        train_frame_cnn(compact_cnn(8), x, targets, train, held_out, hp, out=stop_at_epoch_2, checkpoints=tmp_path)
    first = json.loads((tmp_path / EpochCheckpoint.LOG).read_text())
    assert [r["epoch"] for r in first] == [1]
    lines = []
    network = compact_cnn(8)
    rows = train_frame_cnn(network, x, targets, train, held_out, hp, out=lines.append, checkpoints=tmp_path)
    assert lines[0].startswith("resuming after epoch 1") and [r["epoch"] for r in rows] == [1, 2]
    assert rows[0] == first[0]
    # Epoch 2 went on from epoch 1's optimizer state: its checkpoint counts 2 epochs of 2 batches. (The network
    # returned holds the best epoch's weights, and with them that epoch's optimizer state when it came from disk.)
    import keras

    resumed = keras.saving.load_model(tmp_path / EpochCheckpoint.LAST, compile=True)
    assert int(resumed.optimizer.iterations.numpy()) == 4
