"""The video branch on real clips built from the RAVDESS face stills and speech (tests/clips.py):
sampling, bad inputs, threads, bounded memory, the shipped model folder, and `train.video fit`."""
from __future__ import annotations

import importlib
import json
import re
import sys
import threading
import tracemalloc
import types
from pathlib import Path

import numpy as np
import pytest

from tests import clips

pytestmark = pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON)

from avemo.config import EMOTIONS, VIDEO_FEATURES, WEIGHTS_DIR  # noqa: E402
from avemo.face.expression import BLENDSHAPE_WORDS  # noqa: E402
from avemo.media import MediaError, probe  # noqa: E402

video = pytest.importorskip("avemo.face.video")
SHIPPED = WEIGHTS_DIR / "video"


@pytest.fixture(scope="module")
def analyser():
    return video.VideoAnalyzer.load(SHIPPED)


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("video-clips")


@pytest.fixture(scope="module")
def speaking_clip(clip_dir) -> Path:
    """A moving face with real speech: the ordinary case."""
    return clips.moving_face_video(clip_dir / "speaking.mp4", clips.face_still(3), seconds=2.0,
                                   audio=clips.ravdess_clip(3))


def analyse(analyser, path: Path, max_seconds: float = 60.0):
    return analyser.analyse(path, probe(path), max_seconds)


def make_predictor(folders: dict[str, Path]):
    """A Predictor for the given model folders. While avemo.fusion.rule (another part of the project)
    is not in the tree, a stand-in with no fusion lets the audio and video branches run."""
    from avemo.predict import Predictor

    try:
        importlib.import_module("avemo.fusion.rule")
    except ModuleNotFoundError:
        standin = types.ModuleType("avemo.fusion.rule")
        standin.load_fusion = lambda folder: None
        standin.fuse = lambda audio, video, fusion: None
        sys.modules["avemo.fusion.rule"] = standin
    return Predictor(folders=folders, origin="test")


# -- sampling ---------------------------------------------------------------------------------------
def test_sampling_plan_covers_the_analysed_part_evenly():
    per_window = VIDEO_FEATURES.frames_per_window
    short = video.sampling_plan(1.0, 60.0)
    assert short.targets.shape == (1, per_window) and short.spans == [(0.0, 1.0)]
    assert 0 < short.targets.min() and short.targets.max() < 1.0
    assert np.all(np.diff(short.targets.ravel()) > 0)
    long = video.sampling_plan(100.0, 20.0)
    assert long.end == pytest.approx(20.0)
    assert len(long.spans) == round(20.0 / VIDEO_FEATURES.window_seconds)
    assert long.targets.max() < 20.0
    unknown = video.sampling_plan(0.0, 8.0)  # a stream without a duration: planned up to the limit
    assert unknown.end == pytest.approx(8.0)


def test_frames_are_read_at_their_times_without_decoding_everything(speaking_clip):
    times = np.array([0.1, 0.5, 0.9, 1.7])
    got = list(video.read_frames_at(speaking_clip, times))
    served = sorted(i for _, _, slots in got for i in slots)
    assert served == [0, 1, 2, 3]
    for t, rgb, slots in got:
        assert rgb is not None and rgb.ndim == 3 and rgb.shape[2] == 3
        for i in slots:
            assert abs(t - times[i]) <= 0.04  # within a frame at 25 fps


# -- the ordinary case ----------------------------------------------------------------------------------
def test_a_speaking_face_gives_a_full_video_result(analyser, speaking_clip):
    result, notes = analyse(analyser, speaking_clip)
    assert notes == []
    assert set(result["probs"]) == set(EMOTIONS)
    assert sum(result["probs"].values()) == pytest.approx(1.0, abs=1e-3)
    assert result["label"] in EMOTIONS and result["label"] != "calm"
    assert result["probs"]["calm"] == 0.0  # the FER2013 backbone has no calm (see the model card)
    assert result["frames"] == VIDEO_FEATURES.frames_per_window
    assert result["faces_found"] == result["frames"]
    assert result["reliability"] == 1.0
    assert len(result["timeline"]) == 1
    assert result["timeline"][0]["end"] == pytest.approx(2.0, abs=0.1)
    json.dumps(result)  # JSON-ready: no arrays, no images


