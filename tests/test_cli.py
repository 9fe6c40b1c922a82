"""`avemo predict` end to end: the bundled weights on real clips, and every bad input."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from avemo.config import EMOTIONS, REPO_ROOT

try:
    from tests import clips
except ImportError:
    import clips

# Also any glog-format line ("W0000 00:00:1796182476.90 3642 file.cc:186] ..."), whatever it says.
NATIVE_LOG_LINE = re.compile(r"cuda|cuInit|XNNPACK|absl|feedback manager|computation placer|^[IWE]\d{4} \d\d:\d\d:",
                             re.IGNORECASE | re.MULTILINE)

pytestmark = pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON)


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "AVEMO_OFFLINE": "1"}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # what a user gets: avemo itself keeps native logs out
    return subprocess.run([sys.executable, "-m", "avemo", "predict", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli")
    bad = folder / "bad"
    bad.mkdir()
    paths = {
        "ravdess": clips.ravdess_clip(actor=23, emotion=5, intensity=2),
        "savee": clips.savee_clip("KL_su05"),
        "video": clips.still_video(folder / "face.mp4", clips.face_still(7), clips.ravdess_clip(actor=7, emotion=3)),
        "recording": clips.streamed_webm(folder / "webcam.webm", clips.face_still(8), clips.ravdess_clip(actor=8)),
        "not_media": bad / "notes.mp4",
        "empty": bad / "empty.wav",
        "truncated": clips.truncated_copy(bad / "cut.m4a", clips.still_video(
            folder / "whole.m4a", clips.face_still(2), clips.ravdess_clip(actor=2), codec="libx264")),
        "silence": clips.tone_or_silence(bad / "silence.wav", 3.0),
        "short": clips.run_ffmpeg("-i", str(clips.ravdess_clip(actor=9, emotion=5)), "-ss", "1.2", "-t", "0.2",
                                  str(bad / "short.wav")) or bad / "short.wav",
        "long": clips.long_audio(folder / "ten-minutes.ogg", clips.savee_clip("JK_a03"), seconds=600),
        "missing": folder / "no-such-file.wav",
        "empty_dir": folder / "empty-folder",
    }
    paths["not_media"].write_text("plain text, not media\n" * 20)
    paths["empty"].write_bytes(b"")
    paths["empty_dir"].mkdir()
    return paths


def test_jsonl_gives_one_object_per_input_with_the_documented_fields(inputs):
    order = ["ravdess", "savee", "video"]
    proc = run_cli("--format", "jsonl", *(str(inputs[k]) for k in order))
    assert proc.returncode == 0, proc.stderr
    # TensorFlow's and mediapipe's C++ start-up notices (CUDA plugins, cuInit, XNNPACK, feedback
    # manager) stay out of the terminal; only avemo speaks there.
    assert not NATIVE_LOG_LINE.search(proc.stderr), proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["path"] for r in results] == [str(inputs[k]) for k in order]
    for r in results:
        assert set(r) >= {"path", "audio", "video", "fused", "error"} and r["error"] is None
        assert set(r["audio"]["probs"]) == set(EMOTIONS)
        assert abs(sum(r["audio"]["probs"].values()) - 1) < 1e-3
        assert r["audio"]["timeline"] and {"start", "end", "probs"} <= set(r["audio"]["timeline"][0])
        assert r["fused"]["label"] in EMOTIONS
    audio_only = results[0]
    assert audio_only["video"] is None and audio_only["fused"]["probs"] == audio_only["audio"]["probs"]
    video = results[2]
    assert video["video"] is not None and video["video"]["faces_found"] > 0
    assert video["fused"]["modalities"] == ["audio", "video"]


def test_bad_inputs_get_one_clear_line_each_and_the_run_goes_on(inputs):
    bad = ["not_media", "empty", "truncated", "silence", "short", "missing", "empty_dir"]
    proc = run_cli("--format", "jsonl", *(str(inputs[k]) for k in bad), str(inputs["savee"]))
    assert proc.returncode == 0, proc.stderr  # one input succeeded
    assert "Traceback" not in proc.stderr + proc.stdout
    results = {Path(r["path"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    expected = {"notes.mp4": "not a readable", "empty.wav": "empty", "cut.m4a": "", "silence.wav": "silent",
                "short.wav": "at least", "no-such-file.wav": "not found", "empty-folder": "no audio or video"}
    for name, phrase in expected.items():
        error = results[name]["error"]
        assert error and phrase in error and "\n" not in error, (name, error)
    assert results["KL_su05.flac"]["error"] is None


def test_a_browser_recording_without_duration_is_analysed_like_any_clip(inputs, tmp_path):
    whole = inputs["recording"].read_bytes()
    cut = tmp_path / "stopped-early.webm"  # a recording whose last cluster never got written
    cut.write_bytes(whole[: len(whole) * 9 // 10])  # (audio lags video in the stream: keep most of it)
    proc = run_cli("--format", "jsonl", str(inputs["recording"]), str(cut))
    full, partial = map(json.loads, proc.stdout.splitlines())
    for result in (full, partial):
        assert result["error"] is None, result
        assert result["audio"]["label"] in EMOTIONS and result["video"]["faces_found"] > 0
    assert full["audio"]["timeline"][-1]["end"] > 2.0


def test_every_input_failing_exits_non_zero(inputs):
    proc = run_cli(str(inputs["not_media"]), str(inputs["missing"]))
    assert proc.returncode == 1
    assert "error: not a readable audio or video file" in proc.stdout
    assert "error: file not found" in proc.stdout


def test_inputs_that_cannot_be_media_are_refused_without_loading_the_models(inputs):
    # Missing files, empty files and empty folders are answered at once: TensorFlow is never imported.
    check = ("import sys; from avemo.cli import main; code = main(['predict', *sys.argv[1:]]); "
             "print('tensorflow' in sys.modules); sys.exit(code)")
    proc = subprocess.run([sys.executable, "-c", check, str(inputs["missing"]), str(inputs["empty"]),
                           str(inputs["empty_dir"])], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "error: file not found" in proc.stdout and "error: the file is empty" in proc.stdout
    assert "error: the folder holds no audio or video files" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "False"


def test_a_missing_speech_encoder_is_one_clear_line_not_a_traceback(inputs):
    # As if the pinned packages holding the Whisper encoders were not installed.
    check = ("import sys, dataclasses, avemo.audio.speech_encoder as s; "
             "s.ENCODERS = {n: dataclasses.replace(e, parts=(('no_such_package', 'model.bin'),)) "
             "for n, e in s.ENCODERS.items()}; "
             "from avemo.cli import main; sys.exit(main(['predict', *sys.argv[1:]]))")
    proc = subprocess.run([sys.executable, "-c", check, str(inputs["ravdess"])], cwd=REPO_ROOT,
                          env={**os.environ, "AVEMO_OFFLINE": "1"}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "avemo: the models could not be loaded: the speech encoder (whisper-" in proc.stderr
    assert "is not installed (pip install -r requirements.txt)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_ten_minute_clip_is_analysed_up_to_the_limit(inputs):
    proc = run_cli("--format", "jsonl", "--max-seconds", "30", str(inputs["long"]))
    result = json.loads(proc.stdout)
    assert result["error"] is None
    assert any("first 30 s" in note for note in result["notes"])
    assert result["audio"]["timeline"][-1]["end"] <= 30.5


def test_table_and_folder_input(inputs, tmp_path):
    folder = tmp_path / "nested" / "deeper"
    folder.mkdir(parents=True)
    (folder / "a.flac").write_bytes(inputs["ravdess"].read_bytes())
    (tmp_path / "nested" / "readme.txt").write_text("not media")
    proc = run_cli(str(tmp_path / "nested"), "--modality", "audio")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["input", "audio", "video", "fused"]
    assert len(lines) == 3 and "a.flac" in lines[2] and "readme" not in proc.stdout
    assert any(e in lines[2] for e in EMOTIONS)


def test_version_and_the_formats_read_are_in_the_help():
    """`avemo --version` says the package's version; `--help` (and `predict --help`) lists every extension the
    CLI reads, from avemo.config's lists, and so does the README."""
    import tomllib

    from avemo.config import MEDIA_EXTENSIONS

    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    out = subprocess.run([sys.executable, "-m", "avemo", "--version"], cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"avemo {version}"
    for args in (["--help"], ["predict", "--help"]):
        out = subprocess.run([sys.executable, "-m", "avemo", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0
        listed = " ".join(out.stdout.split())
        assert all(f" {extension}" in listed for extension in MEDIA_EXTENSIONS), listed
    readme = (REPO_ROOT / "README.md").read_text()
    assert all(f"{extension} " in readme or f"{extension})" in readme for extension in MEDIA_EXTENSIONS)
