"""Corpus readers on the real shared corpora, and the speaker-independent fold assignment."""
from __future__ import annotations

import pytest

from avemo.config import EMOTIONS
from avemo.corpora import CorpusError, parse_ravdess_name, parse_savee_name, scan_ravdess, scan_savee, speaker_folds, speaker_sex

try:
    from tests import clips
except ImportError:
    import clips

needs_data = pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON)


def test_name_parsers_read_the_release_conventions():
    fields = parse_ravdess_name("03-01-05-02-01-01-12")
    assert fields["emotion"] == "angry" and fields["actor"] == 12 and fields["intensity"] == "02"
    assert parse_ravdess_name("03-01-09-02-01-01-12") is None  # no emotion 09
    assert parse_ravdess_name("notes") is None
    assert parse_savee_name("DC_sa03") == {"speaker": "DC", "emotion": "sad", "number": 3}
    assert parse_savee_name("KL_su15")["emotion"] == "surprised"
    assert parse_savee_name("XX_a01") is None


@needs_data
def test_ravdess_and_savee_are_read_in_full():
    ravdess, savee = scan_ravdess(clips.DATA), scan_savee(clips.DATA)
    assert len(ravdess.clips) == 1320 and not ravdess.skipped
    assert len(savee.clips) == 480 and not savee.skipped
    assert {c.speaker for c in ravdess.clips} >= {"ravdess-01", "ravdess-24"}
    assert not {"ravdess-21", "ravdess-22"} & {c.speaker for c in ravdess.clips}
    assert {c.emotion for c in ravdess.clips} == set(EMOTIONS)
    assert "calm" not in {c.emotion for c in savee.clips}


def test_missing_folder_and_unparsable_names_are_reported(tmp_path):
    with pytest.raises(CorpusError, match="--data-dir"):
        scan_ravdess(tmp_path)
    actor = tmp_path / "ravdess" / "audio" / "Actor_01"
    actor.mkdir(parents=True)
    (actor / "03-01-05-02-01-01-01.flac").write_bytes(b"x")
    (actor / "readme.flac").write_bytes(b"x")
    (actor / "01-01-05-02-01-01-01.flac").write_bytes(b"x")  # audio-video code in the audio folder
    report = scan_ravdess(tmp_path)
    assert len(report.clips) == 1
    assert len(report.skipped) == 2 and "skipped" in report.summary()
    (tmp_path / "savee" / "audio").mkdir(parents=True)
    with pytest.raises(CorpusError, match="no SAVEE clips"):
        scan_savee(tmp_path)


@needs_data
def test_folds_hold_out_whole_speakers_of_both_sexes_and_one_savee_speaker_each():
    all_clips = scan_ravdess(clips.DATA).clips + scan_savee(clips.DATA).clips
    folds = speaker_folds(all_clips, 4)
    speaker_fold = {}
    for clip, fold in zip(all_clips, folds):
        assert speaker_fold.setdefault(clip.speaker, fold) == fold  # never split a speaker
    for fold in range(4):
        savee = {s for s, f in speaker_fold.items() if f == fold and s.startswith("savee")}
        ravdess = {s for s, f in speaker_fold.items() if f == fold and s.startswith("ravdess")}
        assert len(savee) == 1 and 5 <= len(ravdess) <= 6
        assert {speaker_sex(s) for s in ravdess} == {"male", "female"}
