"""The face-AU path on real paired takes: real rows of the RAVDESS action-unit table beside the real audio of
the same performances, through the Predictor, `avemo predict --face-aus` and `train.fusion score`."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from avemo.config import EMOTIONS, REPO_ROOT, WEIGHTS_DIR
from avemo.face.openface import AU_COLUMNS, ClipActionUnits, read_means_table

try:
    from tests import clips
    from tests.test_openface import AU_TABLE, HAVE_AUS
except ImportError:
    import clips
    from test_openface import AU_TABLE, HAVE_AUS

pytestmark = pytest.mark.skipif(not (clips.HAVE_DATA and HAVE_AUS), reason=clips.SKIP_REASON)

# (actor, emotion code, intensity): a sad, a happy and an angry take of actors the tests also use elsewhere.
TAKES = [(8, 4, 2), (3, 3, 2), (1, 5, 2)]


def take(actor: int, emotion: int, intensity: int) -> str:
    return f"01-01-{emotion:02d}-{intensity:02d}-01-01-{actor:02d}"


@pytest.fixture(scope="module")
def table() -> dict:
    return read_means_table(AU_TABLE)


@pytest.fixture(scope="module")
def predictor():
    from avemo.predict import Predictor

    return Predictor({m: WEIGHTS_DIR / m for m in ("audio", "face_aus", "fusion")}, origin="test")


def means_row(table, actor, emotion, intensity) -> ClipActionUnits:
    return ClipActionUnits(table[take(actor, emotion, intensity)], None, 1, 1, "clip-means table")


def test_the_face_aus_expert_is_the_face_and_its_result_says_so(predictor, table):
    happy = means_row(table, 3, 3, 2)
    result = predictor.predict(clips.ravdess_clip(actor=3, emotion=3, intensity=2), face_aus=happy)
    assert result["error"] is None and result["audio"] is not None
    face = result["video"]
    assert face["source"] == "openface action units" and face["openface_input"] == "clip-means table"
    assert abs(sum(face["probs"].values()) - 1) < 1e-3 and face["timeline"] == []
    assert face["strongest_action_units"][0]["name"]  # in FACS words, for the page
    card = json.loads((WEIGHTS_DIR / "face_aus" / "evaluation.json").read_text())
    assert face["measured_accuracy"] == card["nested"]["A"]["accuracy"]  # what the page says beside its chart
    fused = result["fused"]
    config = json.loads((WEIGHTS_DIR / "fusion" / "config.json").read_text())
    trained = config.get("trained", {})
    expected = (f"trained {trained['name']}" if trained.get("face") == "face_aus" else "bayes-product (default rule)")
    assert fused["method"] == expected and fused["modalities"] == ["audio", "video"]
    assert set(fused["contributions"]) == {"audio", "video"} and fused["reason"].startswith(fused["label"])


def test_face_aus_alone_needs_no_audio_model_and_a_strong_smile_reads_happy(predictor, table):
    # The happiest face among the real takes (largest mean lip-corner pull): the expert must call it happy.
    smile = AU_COLUMNS.index("AU12_r")
    brightest = max(table, key=lambda t: table[t][smile])
    aus = ClipActionUnits(table[brightest], None, 1, 1, "clip-means table")
    result = predictor.predict(clips.ravdess_clip(actor=3, emotion=3), modality="video", face_aus=aus)
    assert result["audio"] is None and result["video"]["label"] == "happy"
    assert result["fused"]["method"] == "video only"


def write_frame_csv(path, means: np.ndarray, lost_frames: int = 3) -> None:
    """A per-frame OpenFace CSV whose tracked frames all hold `means`, plus untracked frames of noise."""
    header = ["frame", "face_id", "timestamp", "confidence", "success", *AU_COLUMNS]
    with path.open("w", newline="") as out:
        out.write(", ".join(header) + "\n")
        writer = csv.writer(out)
        for i in range(12):
            tracked = i >= lost_frames
            values = means if tracked else np.full(len(AU_COLUMNS), 4.0)
            writer.writerow([i + 1, 0, f"{i * 0.04:.2f}", 0.98 if tracked else 0.1, int(tracked), *values])


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "avemo", "predict", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "AVEMO_OFFLINE": "1"})


def test_cli_face_aus_from_a_per_frame_csv_and_from_the_table_agree(tmp_path, table, predictor):
    sad = take(8, 4, 2)
    frames = tmp_path / "clip.csv"
    write_frame_csv(frames, table[sad])
    clip = clips.ravdess_clip(actor=8, emotion=4, intensity=2)
    by_frames = run_cli(str(clip), "--face-aus", str(frames), "--format", "jsonl")
    by_table = run_cli(str(clip), "--face-aus", str(AU_TABLE), "--format", "jsonl")
    assert by_frames.returncode == 0 and by_table.returncode == 0, by_frames.stderr + by_table.stderr
    a, b = json.loads(by_frames.stdout.strip().splitlines()[-1]), json.loads(by_table.stdout.strip().splitlines()[-1])
    assert a["video"]["openface_input"] == "per-frame CSV" and b["video"]["openface_input"] == "clip-means table"
    assert a["video"]["faces_found"] == 9 and a["video"]["frames"] == 12
    for emotion in EMOTIONS:
        assert a["video"]["probs"][emotion] == pytest.approx(b["video"]["probs"][emotion], abs=1e-4)
    assert a["video"]["reliability"] == pytest.approx(0.75) and b["video"]["reliability"] == 1.0
    # The JSON keeps its shape; the same call in Python gives the same fused verdict as the CLI.
    assert set(a) == {"path", "audio", "video", "fused", "unavailable", "notes", "error"}
    same = predictor.predict(clip, face_aus=means_row(table, 8, 4, 2))
    assert b["fused"]["label"] == same["fused"]["label"]


def test_cli_face_aus_refuses_a_bad_file_and_a_take_the_table_lacks_in_one_line(tmp_path):
    notes = tmp_path / "notes.csv"
    notes.write_text("not, openface\n1, 2\n")
    bad = run_cli(str(clips.ravdess_clip(actor=8)), "--face-aus", str(notes))
    assert bad.returncode == 2 and "no column AU01_r" in bad.stderr and "Traceback" not in bad.stderr
    unknown = run_cli(str(clips.savee_clip("DC_a01")), "--face-aus", str(AU_TABLE))
    assert unknown.returncode == 2 and "name the clip's take" in unknown.stderr


def test_score_on_a_small_folder_of_paired_takes(tmp_path, table, capsys):
    from train import fusion

    root = tmp_path / "data"
    rows = []
    for actor, emotion, intensity in TAKES:
        folder = root / "ravdess" / "audio" / f"Actor_{actor:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        audio = clips.ravdess_clip(actor=actor, emotion=emotion, intensity=intensity)
        (folder / audio.name).symlink_to(audio)
        rows.append(take(actor, emotion, intensity))
    rows.append(take(2, 5, 2))  # an action-unit row whose audio is not in the folder: not a paired take
    (root / "ravdess" / "face_aus").mkdir(parents=True)
    with (root / "ravdess" / "face_aus" / "openface_au_means.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["take", *AU_COLUMNS])
        for row in rows:
            writer.writerow([row, *table[row]])
    fusion.main(["score", "--data-dir", str(root), "--json"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["takes"] == len(TAKES)
    for part in ("audio", "face", "fused", "rule"):
        assert set(summary[part]) == {"accuracy", "macro_f1", "uar"}
        assert 0 <= summary[part]["accuracy"] <= 1
    assert summary["audio"]["accuracy"] >= 2 / 3  # the voice model knows these acted takes well
