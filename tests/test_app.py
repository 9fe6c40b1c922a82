"""The real app (`python app.py`, see conftest.py) driven with gradio_client on real clips.

The API endpoint /predict must return what `Predictor.predict` returns for the same file (the CLI's
JSON), with "path" the upload's name; the page's endpoints must turn every refusal into the same
clear message, and say what they found in words that match their numbers; uploads must not stay on the
server, and nothing derived from them (face frames, result files) may be written there.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from avemo.config import EMOTIONS

try:
    from tests import clips
    from tests.conftest import TEST_UPLOAD_LIMIT, UPLOAD_GRACE_SECONDS, running_app
except ImportError:  # pytest run without the repository root on sys.path
    import clips
    from conftest import TEST_UPLOAD_LIMIT, UPLOAD_GRACE_SECONDS, running_app

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


PAGE_OUTPUTS = ("summary", "frames", "download", "audio", "video", "fused", "timeline", "contributions",
                "timeline_notes")


def page(client, path: Path | None, tab: str = "video") -> dict:
    """What the page shows for a clip analysed in a tab ("video" or "voice"), by output name. A chart the
    page hides is None; the others are their plotly figure as a dict."""
    from gradio_client import handle_file

    values = client.predict(handle_file(str(path)) if path else None, api_name=f"/analyse_{tab}")
    shown = dict(zip(PAGE_OUTPUTS, values, strict=True))
    for name, value in shown.items():
        if isinstance(value, dict):  # an update: hidden, or shown with its value
            value = value.get("value") if value.get("visible", True) else None
            shown[name] = json.loads(value["plot"]) if isinstance(value, dict) and "plot" in value else value
    return shown


def downloaded(download_html: str) -> dict:
    """The result JSON behind the page's download link (its data is in the link itself)."""
    encoded = re.search(r'href="data:application/json;base64,([^"]+)"', download_html).group(1)
    return json.loads(base64.b64decode(encoded))


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


def test_pressing_analyse_without_a_clip_says_so_once(client):
    shown = page(client, None)
    assert shown["summary"].startswith("**No clip yet:**") and "no file" not in shown["summary"]
    assert "Could not analyse" not in shown["summary"]
    assert all(shown[chart] is None for chart in ("audio", "video", "fused", "timeline", "contributions"))


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
    shown = page(client, media["mp4"])
    expected = predictor.predict(media["mp4"])
    summary = shown["summary"]
    assert summary.startswith(f"**{media['mp4'].name} → {expected['fused']['label']}**")
    assert f"Why: {expected['fused']['reason']}" in summary
    bars = shown["contributions"]["data"]
    assert [trace["name"] for trace in bars] == ["Voice", "Face"]  # how each modality voted, emotion by emotion
    assert bars[0]["x"] == [expected["fused"]["contributions"]["audio"][e] for e in EMOTIONS]
    face_title = shown["video"]["layout"]["title"]["text"]
    assert f"right {expected['video']['measured_accuracy']:.0%} of the time" in face_title
    for chart in ("audio", "video", "fused", "timeline", "contributions"):
        assert shown[chart]["data"], chart
    assert_same_result(downloaded(shown["download"]), expected, media["mp4"].name)  # the page's download link


def test_the_voice_tab_shows_the_voice_alone(client, media):
    """No face panel, no "both together = voice only" chart, no votes, no "no video track" note: the voice tab
    asked for the voice."""
    shown = page(client, media["flac"], tab="voice")
    assert shown["summary"].startswith(f"**{media['flac'].name} → ") and "from voice" in shown["summary"]
    assert "video track" not in json.dumps(shown) and "Face" not in shown["summary"]
    assert shown["audio"]["layout"]["title"]["text"].startswith("Voice: ")
    assert shown["video"] is None and shown["fused"] is None and shown["contributions"] is None and not shown["frames"]
    assert [axis["title"]["text"] for key, axis in shown["timeline"]["layout"].items()
            if key.startswith("yaxis")] == ["Voice"]
    assert "video track" not in json.dumps(downloaded(shown["download"]))


