"""The real app (`python app.py`, see conftest.py) driven with gradio_client on real clips.

The API endpoint /predict must return what `Predictor.predict` returns for the same file (the CLI's
JSON), with "path" the upload's name; the page's endpoints must turn every refusal into the same
clear message; uploads must not stay on the server.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from avemo.config import EMOTIONS

try:
    from tests import clips
    from tests.conftest import TEST_UPLOAD_LIMIT, UPLOAD_GRACE_SECONDS
except ImportError:  # pytest run without the repository root on sys.path
    import clips
    from conftest import TEST_UPLOAD_LIMIT, UPLOAD_GRACE_SECONDS

pytestmark = pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON)


@pytest.fixture(scope="module")
def client(app_server):
    from gradio_client import Client

    # download_files=False: the result dict has a "path" key, which gradio_client would otherwise
    # take for a file to download.
    return Client(app_server.url, verbose=False, download_files=False)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    """Real clips, built once: RAVDESS / SAVEE speech, a still RAVDESS face with and without speech."""
    folder = tmp_path_factory.mktemp("clips")
    speech = clips.ravdess_clip(actor=3, emotion=5, intensity=2)  # angry
    out = {
        "flac": clips.ravdess_clip(actor=4, emotion=4, intensity=2),  # sad, as released
        "savee": clips.savee_clip("JE_h02"),
        "mp4": clips.still_video(folder / "face-and-voice.mp4", clips.face_still(3), speech),
        "mute_mp4": clips.still_video(folder / "face-no-sound.mp4", clips.face_still(5), seconds=3),
        "webm": clips.still_video(folder / "webcam.webm", clips.face_still(6),
                                  clips.ravdess_clip(actor=6, emotion=3, intensity=2), codec="libvpx"),
        "silent": clips.tone_or_silence(folder / "silence.wav", 3.0),
        "recorded": clips.streamed_webm(folder / "sample.webm", clips.face_still(7),
                                  clips.ravdess_clip(actor=7, emotion=6, intensity=2)),
    }
    (folder / "notes.mp4").write_text("these are notes, not a video\n" * 40)
    out["not_media"] = folder / "notes.mp4"
    return out


@pytest.fixture(scope="module")
def predictor():
    """The library itself, in this process, on the same bundled weights as the server."""
    from avemo.predict import Predictor

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AVEMO_OFFLINE", "1")
        return Predictor()


def api_predict(client, path: Path) -> dict:
    from gradio_client import handle_file

    return client.predict(handle_file(str(path)), api_name="/predict")


def assert_same_result(got: dict, expected: dict, name: str) -> None:
    """The API's dict is Predictor.predict's, label for label, with "path" = the upload's name."""
    assert got["path"] == name
    assert got["error"] == expected["error"]
    assert got["unavailable"] == expected["unavailable"]
    for part in ("audio", "video", "fused"):
        assert (got[part] is None) == (expected[part] is None), part
        if got[part] is not None:
            assert got[part]["label"] == expected[part]["label"], part
            for emotion in EMOTIONS:
                assert got[part]["probs"][emotion] == pytest.approx(expected[part]["probs"][emotion], abs=2e-3)
    assert set(got) == set(expected)


# -- the API ---------------------------------------------------------------------------------------
def test_audio_only_flac(client, media, predictor):
    got = api_predict(client, media["flac"])
    assert_same_result(got, predictor.predict(media["flac"]), media["flac"].name)
    assert got["video"] is None and "no video" in got["unavailable"]["video"]
    if predictor.audio_model is not None:
        assert got["audio"]["label"] in EMOTIONS and got["audio"]["timeline"]
        assert got["fused"]["label"] == got["audio"]["label"]


@pytest.mark.parametrize("clip", ["mp4", "mute_mp4", "webm"])
def test_videos(client, media, predictor, clip):
    got = api_predict(client, media[clip])
    expected = predictor.predict(media[clip])
    assert_same_result(got, expected, media[clip].name)
    if clip == "mute_mp4":
        assert got["unavailable"]["audio"] == "the file has no audio track"
    elif predictor.audio_model is not None:
        assert got["audio"] is not None
    if predictor.video_model is not None:
        assert got["video"] is not None, got["unavailable"]
        assert got["video"]["timeline"]
    else:
        assert got["unavailable"]["video"] == "no video model is installed"


def test_browser_recording_without_a_duration_is_analysed(client, media, predictor):
    """The webcam tab's recordings (MediaRecorder WebM, no duration in the header) are analysed."""
    got = api_predict(client, media["recorded"])
    assert got["path"] == "sample.webm"
    assert not got["error"] or "not a readable" not in got["error"], got["error"]
    assert got["unavailable"].get("audio") != "the file has no audio track"
    if predictor.video_model is not None:
        assert got["video"] is not None, got["unavailable"]
    if predictor.audio_model is not None:
        assert got["audio"] is not None, got["unavailable"]