def test_each_sampled_face_is_read_alone_and_the_window_pools_those_readings(analyser, speaking_clip):
    result, _ = analyse(analyser, speaking_clip)
    frames = result["frame_timeline"]
    times = [frame["time"] for frame in frames]
    window = result["timeline"][0]
    assert len(frames) == result["faces_found"] and times == sorted(times)
    assert window["start"] <= times[0] and times[-1] <= window["end"]
    assert all(sum(frame["probs"].values()) == pytest.approx(1.0, abs=1e-3) for frame in frames)
    # Equal-quality faces (reliability 1): the window is the normalised geometric mean of its frames' readings.
    labels = [name for name in EMOTIONS if name != "calm"]
    logs = np.log([[max(frame["probs"][name], 1e-4) for name in labels] for frame in frames]).mean(axis=0)
    pooled = np.exp(logs - logs.max()) / np.exp(logs - logs.max()).sum()
    assert pooled == pytest.approx([window["probs"][name] for name in labels], abs=0.02)


def test_analyse_is_safe_from_several_threads(analyser, speaking_clip, clip_dir):
    other = clips.still_video(clip_dir / "other.mp4", clips.face_still(11), seconds=1.0)
    expected = {p: analyse(analyser, p)[0] for p in (speaking_clip, other)}
    results, errors = {}, []

    def run(path, key):
        try:
            results[key] = analyse(analyser, path)[0]
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(p, (p, i))) for i in range(2) for p in (speaking_clip, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for (path, _), result in results.items():
        assert result["probs"] == pytest.approx(expected[path]["probs"], abs=1e-3)
        assert result["faces_found"] == expected[path]["faces_found"]


def test_a_webcam_webm_clip_is_analysed(analyser, clip_dir):
    webm = clips.still_video(clip_dir / "webcam.webm", clips.face_still(12), clips.ravdess_clip(12),
                             seconds=1.0, codec="libvpx")
    result, _ = analyse(analyser, webm)
    assert result["faces_found"] == result["frames"] > 0


def test_preview_frames_show_the_face_the_crop_and_the_verdict(analyser, speaking_clip):
    strip = analyser.preview_frames(speaking_clip, probe(speaking_clip), n=3)
    assert len(strip) == 3
    plain = next(video.read_frames_at(speaking_clip, np.array([0.3])))[1]
    for image, caption in strip:
        assert image.shape == plain.shape and image.dtype == np.uint8
        seconds, verdict = caption.split(" s: ")
        verdict, *movements = verdict.split(", ")  # then what the face does, from its blendshapes
        assert 0 <= float(seconds) <= 4 and verdict.split()[0] in video.EMOTIONS and verdict.endswith("%")
        assert set(movements) <= set(BLENDSHAPE_WORDS.values())
    # The face's outline is drawn in thin green lines, and leaves the face itself visible (no blob).
    image = strip[0][0]
    green = (image[..., 1].astype(int) - image[..., 0] > 80) & (image[..., 1] > 150)
    assert 100 < green.sum() < 0.05 * green.size
    # The crop the model saw sits in the corner, in grey.
    corner = image[4:20, 4:20].astype(int)
    assert np.abs(corner[..., 0] - corner[..., 1]).max() <= 1 and not np.array_equal(corner, plain[4:20, 4:20])


# -- bad inputs --------------------------------------------------------------------------------------------
def test_no_face_at_all_is_refused_with_the_reason(analyser, clip_dir):
    pattern = clips.pattern_video(clip_dir / "pattern.mp4", seconds=2.0)
    with pytest.raises(MediaError, match=r"no face found in any of the \d+ frames sampled"):
        analyse(analyser, pattern)


def test_a_face_in_only_a_few_frames_is_noted_and_weighs_less(analyser, clip_dir, speaking_clip):
    path = clips.face_then_blank_video(clip_dir / "few.mp4", clips.face_still(4), 0.5, 3.5)
    result, notes = analyse(analyser, path)
    assert 0 < result["faces_found"] < result["frames"] / 2
    found = re.search(r"a face was found in only (\d+) of (\d+) frames", " ".join(notes))
    assert found and int(found[1]) == result["faces_found"] and int(found[2]) == result["frames"]
    assert result["reliability"] < analyse(analyser, speaking_clip)[0]["reliability"]
    assert result["reliability"] == pytest.approx(result["faces_found"] / result["frames"], abs=0.01)


def test_two_faces_the_largest_is_analysed_with_a_note(analyser, clip_dir):
    image = clips.side_by_side_image(clip_dir / "two.png", clips.face_still(5), clips.face_still(6))
    path = clips.still_video(clip_dir / "two.mp4", image, seconds=1.0)
    result, notes = analyse(analyser, path)
    assert any("several faces" in note for note in notes)
    assert result["faces_found"] == result["frames"]


def test_a_very_dark_video_is_noted_and_weighs_less(analyser, clip_dir):
    normal = clips.still_video(clip_dir / "lit.mp4", clips.face_still(7), seconds=1.0)
    dark = clips.dark_video(clip_dir / "dark.mp4", clips.face_still(7), seconds=1.0, level=0.15)
    lit_result, lit_notes = analyse(analyser, normal)
    dark_result, dark_notes = analyse(analyser, dark)
    assert not any("dark" in note for note in lit_notes)
    assert any("dark" in note for note in dark_notes)
    assert dark_result["faces_found"] > 0
    assert dark_result["reliability"] < lit_result["reliability"]


def test_a_portrait_phone_video_is_turned_upright(analyser, clip_dir):
    path = clips.portrait_video(clip_dir / "portrait.mp4", clips.face_still(3), seconds=1.0)
    # As stored, the picture is landscape with the face on its side ...
    import cv2

    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
    stored = capture.read()[1]
    capture.release()
    assert stored.shape[1] > stored.shape[0]
    # ... and avemo reads it upright: portrait, eyes level.
    _, rgb, _ = next(video.read_frames_at(path, np.array([0.5])))
    assert rgb.shape[0] > rgb.shape[1]
    from avemo.face.mesh import face_mesh, find_face

    with face_mesh(stills=True) as mesh:
        found = find_face(mesh, rgb)
    from avemo.face.mesh import eye_angle

    assert abs(eye_angle(found.landmarks)) < 10
    result, _ = analyse(analyser, path)
    assert result["faces_found"] == result["frames"]
    assert all(image.shape[0] > image.shape[1] for image, _ in analyser.preview_frames(path, probe(path), n=2))


def test_a_one_frame_video_works(analyser, clip_dir):
    path = clips.still_video(clip_dir / "one.mp4", clips.face_still(8), seconds=0.04)
    result, _ = analyse(analyser, path)
    assert result["frames"] == 1 and result["faces_found"] == 1
    assert len(result["timeline"]) == 1
    assert sum(result["probs"].values()) == pytest.approx(1.0, abs=1e-3)


def test_a_video_without_audio_still_gets_its_video_result(clip_dir):
    path = clips.still_video(clip_dir / "silent-film.mp4", clips.face_still(9), seconds=1.0)
    assert not probe(path).has_audio
    predictor = make_predictor({"video": SHIPPED})
    result = predictor.predict(path)
    assert result["video"] is not None
    assert result["video"]["faces_found"] > 0
    assert "audio" in result["unavailable"]


def test_analysis_stops_at_max_seconds(analyser, clip_dir):
    path = clips.still_video(clip_dir / "long.mp4", clips.face_still(10), seconds=30.0, size=(200, 112))
    result, _ = analyse(analyser, path, max_seconds=8.0)
    assert len(result["timeline"]) == round(8.0 / VIDEO_FEATURES.window_seconds)
    assert result["timeline"][-1]["end"] <= 8.0
    assert result["frames"] == len(result["timeline"]) * VIDEO_FEATURES.frames_per_window


def _rss_bytes(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", status)[1]) * 1024


def test_a_big_high_bitrate_upload_is_analysed_in_bounded_memory(analyser, clip_dir, speaking_clip):
    path = clips.noisy_video(clip_dir / "big.mp4", clips.face_still(9), seconds=4.0, size=(1280, 720), qp=12)
    size = path.stat().st_size
    assert size > 50 * 2**20  # a big upload, as a phone's high-bitrate recording
    frame_bytes = 1280 * 720 * 3
    all_frames = probe(path).duration * 25 * frame_bytes
    analyse(analyser, speaking_clip)  # warm: mediapipe and the model graph are loaded already
    can_reset_peak = Path("/proc/self/clear_refs").exists()
    if can_reset_peak:
        try:
            Path("/proc/self/clear_refs").write_text("5")  # resets the peak RSS (VmHWM)
        except OSError:
            can_reset_peak = False
    rss_before = _rss_bytes("VmRSS") if can_reset_peak else 0
    tracemalloc.start()
    try:
        result, _ = analyse(analyser, path)
        _, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result["faces_found"] > 0
    # Arrays held at once: a few frames, never the clip (numpy buffers are traced).
    assert python_peak < 8 * frame_bytes < all_frames / 4
    if can_reset_peak:
        growth = _rss_bytes("VmHWM") - rss_before
        assert growth < size, f"peak memory grew by {growth / 2**20:.0f} MB for a {size / 2**20:.0f} MB file"


# -- the shipped model folder -----------------------------------------------------------------------------
def test_the_shipped_model_folder_is_complete_small_and_loads_in_safe_mode():
    import keras

    from avemo.face import networks  # noqa: F401  (registers FramewiseDistributed for Keras's safe mode)
    from avemo.models import load_model_folder

    folder = load_model_folder(SHIPPED)  # the ONNX export, checked to come from model.keras
    assert folder.labels == video.POOLING_LABELS
    assert set(folder.labels) <= set(EMOTIONS) and "calm" not in folder.labels
    assert folder.config["features"] == VIDEO_FEATURES.to_dict()
    # The temperature was fitted on held-out faces (train.faces fit), with the head it belongs to.
    faces = json.loads((SHIPPED / video.FACES_EVALUATION_FILE).read_text())
    assert folder.config["temperature"] == round(faces["calibration"]["temperature"], 4) != 1.0
    assert folder.config["head"]["file"] == "expression_head.json"
    files = {p.name: p.stat().st_size for p in SHIPPED.iterdir()}
    assert files["model.keras"] < 2 * 2**20 and sum(files.values()) < 10 * 2**20  # small, and bundled
    assert {"facex.tflite", "face_landmarker.task", "expression_head.json"} <= set(files)
    card = (SHIPPED / "README.md").read_text()
    assert card.startswith("---\nlicense: other")  # MIT and Apache-2.0 files, a head trained on JAFFE and SFEW
    for must in ("FER2013", "facex", "Its training data is not documented", "Apache-2.0", "non-commercial",
                 "calm", "Not measured", "subjects held out", "v0.7.0 pipeline", "### Framing"):
        assert must in card
    # Only built-in layers and avemo's registered one: nothing that safe mode would refuse.
    config = json.loads(__import__("zipfile").ZipFile(SHIPPED / "model.keras").read("config.json"))
    assert "Lambda" not in json.dumps(config)
    assert isinstance(keras.saving.load_model(SHIPPED / "model.keras", safe_mode=True, compile=False), keras.Model)


def test_the_shipped_model_pools_frames_by_their_weights(analyser):
    """With one frame weighted 1, the window's output is that frame's; weight 0 frames do not count."""
    rng = np.random.default_rng(1)
    crops = rng.uniform(-1, 1, (1, 3, 64, 64, 1)).astype(np.float32)
    only_first = analyser.window_logits({"frames": crops, "frame_weights": np.array([[1, 0, 0]], np.float32)})
    alone = analyser.window_logits({"frames": crops[:, :1], "frame_weights": np.ones((1, 1), np.float32)})
    np.testing.assert_allclose(only_first, alone, atol=1e-4)
    even = analyser.window_logits({"frames": crops, "frame_weights": np.full((1, 3), 1 / 3, np.float32)})
    singles = [analyser.window_logits({"frames": crops[:, i : i + 1], "frame_weights": np.ones((1, 1), np.float32)})
               for i in range(3)]
    np.testing.assert_allclose(even, np.mean(singles, axis=0), atol=1e-4)


# -- training the temporal part ------------------------------------------------------------------------------
def ravdess_like_video_corpus(root: Path, actors=(1, 2), emotions=(1, 3, 5)) -> list[Path]:
    """DIR/ravdess/video/Actor_XX/0M-01-EE-II-01-01-XX.mp4: audio-video (01) clips with the actor's
    real speech, one video-only (02) clip per actor; faces from the stills, with synthetic motion."""
    paths = []
    for actor in actors:
        folder = root / "ravdess" / "video" / f"Actor_{actor:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for k, emotion in enumerate(emotions):
            intensity = 1 if emotion == 1 else 2
            modality = "02" if k == 0 else "01"
            name = f"{modality}-01-{emotion:02d}-{intensity:02d}-01-01-{actor:02d}.mp4"
            audio = None if modality == "02" else clips.ravdess_clip(actor, emotion, intensity)
            paths.append(clips.moving_face_video(folder / name, clips.face_still(actor), seconds=1.2, audio=audio))
        (folder / "notes.txt").write_text("not a clip")  # skipped and counted, not an error
    return paths


@pytest.mark.slow
def test_fit_trains_the_temporal_part_and_writes_a_model_that_predict_uses(tmp_path, monkeypatch):
    from train import video as train_video

    paths = ravdess_like_video_corpus(tmp_path / "data")
    monkeypatch.setenv("AVEMO_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "fitted"
    train_video.main(["fit", "--data-dir", str(tmp_path / "data"), "--out", str(out), "--epochs", "2"])

    # A complete model folder with the speaker-independent report.
    for name in ("model.keras", "model.onnx", "labels.json", "config.json", "README.md", "evaluation.json",
                 "confusion.png"):
        assert (out / name).is_file(), name
    report = json.loads((out / "evaluation.json").read_text())["evaluation"]
    assert report["clips"] == len(paths)
    assert "grouped by actor" in report["protocol"]
    for key in ("accuracy", "macro_f1", "uar"):
        assert 0.0 <= report["pooled"][key] <= 1.0
    assert report["pooled"]["n"] == len(paths)
    assert np.shape(report["pooled"]["confusion"]) == (len(report["pooled"]["labels"]),) * 2
    assert json.loads((out / "labels.json").read_text()) == list(EMOTIONS)

    # Frame features were cached: a second extraction decodes no video.
    cached = list((tmp_path / "cache" / "video-features").glob("*.npz"))
    assert len(cached) == len(paths)

    def no_decoding(*args, **kwargs):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(video, "clip_windows", no_decoding)
    backbone, _, weights_hash = train_video.frame_cnn_for_fit(None, SHIPPED)
    from avemo.face.networks import backbone_parts

    _, embed = backbone_parts(backbone)
    again = train_video.clip_embeddings(paths, embed, weights_hash, progress=False)
    assert len(again) == len(paths) and again[0]["embeddings"].ndim == 3
    monkeypatch.undo()

    # The written folder loads (safe mode) and is what predict uses for the video branch.
    predictor = make_predictor({"video": out})
    result = predictor.predict(paths[1])
    assert result["video"] is not None
    assert set(result["video"]["probs"]) == set(EMOTIONS)
    assert sum(result["video"]["probs"].values()) == pytest.approx(1.0, abs=1e-3)