SAID = re.compile(r"voice: (\w+) \((\d+)%\), face: (\w+) \((\d+)%\)")


@pytest.mark.parametrize("example", ["ravdess-actor01-angry.mp4", "ravdess-actor08-sad.mp4",
                                     "ravdess-actor03-happy-synthetic-smile.mp4"])
def test_the_summary_says_what_the_numbers_beside_it_say(client, example):
    """The bundled examples: the agreement follows the two top emotions and how sure each is (>= 50%), the
    reason reads as votes and never has the face favour calm, the weights are said only when unequal, and
    only a face whose frames changed is said to have done something."""
    from avemo.app.page import EXAMPLES_DIR

    shown = page(client, EXAMPLES_DIR / example)
    summary, result = shown["summary"], downloaded(shown["download"])
    voice, voice_share, face, face_share = SAID.search(summary).groups()
    voice_sure, face_sure = int(voice_share) >= 50, int(face_share) >= 50
    if voice == face:
        assert "voice and face agree" in summary
    elif voice_sure and face_sure:
        assert "voice and face disagree, both surely" in summary
    elif voice_sure or face_sure:
        assert f"the {'voice' if voice_sure else 'face'} is sure" in summary
    else:
        assert "neither surely" in summary
    assert "Votes between the two: the voice " in summary and "favoured" not in summary
    assert "the face calm" not in summary  # the face model has no calm
    weights = result["fused"]["weights"]
    assert ("counted for less" in summary) == (abs(weights["audio"] - weights["video"]) >= 0.05)
    assert "weights voice" not in summary
    if "smile" in example:  # frames warped from neutral into a smile and back
        assert "What the face did: " in summary
    else:  # a still photo
        assert "What the face did" not in summary and "What the face showed, the same in every sampled frame" in summary
    captions = re.findall(r"<figcaption>([^<]+)</figcaption>", shown["frames"])
    assert len(captions) == 4 and all(re.match(r"\d+\.\d s: (" + "|".join(EMOTIONS) + r") \d+%", c) for c in captions)


def test_the_page_says_which_languages_the_voice_learnt_from(app_server):
    """Read from the voice model's config.json ("trained_on"), so a retrained model is described as it is."""
    import httpx

    config = httpx.get(app_server.url + "config", timeout=30).text
    assert "acted speech in English (RAVDESS, SAVEE) and German (EmoDB)" in config
    assert re.search(r"Tested on a whole corpus it never heard, it got right on average RAVDESS \d+%, SAVEE \d+%, "
                     r"EmoDB \d+% of each emotion's clips; on unseen actors, in fan-like noise at 10 dB \d+%", config)


def test_languages_come_from_the_model_folder(tmp_path):
    from avemo.app.views import voice_languages

    (tmp_path / "config.json").write_text(json.dumps({"trained_on": {"ravdess_clips": 1320, "savee_clips": 480,
                                                                     "emodb_clips": 535}}))
    assert voice_languages(tmp_path) == "English (RAVDESS, SAVEE) and German (EmoDB)"
    (tmp_path / "config.json").write_text(json.dumps({"trained_on": {"emodb_clips": 535}}))
    assert voice_languages(tmp_path) == "German (EmoDB)"
    assert voice_languages(tmp_path / "missing") is None


def test_what_the_page_says_of_unseen_speech_comes_from_the_evaluation(tmp_path):
    from avemo.app.views import voice_measured

    def scored(uar, accuracy):
        return {"cross_corpus": {"emodb": {"own classes": {"uar": uar}}},
                "robustness": {"pink@10dB": {"pooled": {"accuracy": accuracy}}}}

    (tmp_path / "evaluation.json").write_text(json.dumps(scored(0.734, 0.7)))
    assert voice_measured(tmp_path) == ("Tested on a whole corpus it never heard, it got right on average EmoDB 73% of "
                                        "each emotion's clips; on unseen actors, in fan-like noise at 10 dB 70%.")
    (tmp_path / "evaluation.json").write_text(json.dumps({"evaluations": {}}))  # an older report: nothing claimed
    assert voice_measured(tmp_path) is None