@pytest.mark.parametrize("clip, message", [
    ("not_media", "not a readable audio or video file"),
    ("silent", None),  # the reason is the library's; it must be there and be the same as Predictor's
])
def test_refused_inputs_get_the_clear_message(client, media, predictor, clip, message):
    expected = predictor.predict(media[clip])
    assert expected["error"], "the library should refuse this input"
    got = api_predict(client, media[clip])
    assert got["error"] == expected["error"]
    if message:
        assert message in got["error"]
    # The page says the same thing, as a message, not an exception.
    from gradio_client import handle_file

    summary, *_ = client.predict(handle_file(str(media[clip])), api_name="/analyse_voice")
    assert summary.startswith(f"**Could not analyse {media[clip].name}:**")
    assert expected["error"] in summary


def test_over_long_clip_is_analysed_up_to_the_limit(client, media, predictor, tmp_path):
    from avemo.config import MAX_ANALYSIS_SECONDS

    long_clip = clips.long_audio(tmp_path / "long.ogg", clips.savee_clip("DC_a01"), MAX_ANALYSIS_SECONDS + 5)
    got = api_predict(client, long_clip)
    assert any(f"{MAX_ANALYSIS_SECONDS:.0f} s" in note for note in got["notes"]), got["notes"]
    if predictor.audio_model is not None:
        assert got["audio"]["timeline"][-1]["end"] <= MAX_ANALYSIS_SECONDS + 0.5


def test_over_size_upload_is_refused(client, app_server, tmp_path):
    big = tmp_path / "too-big.mp4"
    shutil.copyfile(clips.ravdess_clip(), big)
    with big.open("ab") as out:
        out.write(os.urandom(TEST_UPLOAD_LIMIT + 1024))
    with pytest.raises(Exception) as refused:
        api_predict(client, big)
    assert "413" in str(refused.value) or "large" in str(refused.value).lower() \
        or "size" in str(refused.value).lower(), refused.value
    assert not list(app_server.temp_dir.rglob("too-big.mp4"))


def test_eight_concurrent_calls(client, media, predictor, tmp_path):
    names = ["flac", "savee", "mp4", "webm"] * 2
    expected = {name: predictor.predict(media[name]) for name in set(names)}
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda name: api_predict(client, media[name]), names))
    elapsed = time.monotonic() - started
    for name, got in zip(names, results):
        assert_same_result(got, expected[name], media[name].name)
    print(f"8 concurrent calls: {elapsed:.1f} s")


