"""Blendshapes, facex and the expression head (avemo.face.expression) on a real face and on a blank frame."""
from __future__ import annotations

import json

import numpy as np
import pytest

from avemo.config import WEIGHTS_DIR
from avemo.face.expression import (BLENDSHAPES, FACEX_CLASSES, FACEX_EMBEDDING_WIDTH, FRAME_FEATURES, FRAME_WIDTH,
                                   HEAD_FILE, EmbeddingProjection, ExpressionHead, ExpressionModels,
                                   blendshape_scores, describe_blendshapes)

try:
    from tests import clips
except ImportError:
    import clips

VIDEO = WEIGHTS_DIR / "video"


def scores(**named) -> np.ndarray:
    out = np.zeros(len(BLENDSHAPES), np.float32)
    for name, value in named.items():
        out[BLENDSHAPES.index(name)] = value
    return out


def test_the_strongest_movements_are_said_in_words_and_weak_ones_not():
    smile = scores(mouthSmileLeft=0.9, mouthSmileRight=0.7, cheekSquintLeft=0.5, cheekSquintRight=0.5,
                   jawOpen=0.2, eyeLookUpLeft=0.9)
    assert describe_blendshapes(smile) == ["smiling", "cheeks raised"]  # jaw 0.2: too weak; gaze: never said
    assert describe_blendshapes(scores(browDownLeft=0.6, browDownRight=0.6, jawOpen=0.8), top=1) == ["mouth open"]
    assert describe_blendshapes(scores()) == []
    assert describe_blendshapes(np.full(len(BLENDSHAPES), np.nan)) == []  # no landmarker face: nothing said


def test_the_head_reads_a_missing_blendshape_as_its_training_mean_and_survives_json():
    rng = np.random.default_rng(0)
    n_inputs = len(FACEX_CLASSES) + len(FRAME_FEATURES)
    labels = list(FACEX_CLASSES)
    head = ExpressionHead(labels, labels, rng.normal(size=n_inputs), rng.uniform(0.5, 2, n_inputs),
                          rng.normal(size=(7, n_inputs)), rng.normal(size=7), "test")
    fer, features = rng.normal(size=(3, 7)), rng.normal(size=(3, len(FRAME_FEATURES)))
    again = ExpressionHead.from_json(json.loads(json.dumps(head.to_json())))
    np.testing.assert_allclose(again.logits(fer, features), head.logits(fer, features), rtol=1e-5)
    blank = features.copy()
    blank[:, :len(BLENDSHAPES)] = np.nan
    at_mean = features.copy()
    at_mean[:, :len(BLENDSHAPES)] = head.mean[len(FACEX_CLASSES):len(FACEX_CLASSES) + len(BLENDSHAPES)]
    np.testing.assert_allclose(head.logits(fer, blank), head.logits(fer, at_mean), rtol=1e-5, atol=1e-5)
    stale = head.to_json() | {"features": ["something else"] * n_inputs}
    with pytest.raises(ValueError, match="other features"):
        ExpressionHead.from_json(stale)


def test_a_head_reads_facex_s_embedding_through_its_projection_stored_as_json():
    """The projection (standardise, centre, principal components, whitening) survives JSON to 9 significant
    digits, reads a missing embedding as the training mean, and a head with it refuses frames without one."""
    rng = np.random.default_rng(1)
    k, n_named = 5, len(FACEX_CLASSES) + len(FRAME_FEATURES)
    components = np.linalg.qr(rng.normal(size=(FACEX_EMBEDDING_WIDTH, k)))[0].T
    projection = EmbeddingProjection(rng.uniform(0, 1, FACEX_EMBEDDING_WIDTH), rng.uniform(0.5, 2, FACEX_EMBEDDING_WIDTH),
                                     rng.normal(size=FACEX_EMBEDDING_WIDTH) * 0.1, components, rng.uniform(0.5, 2, k))
    labels = list(FACEX_CLASSES)
    head = ExpressionHead(labels, labels, rng.normal(size=n_named), rng.uniform(0.5, 2, n_named),
                          rng.normal(size=(7, n_named + k)), rng.normal(size=7), "test", projection)
    fer, features = rng.normal(size=(3, 7)), rng.uniform(0, 6, size=(3, FRAME_WIDTH))
    saved = json.loads(json.dumps(head.to_json()))
    assert saved["features"][-1] == f"facex_embedding_pc{k}" and len(saved["embedding"]["components"]) == k
    again = ExpressionHead.from_json(saved)
    np.testing.assert_allclose(again.logits(fer, features), head.logits(fer, features), rtol=1e-6, atol=1e-6)
    # by hand: standardise, centre, project, whiten
    z = (features[:, len(FRAME_FEATURES):] - projection.mean) / projection.scale
    np.testing.assert_allclose(head.inputs(fer, features)[:, n_named:],
                               (z - projection.center) @ components.T * projection.whitening, rtol=1e-9)
    missing = features.copy()
    missing[:, len(FRAME_FEATURES):] = np.nan
    at_mean = features.copy()
    at_mean[:, len(FRAME_FEATURES):] = projection.mean
    np.testing.assert_allclose(head.logits(fer, missing), head.logits(fer, at_mean), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="embedding"):
        head.logits(fer, features[:, :len(FRAME_FEATURES)])


@pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON)
def test_blendshapes_and_facex_on_a_real_face_and_none_on_a_blank_frame():
    import cv2

    from avemo.face.mesh import face_mesh, find_face

    models = ExpressionModels.load(VIDEO)
    assert models is not None and models.head is not None and (VIDEO / HEAD_FILE).is_file()
    rgb = cv2.cvtColor(cv2.imread(str(clips.face_still(3))), cv2.COLOR_BGR2RGB)
    with face_mesh(stills=True) as mesh:
        face = find_face(mesh, rgb)
    assert face.expression_crop.shape == (200, 200, 3) and face.expression_crop.dtype == np.uint8
    with models.landmarker() as landmarker:
        features = models.frame_features(landmarker, face.expression_crop)
        blank = blendshape_scores(landmarker, np.zeros((200, 200, 3), np.uint8))
    assert features.shape == (FRAME_WIDTH,)
    blend, facex = features[:len(BLENDSHAPES)], np.exp(features[len(BLENDSHAPES):len(FRAME_FEATURES)])
    embedding = features[len(FRAME_FEATURES):]
    assert np.isfinite(blend).all() and 0 <= blend.min() and blend.max() <= 1
    assert abs(facex.sum() - 1) < 1e-3  # facex's softmax, kept as log-probabilities
    # facex's embedding: the mean of a ReLU6 map, some channels silent on a face, none saturated everywhere
    assert embedding.shape == (FACEX_EMBEDDING_WIDTH,) and 0 <= embedding.min() and embedding.max() <= 6
    assert 0 < np.count_nonzero(embedding) < FACEX_EMBEDDING_WIDTH
    assert np.isnan(blank).all()
