"""avemo.face.tracks and `train.video fit --openface-dir` on synthetic per-frame OpenFace CSVs
written here (spaced headers as OpenFace writes them, some untracked frames, action units and
mouth shape that depend on the emotion)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from avemo.config import EMOTIONS
from avemo.face.tracks import (N_FEATURES, N_LANDMARKS, fit_standardiser, load_sequences, normalise_landmarks,
                               read_track, resample, scan_tracks, standardise)
from avemo.face.openface import AU_COLUMNS, AU_INTENSITIES, AU_PRESENCES, OpenFaceError

HEADER = (["frame", "face_id", "timestamp", "confidence", "success"]
          + [f"gaze_{e}_{a}" for e in (0, 1) for a in "xyz"] + ["gaze_angle_x", "gaze_angle_y"]
          + [f"x_{i}" for i in range(N_LANDMARKS)] + [f"y_{i}" for i in range(N_LANDMARKS)]
          + [f"{c}_{i}" for c in "XYZ" for i in range(N_LANDMARKS)]
          + ["pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"]
          + list(AU_INTENSITIES) + list(AU_PRESENCES))


def template_face() -> np.ndarray:
    """68 2-D points (pixels) with the outer eye corners 90 px apart."""
    points = np.random.default_rng(0).uniform(-50, 50, size=(N_LANDMARKS, 2))
    points[36], points[45] = (-45.0, -20.0), (45.0, -20.0)
    return points


def write_track(path: Path, emotion: int, frames: int, rng: np.random.Generator, untracked=(3, 4),
                header=HEADER) -> Path:
    """One OpenFace-like per-frame CSV for a clip of `emotion` (index into EMOTIONS)."""
    face = template_face()
    face[48:68, 1] += 3.0 * emotion                                  # the mouth's shape carries the emotion
    scale, shift = rng.uniform(0.7, 1.5), rng.uniform(150, 400, size=2)  # where and how large the face is
    lines = [", ".join(header)]
    for f in range(frames):
        tracked = f not in untracked
        points = (face + rng.normal(0, 0.5, face.shape)) * scale + shift if tracked else np.zeros_like(face)
        intensities = rng.uniform(0, 0.5, len(AU_INTENSITIES))
        presences = (rng.uniform(size=len(AU_PRESENCES)) < 0.1).astype(float)
        intensities[emotion] += 2.5
        presences[emotion] = 1.0
        if not tracked:
            intensities[:], presences[:] = 0.0, 0.0
        row = {"frame": f + 1, "face_id": 0, "timestamp": f / 30, "confidence": 0.98 if tracked else 0.0,
               "success": int(tracked)}
        row.update({f"x_{i}": points[i, 0] for i in range(N_LANDMARKS)})
        row.update({f"y_{i}": points[i, 1] for i in range(N_LANDMARKS)})
        row.update(dict(zip(AU_INTENSITIES, intensities)))
        row.update(dict(zip(AU_PRESENCES, presences)))
        lines.append(", ".join(f"{row.get(name, 0.0):g}" if not isinstance(row.get(name), int) else str(row[name])
                               for name in header))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def track_dir(tmp_path_factory) -> Path:
    """3 actors x 8 emotions x 2 takes, 30-40 frames each, plus three files that must be skipped."""
    root = tmp_path_factory.mktemp("openface")
    rng = np.random.default_rng(7)
    for actor in (1, 2, 3):
        for e in range(len(EMOTIONS)):
            for take in (1, 2):
                name = f"01-01-{e + 1:02d}-01-01-{take:02d}-{actor:02d}.csv"
                write_track(root / f"Actor_{actor:02d}" / name, e, int(rng.integers(30, 41)), rng)
    write_track(root / "Actor_01" / "notes.csv", 0, 10, rng)                       # name does not parse
    write_track(root / "Actor_02" / "01-01-03-02-02-01-02.csv", 2, 10, rng,        # no action-unit columns
                header=[h for h in HEADER if h not in AU_COLUMNS])
    write_track(root / "Actor_03" / "01-01-04-02-02-01-03.csv", 3, 10, rng, untracked=range(10))  # no face
    return root


# -- the pure functions ------------------------------------------------------------------------------
def test_landmark_normalisation_ignores_where_and_how_large_the_face_is():
    points = np.random.default_rng(1).uniform(0, 300, size=(5, N_LANDMARKS, 2))
    moved = points * 2.7 + np.array([123.0, -45.0])
    a, b = normalise_landmarks(points), normalise_landmarks(moved)
    assert a.shape == (5, N_LANDMARKS, 2)
    np.testing.assert_allclose(a, b, atol=1e-9)
    np.testing.assert_allclose(a.mean(axis=1), 0.0, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(a[:, 45] - a[:, 36], axis=-1), 1.0)
    assert np.isnan(normalise_landmarks(np.zeros((1, N_LANDMARKS, 2)))).all()  # no eye distance: unusable


def test_untracked_frames_are_dropped(tmp_path):
    path = write_track(tmp_path / "01-01-05-01-01-01-01.csv", 4, 12, np.random.default_rng(2), untracked=(0, 5, 6))
    track = read_track(path)
    assert (track.frames, track.tracked) == (12, 9)
    assert track.features.shape == (9, N_FEATURES) and track.features.dtype == np.float32
    assert np.isfinite(track.features).all()
    assert track.times.tolist() == [f for f in range(1, 13) if f not in (1, 6, 7)]
    assert track.features[:, 4].min() > 2.0  # the class signal (AU_INTENSITIES[4]) in every tracked frame


def test_resample_to_a_fixed_length():
    rng = np.random.default_rng(3)
    for n in (37, 64, 150):
        assert resample(rng.normal(size=(n, N_FEATURES)), 64).shape == (64, N_FEATURES)
    assert resample(np.ones((1, 4)), 8).shape == (8, 4)
    kept = np.array([0, 1, 2, 5, 6, 7, 8, 9], dtype=float)  # frames 3 and 4 were dropped
    out = resample(kept[:, None] * [1.0, -2.0], 12, kept)
    np.testing.assert_allclose(out[:, 0], np.linspace(0, 9, 12), atol=1e-5)  # the gap is bridged linearly
    np.testing.assert_allclose(out[:, 1], -2 * np.linspace(0, 9, 12), atol=1e-5)


def test_standardiser_uses_the_given_sequences_only():
    rng = np.random.default_rng(4)
    train, test = rng.normal(3, 2, size=(20, 16, 5)), rng.normal(10, 1, size=(4, 16, 5))
    stats = fit_standardiser(train)
    z = standardise(train, stats)
    np.testing.assert_allclose(z.reshape(-1, 5).mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.reshape(-1, 5).std(0), 1, atol=1e-4)
    assert standardise(test, stats).mean() > 2  # the held-out clips do not move the statistics


def test_a_csv_without_action_units_is_reported_and_skipped(tmp_path, capsys):
    rng = np.random.default_rng(5)
    good = write_track(tmp_path / "01-01-02-01-01-01-01.csv", 1, 20, rng)
    bad = write_track(tmp_path / "01-01-02-01-01-02-01.csv", 1, 20, rng, header=[h for h in HEADER if h not in AU_COLUMNS])
    with pytest.raises(OpenFaceError, match="AU01_r"):
        read_track(bad)
    x, kept, failed = load_sequences([bad, good], 64, progress=False)
    assert x.shape == (1, 64, N_FEATURES) and kept.tolist() == [1]
    assert [p for p, _ in failed] == [bad]
    lines = [line for line in capsys.readouterr().out.splitlines() if bad.name in line]
    assert len(lines) == 1 and "skipped" in lines[0] and "Traceback" not in lines[0]


def test_scan_takes_emotion_and_actor_from_the_name(track_dir):
    scan = scan_tracks(track_dir)
    assert len(scan.clips) == 3 * 8 * 2 + 2  # the two bad files parse; they fail when read
    assert [p.name for p, _ in scan.skipped] == ["notes.csv"]
    assert {c.speaker for c in scan.clips} == {"ravdess-01", "ravdess-02", "ravdess-03"}
    clip = next(c for c in scan.clips if c.path.name == "01-01-06-01-01-02-03.csv")
    assert (clip.emotion, clip.speaker) == ("fearful", "ravdess-03")


# -- the stage end to end ------------------------------------------------------------------------------
@pytest.mark.slow
def test_fit_openface_end_to_end(track_dir, tmp_path, capsys):
    from train.video import main

    out = tmp_path / "run"
    main(["fit", "--openface-dir", str(track_dir), "--epochs", "2", "--out", str(out)])
    report = json.loads((out / "report.json").read_text())
    assert report["clips"] == 48 and report["actors"] == 3
    assert report["skipped"] == {**report["skipped"], "names": 1, "unreadable": 2}
    assert report["hparams"]["epochs"] == 2 and "seed" in report["hparams"]
    assert set(report["models"]) == {"lrcn", "conv_lstm"}
    for model in report["models"].values():
        assert model["n"] == 48
        for key in ("accuracy", "macro_f1", "uar"):
            assert 0.0 <= model[key] <= 1.0
        assert np.asarray(model["confusion"]).sum() == 48
        assert len(model["fold_accuracy"]) == 3
    assert report["seconds"] > 0
    printed = capsys.readouterr().out
    assert "lrcn: out-of-fold accuracy" in printed and "conv_lstm: out-of-fold accuracy" in printed