def test_uploads_are_deleted_after_analysis(client, app_server, media, tmp_path):
    unique = tmp_path / f"delete-me-{os.getpid()}.mp4"
    shutil.copyfile(media["mp4"], unique)
    api_predict(client, unique)
    from gradio_client import handle_file

    voice = tmp_path / f"delete-me-too-{os.getpid()}.flac"
    shutil.copyfile(media["flac"], voice)
    client.predict(handle_file(str(voice)), api_name="/analyse_voice")
    deadline = time.monotonic() + UPLOAD_GRACE_SECONDS + 10
    while True:
        left = [p for p in app_server.temp_dir.rglob("*") if p.name in (unique.name, voice.name)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert left == []
    # The bundled examples' cached copies stay: other visitors click them too.
    example_copies = [p for p in app_server.temp_dir.rglob("*") if p.name == "ravdess-actor01-angry.mp4"]
    assert example_copies


# -- the page's endpoints ----------------------------------------------------------------------------
def test_page_endpoint_returns_summary_charts_and_json(client, media, predictor):
    from gradio_client import handle_file

    summary, audio, video, fused, timeline, pushes, frames, result_file = client.predict(
        handle_file(str(media["mp4"])), api_name="/analyse_video")
    expected = predictor.predict(media["mp4"])
    assert summary.startswith(f"**{media['mp4'].name} → {expected['fused']['label']}**")
    assert f"Why: {expected['fused']['reason']}" in summary
    bars = json.loads(pushes["plot"])["data"]
    assert [trace["name"] for trace in bars] == ["Voice", "Face"]  # what each modality pushed, emotion by emotion
    assert bars[0]["x"] == [expected["fused"]["contributions"]["audio"][e] for e in EMOTIONS]
    face_title = json.loads(video["plot"])["layout"]["title"]["text"]
    assert f"this face model is right {expected['video']['measured_accuracy']:.0%} of the time" in face_title
    for plot in (audio, video, fused, timeline, pushes):
        assert plot["type"] == "plotly" and json.loads(plot["plot"])["data"] is not None
    import httpx

    saved = httpx.get(result_file["url"], timeout=30).json()  # the file the page offers for download
    assert_same_result(saved, expected, media["mp4"].name)


def test_page_names_the_model_source(app_server):
    import httpx

    config = httpx.get(app_server.url + "config", timeout=30).text
    assert "Models loaded from" in config and "AVEMO_OFFLINE=1" in config
    assert "model weights: bundled" in app_server.log_text()


# -- the page's pieces, on hand-made results ---------------------------------------------------------
def _part(label: str, p: float = 0.6) -> dict:
    probs = {e: (p if e == label else (1 - p) / (len(EMOTIONS) - 1)) for e in EMOTIONS}
    return {"label": label, "confidence": p, "probs": probs,
            "timeline": [{"start": 0.0, "end": 2.5, "probs": probs}, {"start": 1.25, "end": 3.75, "probs": probs}]}


def test_summary_survives_a_fused_result_without_optional_keys():
    from avemo.app.page import figures, summary_markdown

    result = {"path": "x.mp4", "audio": _part("angry"), "video": _part("neutral"),
              "fused": {"label": "angry", "probs": _part("angry", 0.5)["probs"]},
              "unavailable": {}, "notes": ["the clip is 75 s long; analysed the first 60 s"], "error": None}
    text = summary_markdown(result, "x.mp4")
    assert text.startswith("**x.mp4 → angry** (50%) from voice and face")
    assert "voice: angry (60%), face: neutral (60%)" in text and "analysed the first 60 s" in text
    result["fused"].update(weights={"audio": 0.7, "video": 0.3},
                           agreement={"verdict": "disagree", "message": "voice and face disagree strongly"})
    text = summary_markdown(result, "x.mp4")
    assert "voice and face disagree strongly" in text and "weights voice 0.70, face 0.30" in text
    assert len(figures(result)) == 5


def test_the_voice_timeline_shades_where_speech_was_heard_and_says_what_its_points_are():
    from avemo.app.plots import probability_timeline

    audio = _part("angry") | {"speech_segments": [[0.4, 2.9], [4.0, 6.5]], "verdict_from": "its 2 utterances"}
    figure = probability_timeline({"audio": audio, "video": None, "unavailable": {"video": "no face"}},
                                  names={"audio": "Voice", "video": "Face"})
    shaded = [(shape.x0, shape.x1) for shape in figure.layout.shapes]
    assert shaded == [(0.4, 2.9), (4.0, 6.5)]
    assert "read by every voice expert" in figure.layout.title.text and "its 2 utterances" in figure.layout.title.text


def test_the_face_timeline_draws_each_sampled_frame_under_its_window():
    from avemo.app.plots import probability_timeline

    frames = [{"time": t, "probs": _part(label)["probs"]}
              for t, label in ((0.5, "neutral"), (1.5, "happy"), (2.5, "happy"))]
    video = _part("happy") | {"timeline": [{"start": 0.0, "end": 3.0, "probs": _part("happy")["probs"]}],
                              "frame_timeline": frames}
    figure = probability_timeline({"audio": None, "video": video, "unavailable": {"audio": "no audio track"}},
                                  names={"audio": "Voice", "video": "Face"})
    frame_lines = [trace for trace in figure.data if trace.opacity is not None and trace.opacity < 1]
    assert len(figure.data) == 2 * len(EMOTIONS) and len(frame_lines) == len(EMOTIONS)
    happy = next(trace for trace in frame_lines if trace.name == "happy")
    assert list(happy.x) == [0.5, 1.5, 2.5] and list(happy.y) == [frames[0]["probs"]["happy"], 0.6, 0.6]
    assert "each sampled frame alone" in figure.layout.title.text


def test_a_missing_modality_panel_says_why():
    from avemo.app.page import figures

    result = {"path": "x.flac", "audio": _part("sad"), "video": None, "fused": _part("sad"),
              "unavailable": {"video": "the file has no video track: it is audio only"}, "notes": [], "error": None}
    audio, video, fused, timeline, pushes = figures(result)
    assert "needs both the voice and the face" in pushes.layout.annotations[0].text.replace("<br>", " ")
    assert tuple(audio.data[0].marker.color) == tuple(emotion_colours())
    assert tuple(audio.layout.yaxis.range) == (0, 1) and list(audio.data[0].x) == list(EMOTIONS)
    assert not video.data
    assert "the file has no video track: it is audio only" in video.layout.annotations[0].text.replace("<br>", " ")
    assert "voice only" in fused.layout.title.text
    assert len(timeline.data) == len(EMOTIONS) and "Face: not analysed" in timeline.layout.title.text
    assert timeline.layout.title.text.count("(") == 1  # no brackets inside brackets


def emotion_colours():
    from avemo.config import EMOTION_COLOURS

    return [EMOTION_COLOURS[e] for e in EMOTIONS]


def test_examples_survive_gradio_cache_cleaning(predictor, tmp_path, monkeypatch):
    """delete_cache removes old files from Gradio's cache; the examples' copies must stay clickable."""
    from avemo.app.page import build_demo, example_files

    try:
        from tests.conftest import free_port
    except ImportError:
        from conftest import free_port

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    demo = build_demo(predictor)
    demo.delete_cache = (1, 1)  # every second, anything older than a second
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        names = {p.name for kind in example_files().values() for p in kind}
        copies = [p for p in (tmp_path / "gradio").rglob("*") if p.name in names]
        assert {p.name for p in copies} == names
        time.sleep(3.5)
        assert all(p.exists() for p in copies), [p.name for p in copies if not p.exists()]
    finally:
        demo.close()
