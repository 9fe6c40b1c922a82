"""The face path on real faces: the 22 RAVDESS face stills (and variants built from them)."""
from __future__ import annotations

import numpy as np
import pytest

from tests import clips

pytestmark = pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON)

cv2 = pytest.importorskip("cv2")
face = pytest.importorskip("avemo.face.mesh")


def still_rgb(actor: int) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(clips.face_still(actor))), cv2.COLOR_BGR2RGB)


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)


@pytest.fixture()
def mesh():
    with face.face_mesh(stills=True) as mesh:
        yield mesh


def test_a_face_is_found_and_cropped_in_every_still(mesh):
    stills = sorted((clips.DATA / "ravdess" / "faces").glob("*.png"))
    assert len(stills) >= 20
    for still in stills:
        rgb = cv2.cvtColor(cv2.imread(str(still)), cv2.COLOR_BGR2RGB)
        found = face.find_face(mesh, rgb)
        assert found is not None, still.name
        assert found.crop.shape == (64, 64) and found.crop.dtype == np.float32
        assert -1.0 <= found.crop.min() < found.crop.max() <= 1.0
        assert found.landmarks.shape == (468, 2)
        x0, y0, x1, y1 = found.box
        assert 0 <= x0 < x1 <= rgb.shape[1] and 0 <= y0 < y1 <= rgb.shape[0]
        assert found.quality == 1.0 and not found.is_dark and not found.is_small


def test_a_tilted_face_is_cropped_with_its_eyes_level(mesh):
    upright = face.find_face(mesh, still_rgb(2))
    tilted = face.find_face(mesh, rotated(still_rgb(2), 20))
    assert abs(face.eye_angle(upright.landmarks)) < 8
    assert abs(face.eye_angle(tilted.landmarks)) > 15
    # The mesh run again on the aligned crop (enlarged) finds level eyes.
    crop = ((tilted.crop + 1) * 127.5).astype(np.uint8)
    big = cv2.cvtColor(cv2.resize(crop, (256, 256), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2RGB)
    faces = face.detect_faces(mesh, big)
    assert faces, "no face found again in the aligned crop"
    assert abs(face.eye_angle(faces[0])) < 5
    # And the aligned crop of the tilted still looks like the crop of the upright one.
    # And that crop matches the upright still's crop better than a crop left tilted would.
    aligned_match = np.corrcoef(tilted.crop.ravel(), upright.crop.ravel())[0, 1]
    left_tilted = rotated(upright.crop, 20)
    tilted_match = np.corrcoef(left_tilted.ravel(), upright.crop.ravel())[0, 1]
    assert aligned_match > tilted_match


def test_the_largest_of_two_faces_is_analysed(mesh, tmp_path):
    image = clips.side_by_side_image(tmp_path / "two.png", clips.face_still(5), clips.face_still(6))
    rgb = cv2.cvtColor(cv2.imread(str(image)), cv2.COLOR_BGR2RGB)
    faces = face.detect_faces(mesh, rgb)
    assert len(faces) == 2
    widths = [float(np.ptp(f[:, 0])) for f in faces]
    assert widths[0] > widths[1]
    found = face.find_face(mesh, rgb)
    assert found.n_faces == 2
    assert found.box[2] < rgb.shape[1] / 2  # the larger face is the left one


def test_a_dark_face_is_found_brightened_and_weighs_less(mesh):
    bright = face.find_face(mesh, still_rgb(7))
    dark = face.find_face(mesh, (still_rgb(7) * 0.15).astype(np.uint8))
    assert dark is not None
    assert dark.is_dark and not bright.is_dark
    assert dark.quality < bright.quality
    assert np.ptp(dark.crop) > 1.0  # stretched back to a usable contrast


def test_a_small_face_weighs_less(mesh):
    small_image = cv2.resize(still_rgb(3), None, fx=0.45, fy=0.45, interpolation=cv2.INTER_AREA)
    small = face.find_face(mesh, small_image)
    assert small is not None and small.is_small
    assert 0 < small.quality < 1


def test_no_face_in_a_plain_or_patterned_picture(mesh):
    assert face.find_face(mesh, np.full((224, 398, 3), 128, np.uint8)) is None
    rng = np.random.default_rng(0)
    assert face.find_face(mesh, rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)) is None


def test_big_frames_are_handled_in_frame_coordinates(mesh):
    big = cv2.resize(still_rgb(4), (1920, 1080), interpolation=cv2.INTER_CUBIC)
    normal = face.find_face(mesh, still_rgb(4))
    found = face.find_face(mesh, big)
    scale = 1920 / 398
    assert found is not None
    assert found.box[2] == pytest.approx(normal.box[2] * scale, rel=0.1)


def test_draw_mesh_returns_a_new_rgb_image_marked_only_around_the_face(mesh):
    rgb = still_rgb(1)
    original = rgb.copy()
    found = face.find_face(mesh, rgb)
    drawn = face.draw_mesh(rgb, found.landmarks)
    assert np.array_equal(rgb, original)  # the input is left alone
    assert drawn.shape == rgb.shape and drawn.dtype == np.uint8
    changed = np.any(drawn != rgb, axis=2)
    assert changed.sum() > 500
    ys, xs = np.nonzero(changed)
    x0, y0, x1, y1 = found.box
    assert xs.min() >= x0 - 3 and xs.max() <= x1 + 3 and ys.min() >= y0 - 3 and ys.max() <= y1 + 3
