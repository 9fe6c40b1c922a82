"""The project's own frame CNN (avemo.face.fer2013, avemo.face.frame_cnn, train.face_backbone): FER2013 faces
found and cropped as video frames are, the released mini-Xception rebuilt so that it trains, and a tiny
training run whose network the video path loads. FER2013 is read in place (it may not be redistributed)."""
from __future__ import annotations

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
needs_fer2013 = pytest.mark.skipif(not FER2013.is_file(), reason=f"no FER2013 at {FER2013} (set AVEMO_DATA)")


@pytest.fixture(scope="module")
def fer():
    from avemo.face.fer2013 import read_fer2013

    return read_fer2013(clips.DATA)


@needs_fer2013
def test_fer2013_faces_are_found_and_cut_as_a_video_frame_is(fer):
    import cv2

    from avemo.config import VIDEO_FEATURES
    from avemo.face.fer2013 import Fer2013, UPSCALE, aligned_face, fer2013_crops, held_out_split, upscaled
    from avemo.face.mesh import face_mesh
    from avemo.face.video import FER_CLASSES

    assert len(fer.images) == 35887 and fer.images.shape[1:] == (48, 48)
    assert np.bincount(fer.labels).tolist()[FER_CLASSES.index("disgust")] == 547
    _, rows = held_out_split(fer.labels, 21 / len(fer.labels), seed=0)  # 3 of each class
    few = Fer2013(fer.images[rows], fer.labels[rows], fer.names[rows])
    faces = fer2013_crops(few, progress=False, cache=False)
    assert faces.crops.shape == (21, 64, 64) and faces.crops.dtype == np.uint8
    assert faces.found.sum() >= 18  # 97% of all FER2013 faces are found
    x = faces.model_input()
    assert x.shape == (21, 64, 64, 1) and -1.0 <= x.min() < x.max() <= 1.0
    # Each crop is the product's own cut (avemo.face.mesh.face_from_landmarks, as find_face makes it) of the face
    # the mesh finds in a grey-bordered copy, and an aligned face, not the image merely resized.
    i = int(np.flatnonzero(faces.found)[0])
    with face_mesh(VIDEO_FEATURES, stills=True) as mesh:
        face = aligned_face(mesh, few.images[i])
    assert np.array_equal(np.round((face.crop + 1) * 127.5).astype(np.uint8), faces.crops[i])
    resized = cv2.resize(few.images[i], (64, 64), interpolation=cv2.INTER_CUBIC)
    assert np.abs(resized.astype(float) - faces.crops[i]).mean() > 3
    assert UPSCALE * 48 == upscaled(few.images[i]).shape[0]


def test_the_rebuilt_mini_xception_computes_the_shipped_one():
    from avemo.face.frame_cnn import fine_tunable_mini_xception
    from avemo.face.networks import frame_cnn
    from avemo.models import softmax
    from avemo.onnx_export import load_keras

    shipped = frame_cnn(load_keras(WEIGHTS_DIR / "video" / "model.keras"))  # logits, no softmax
    rebuilt = fine_tunable_mini_xception(shipped)
    x = np.random.default_rng(0).uniform(-1, 1, (8, 64, 64, 1)).astype(np.float32)
    assert np.abs(softmax(shipped.predict(x, verbose=0)) - rebuilt.predict(x, verbose=0)).max() < 1e-5


def test_the_rebuilt_mini_xception_trains():
    """The released network, trained as loaded, corrupts the heap in TensorFlow 2.19's oneDNN kernels (its
    8-channel strided shortcut); the rebuilt one must train (a crash here kills the test process)."""
    from avemo.face.frame_cnn import mini_xception

    network = mini_xception()
    network.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(-1, 1, (64, 64, 64, 1)).astype(np.float32)
    network.fit(x, np.arange(64) % 7, batch_size=32, epochs=1, verbose=0)


def test_augmentation_keeps_the_crops_in_the_model_range():
    from avemo.face.frame_cnn import FrameCnnTraining, augmenter

    x = np.random.default_rng(0).uniform(-1, 1, (32, 64, 64, 1)).astype(np.float32)
    out = np.asarray(augmenter(FrameCnnTraining())(x, training=True))
    assert out.shape == x.shape and out.min() < -0.5 and out.max() > 0.5  # not clipped to [0, 255]
    assert abs(out.mean() - x.mean()) < 0.1


@needs_fer2013
def test_training_on_a_tiny_set_gives_a_frame_cnn_the_video_path_loads(tmp_path):
    import cv2

    from avemo.config import EMOTIONS
    from avemo.face.frame_cnn import FrameCnnTraining
    from avemo.face.mesh import face_mesh
    from avemo.face.video import VideoAnalyzer
    from train import face_backbone

    out = tmp_path / "cnn"
    hp = replace(FrameCnnTraining(), architecture="compact", epochs=2, batch_size=16, held_out_share=0.25)
    result = face_backbone.fit(clips.DATA, out, hp, limit=48, progress=False)
    assert len(result["epochs"]) == 2 and 0 <= result["held_out"]["accuracy"] <= 1
    saved = json.loads((out / face_backbone.TRAINING_FILE).read_text())
    assert saved["data"]["subset"] == 48 and (out / face_backbone.CURVE_FILE).is_file()
    import keras

    network = keras.saving.load_model(out / face_backbone.FRAME_CNN_FILE, compile=False)
    video = tmp_path / "video"
    shutil.copytree(WEIGHTS_DIR / "video", video)
    face_backbone.install_frame_cnn(network, video, {"file": "test"})
    assert not (video / "expression_head.json").exists()  # a head over another CNN no longer fits
    analyser = VideoAnalyzer.load(video)
    still = cv2.cvtColor(cv2.imread(str(clips.face_still(1))), cv2.COLOR_BGR2RGB)
    with face_mesh(analyser.cfg, stills=True) as mesh, analyser.landmarker() as landmarker:
        face, features = analyser.frame_face(mesh, landmarker, still)
    expected = network.predict(face.crop[None, :, :, None], verbose=0)[0]
    logits = analyser.fer_logits(face.crop[None])[0]
    assert np.allclose(np.exp(logits), expected, atol=1e-5)  # the pooling model reads the new CNN
    probs = analyser.face_probabilities(face.crop, features)[0]
    assert abs(probs.sum() - 1) < 1e-5 and probs[EMOTIONS.index("calm")] == 0