def test_nothing_derived_from_a_visit_stays_on_the_server(tmp_path, media):
    """A visit analyses a video (face frames, a result to download) and uploads a clip it never analyses; the app
    is then stopped as a Space stops it (SIGTERM). Gradio's temporary folder never holds a face image or a result
    file, and after the stop it holds nothing of the visit at all."""
    import httpx
    from gradio_client import Client

    visit = tmp_path / f"visit-{os.getpid()}.mp4"
    shutil.copyfile(media["mp4"], visit)
    never_analysed = tmp_path / f"never-analysed-{os.getpid()}.flac"
    shutil.copyfile(media["flac"], never_analysed)
    with running_app(tmp_path / "app") as server:
        shown = page(Client(server.url, verbose=False, download_files=False), visit)
        assert "<figure><img" in shown["frames"] and downloaded(shown["download"])["video"] is not None
        with never_analysed.open("rb") as upload:
            httpx.post(server.url + "gradio_api/upload", files={"files": upload}, timeout=30).raise_for_status()
        files = [p for p in server.temp_dir.rglob("*") if p.is_file()]
        assert never_analysed.name in {p.name for p in files}
        derived = [p for p in files if p.suffix.lower() in (".png", ".webp", ".jpg", ".jpeg", ".json")]
        assert not derived, derived
        assert server.stop() == 0, server.log_text()[-2000:]
    from avemo.app.page import example_files

    bundled = {p.name for kind in example_files().values() for p in kind}
    left = [p for p in server.temp_dir.rglob("*") if p.is_file() and p.name not in bundled]
    assert not left, left


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
    from avemo.app.views import figures, summary_markdown

    result = {"path": "x.mp4", "audio": _part("angry"), "video": _part("neutral"),
              "fused": {"label": "angry", "probs": _part("angry", 0.5)["probs"]},
              "unavailable": {}, "notes": ["the clip is 75 s long; analysed the first 60 s"], "error": None}
    text = summary_markdown(result, "x.mp4")
    assert text.startswith("**x.mp4 → angry** (50%) from voice and face")
    assert "voice: angry (60%), face: neutral (60%)" in text and "analysed the first 60 s" in text
    result["fused"].update(weights={"audio": 0.7, "video": 0.3},
                           agreement={"verdict": "disagree", "message": "voice and face disagree, both surely"})
    text = summary_markdown(result, "x.mp4")
    assert "voice and face disagree, both surely" in text
    assert "The face counted for less (30% of the weight, the voice 70%): a clear face was seen in few" in text
    result["fused"]["weights"] = {"audio": 0.5, "video": 0.5}
    assert "weight" not in summary_markdown(result, "x.mp4")  # equal weights are the rule: nothing to say
    assert set(figures(result)) == {"audio", "video", "fused", "timeline", "contributions"}


def test_nearly_the_same_numbers_get_the_same_agreement():
    """The newcomer's two cases: voice 98% sure against a face that leans neutral (41%), its second choice
    happy in one, angry in the other: both the same verdict, naming the sure one."""
    from avemo.fusion.rule import agreement

    def reading(label, share, second, second_share):
        probs = dict.fromkeys(EMOTIONS, (1 - share - second_share) / (len(EMOTIONS) - 2)) | {label: share,
                                                                                            second: second_share}
        return {"label": label, "confidence": share, "probs": probs}

    happy = agreement(reading("happy", 0.98, "surprised", 0.01), reading("neutral", 0.41, "happy", 0.35))
    angry = agreement(reading("angry", 0.98, "disgust", 0.01), reading("neutral", 0.41, "sad", 0.30))
    assert happy["verdict"] == angry["verdict"] == "differ"
    assert happy["message"] == ("voice and face differ: the voice is sure it sounds happy, "
                                "the face only leans to neutral")
    both_sure = agreement(reading("sad", 0.97, "calm", 0.01), reading("neutral", 0.63, "sad", 0.1))
    neither_sure = agreement(reading("sad", 0.45, "calm", 0.3), reading("neutral", 0.41, "sad", 0.3))
    assert both_sure["verdict"] == "disagree" and "neither surely" in neither_sure["message"]


