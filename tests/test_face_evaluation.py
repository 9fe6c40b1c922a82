"""The live face model measured on labelled stills (train.faces): real JAFFE and SFEW images, read in place
(they may not be redistributed: the test links a few of them into a temporary folder, never copies)."""
from __future__ import annotations

import json
import re
import shutil

import pytest

from avemo.config import EMOTIONS, WEIGHTS_DIR

try:
    from tests import clips
except ImportError:
    import clips

FACES = clips.DATA / "faces"
pytestmark = pytest.mark.skipif(not (FACES / "jaffe").is_dir() or not (FACES / "sfew").is_dir(),
                                reason=f"no labelled faces at {FACES} (set AVEMO_DATA)")


def test_the_labelled_sets_are_read_with_their_labels_and_subjects():
    from avemo.face_evaluation import labelled_stills

    jaffe, sfew = labelled_stills(clips.DATA, "jaffe"), labelled_stills(clips.DATA, "sfew")
    assert len(jaffe) == 213 and len({s.subject for s in jaffe}) == 10
    assert len(sfew) == 1264 and {s.emotion for s in sfew} == {s.emotion for s in jaffe} == set(EMOTIONS) - {"calm"}
    movies = {s.subject for s in sfew}  # the movie (the nearest thing to a subject), not a frame number
    assert len(movies) > 50 and not [m for m in movies if re.search(r"_\d{6,}$", m)]
    assert {"HarryPotter_Deathly_Hallows_1", "IAmSam", "OceansThirteen", "50_50"} <= movies


def test_evaluate_writes_per_set_figures_and_the_pooled_matrix_the_fusion_reads(tmp_path):
    from avemo.face_evaluation import labelled_stills
    from train import faces

    root = tmp_path / "data"
    for name in ("jaffe", "sfew"):
        picked = {}
        for still in labelled_stills(clips.DATA, name):  # one still of each emotion
            picked.setdefault(still.emotion, still.path)
        for path in picked.values():
            link = root / "faces" / name / path.relative_to(FACES / name)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)
    video = tmp_path / "video"
    shutil.copytree(WEIGHTS_DIR / "video", video)
    result = faces.evaluate(root, video)
    for name in ("jaffe", "sfew"):
        report = result["datasets"][name]
        assert report["n"] == 7 and 0 <= report["accuracy"] <= 1
        assert sum(map(sum, report["confusion"])) == 7 and (video / f"confusion_{name}.png").is_file()
    saved = json.loads((video / "faces_evaluation.json").read_text())
    found = 14 - sum(len(r["faces_not_found"]) for r in saved["datasets"].values())
    assert saved["pooled"]["n"] == found >= 10  # the pooled matrix counts the stills with a face
    faces.evaluate(root, video)  # again: the card's section is replaced, not repeated
    card = (video / "README.md").read_text()
    assert card.count("## Measured on labelled face stills") == 1
    assert "| JAFFE | 7 stills" in card and card.index("labelled face stills") < card.index("## Not measured")
