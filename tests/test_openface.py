"""Reading OpenFace output: FeatureExtraction's per-frame CSV (spaced headers, untracked frames) and the
clip-means table, and one clear error for every malformed file."""
from __future__ import annotations

import numpy as np
import pytest

from avemo.face.openface import (AU_COLUMNS, OpenFaceError, read_clip_action_units, read_frame_csv, read_means_table,
                            take_id)

try:
    from tests import clips
except ImportError:
    import clips

AU_TABLE = clips.DATA / "ravdess" / "face_aus" / "openface_au_means.csv"
HAVE_AUS = AU_TABLE.is_file()


def frame_csv(path, rows: list[dict], columns=AU_COLUMNS, spaced: bool = True):
    """A per-frame CSV as OpenFace writes it: frame, face_id, timestamp, confidence, success, a few landmarks,
    then the action units, each header name after a comma led by a space."""
    header = ["frame", "face_id", "timestamp", "confidence", "success", "x_0", "y_0", *columns]
    lines = [(", " if spaced else ",").join(header)]
    for i, row in enumerate(rows):
        values = [i + 1, 0, round(i * 0.033, 3), row.get("confidence", 0.98), row["success"], 310.5, 220.25,
                  *[row["aus"].get(name, 0.0) for name in columns]]
        lines.append(", ".join(str(v) for v in values))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_per_frame_csv_is_summarised_over_the_tracked_frames_only(tmp_path):
    smile = {"AU06_r": 2.0, "AU12_r": 3.0, "AU12_c": 1.0}
    rows = [{"success": 1, "aus": smile}] * 6 + [{"success": 0, "aus": {"AU04_r": 5.0, "AU12_r": 0.0}}] * 2
    aus = read_frame_csv(frame_csv(tmp_path / "clip.csv", rows))
    assert aus.frames == 8 and aus.tracked_frames == 6 and aus.tracked_share == pytest.approx(0.75)
    means = dict(zip(AU_COLUMNS, aus.means))
    assert means["AU12_r"] == pytest.approx(3.0) and means["AU04_r"] == 0.0  # the lost frames' brow is ignored
    assert aus.spread is not None and aus.spread.shape == (len(AU_COLUMNS),)
    assert aus.strongest(2)[0] == ("lip corner puller", pytest.approx(3.0))


def test_spaced_and_plain_headers_read_the_same(tmp_path):
    rows = [{"success": 1, "aus": {"AU01_r": 1.0 + i}} for i in range(3)]
    spaced = read_frame_csv(frame_csv(tmp_path / "spaced.csv", rows, spaced=True))
    plain = read_frame_csv(frame_csv(tmp_path / "plain.csv", rows, spaced=False))
    np.testing.assert_allclose(spaced.means, plain.means)


@pytest.mark.parametrize("case, message", [
    ("missing_columns", "no column AU45_c"),
    ("no_tracked_frame", "tracked no face in any of the 4 frames"),
    ("empty", "is empty"),
    ("header_only", "has a header but no frames"),
    ("binary", "not a CSV file"),
    ("text", "no column AU01_r"),
    ("not_numbers", "not numbers"),
])
def test_a_malformed_file_gets_one_clear_line(tmp_path, case, message):
    path = tmp_path / f"{case}.csv"
    if case == "missing_columns":
        frame_csv(path, [{"success": 1, "aus": {}}], columns=AU_COLUMNS[:-1])
    elif case == "no_tracked_frame":
        frame_csv(path, [{"success": 0, "aus": {"AU12_r": 1.0}}] * 4)
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "header_only":
        frame_csv(path, [])
    elif case == "binary":
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    elif case == "text":
        path.write_text("this is a shopping list\neggs, milk\n")
    else:
        frame_csv(path, [{"success": 1, "aus": {"AU01_r": "n/a"}}])
    with pytest.raises(OpenFaceError) as caught:
        read_clip_action_units(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_take_ids_pair_the_audio_file_with_the_video_take():
    assert take_id("03-01-04-01-01-01-08.flac") == "01-01-04-01-01-01-08"
    assert take_id("/x/01-01-04-01-01-01-08.mp4") == "01-01-04-01-01-01-08"
    assert take_id("my-clip.mp4") is None


@pytest.mark.skipif(not HAVE_AUS, reason=f"no action-unit table at {AU_TABLE}")
def test_the_real_means_table_reads_every_take_and_finds_one_by_its_audio_file_name():
    table = read_means_table(AU_TABLE)
    assert len(table) == 1320 and all(v.shape == (35,) for v in table.values())
    aus = read_clip_action_units(AU_TABLE, take="03-01-04-01-01-01-08.flac")
    np.testing.assert_allclose(aus.means, table["01-01-04-01-01-01-08"])
    assert aus.source == "clip-means table" and aus.tracked_share == 1.0
    with pytest.raises(OpenFaceError, match="no row for take 01-01-04-01-01-01-21"):
        read_clip_action_units(AU_TABLE, take="03-01-04-01-01-01-21.flac")
    with pytest.raises(OpenFaceError, match="name the clip's take"):
        read_clip_action_units(AU_TABLE, take="holiday.mp4")