def test_the_timeline_tells_every_emotion_apart_by_colour_and_marker():
    """Happy and surprised were two oranges: every two emotions now differ clearly in colour (CIE76 delta E >= 30,
    about three times a just-noticeable difference) and each has its own marker."""
    import itertools

    import numpy as np

    from avemo.app.plots import EMOTION_MARKERS, probability_timeline
    from avemo.config import EMOTION_COLOURS

    def lab(colour: str) -> np.ndarray:
        rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
        rgb = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
        xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ rgb
        f = np.cbrt(np.maximum(xyz / [0.95047, 1.0, 1.08883], 0.008856))
        return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])

    for a, b in itertools.combinations(EMOTIONS, 2):
        assert np.linalg.norm(lab(EMOTION_COLOURS[a]) - lab(EMOTION_COLOURS[b])) >= 30, (a, b)
    assert len(set(EMOTION_MARKERS[e] for e in EMOTIONS)) == len(EMOTIONS)
    figure = probability_timeline({"audio": _part("happy"), "video": None}, ("audio",))
    assert {trace.name: trace.marker.symbol for trace in figure.data} == {e: EMOTION_MARKERS[e] for e in EMOTIONS}


def test_every_bundled_example_has_a_caption_with_its_emotion():
    from avemo.app.page import example_files
    from avemo.app.views import EXAMPLE_CAPTIONS

    for path in (p for kind in example_files().values() for p in kind):
        emotion = next(e for e in EMOTIONS if e in path.stem)
        assert EXAMPLE_CAPTIONS[path.name].startswith(f"{emotion} voice"), path.name


def test_the_voice_timeline_shades_where_speech_was_heard_and_says_what_its_points_are():
    from avemo.app.plots import probability_timeline, timeline_notes

    audio = _part("angry") | {"speech_segments": [[0.4, 2.9], [4.0, 6.5]], "verdict_from": "its 2 utterances"}
    result = {"audio": audio, "video": None, "unavailable": {"video": "no face"}}
    figure = probability_timeline(result, names={"audio": "Voice", "video": "Face"})
    shaded = [(shape.x0, shape.x1) for shape in figure.layout.shapes]
    assert shaded == [(0.4, 2.9), (4.0, 6.5)]
    notes = timeline_notes(result, names={"audio": "Voice", "video": "Face"})
    assert len(notes) == 1 and "read by every voice expert" in notes[0] and "its 2 utterances" in notes[0]


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
    from avemo.app.plots import timeline_notes

    assert "each sampled frame alone" in timeline_notes({"video": video}, names={"video": "Face"})[0]


def test_a_missing_modality_panel_says_why():
    """In the video tab a clip without a face keeps the face's panel, saying why; a fusion of one modality is
    that modality's result again, so "both together" and the votes are not drawn."""
    from avemo.app.views import figures

    result = {"path": "x.mp4", "audio": _part("sad"), "video": None, "fused": _part("sad") | {"modalities": ["audio"]},
              "unavailable": {"video": "no face found in any of the 40 frames sampled"}, "notes": [], "error": None}
    charts = figures(result)
    audio, video, timeline = charts["audio"], charts["video"], charts["timeline"]
    assert charts["fused"] is None and charts["contributions"] is None
    assert tuple(audio.data[0].marker.color) == tuple(emotion_colours())
    assert tuple(audio.layout.yaxis.range) == (0, 1) and list(audio.data[0].x) == list(EMOTIONS)
    assert not video.data
    assert "no face found in any of the 40 frames sampled" in video.layout.annotations[0].text.replace("<br>", " ")
    assert len(timeline.data) == len(EMOTIONS) and timeline.layout.title.text == "Over time"


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
