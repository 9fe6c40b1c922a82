"""Inference without TensorFlow: each shipped network's ONNX export computes what its Keras original computes on
real inputs, facex on LiteRT what TensorFlow Lite computes, a `predict` in a fresh interpreter never imports
TensorFlow or Keras, an export a retrained model left behind is refused, every voice expert is optional, and
the threads of one process share one copy of the models."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from avemo.config import EMOTIONS, REPO_ROOT, WEIGHTS_DIR

try:
    from tests import clips
except ImportError:
    import clips

pytestmark = pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON)

AUDIO, VIDEO = WEIGHTS_DIR / "audio", WEIGHTS_DIR / "video"
TOLERANCE = 1e-4  # max abs difference on logits (#28)
# Real speech from each corpus: an actor's angry take, a British man's sad sentence, a German woman's happy one.
SPEECH = {"ravdess": lambda: clips.ravdess_clip(actor=1, emotion=5), "savee": lambda: clips.savee_clip("JE_sa14"),
          "emodb": lambda: clips.DATA / "emodb" / "audio" / "03a01Fa.flac"}


@pytest.fixture(scope="module")
def voice_inputs() -> dict[str, dict[str, np.ndarray]]:
    """Each voice expert's real input, per clip, computed as the analysis computes it."""
    from avemo.audio.features import spectral_frames, trim_silence, windows
    from avemo.audio.functionals import descriptor_windows, descriptors, functionals
    from avemo.audio.speech_encoder import expert_input, speech_representation
    from avemo.config import SPEECH_ENCODER
    from avemo.media import load_audio

    hparams = json.loads((AUDIO / "config.json").read_text()).get("hparams", {})
    inputs = {}
    for corpus, clip in SPEECH.items():
        if not clip().is_file():
            continue
        speech, _ = trim_silence(load_audio(clip(), 16_000, 60)[0])
        inputs[corpus] = {"model": windows(spectral_frames(speech))[0], "functionals": functionals(speech)[None],
                          "descriptors": descriptor_windows(descriptors(speech)),
                          "speech": expert_input(speech_representation(speech)[None], SPEECH_ENCODER.encoders,
                                                 hparams.get("speech_normalise", "none"))}
    return inputs


def face_windows() -> list[np.ndarray]:
    """[frames (2, 4, 64, 64, 1), frame_weights (2, 4)]: the face crops of eight RAVDESS actors' stills as two
    windows, weighted by their quality."""
    import cv2

    from avemo.face.mesh import face_mesh, find_face

    crops, weights = [], []
    with face_mesh(stills=True) as mesh:
        for actor in range(1, 9):
            face = find_face(mesh, cv2.cvtColor(cv2.imread(str(clips.face_still(actor))), cv2.COLOR_BGR2RGB))
            crops.append(face.crop)
            weights.append(face.quality)
    frames = np.asarray(crops, np.float32).reshape(2, 4, 64, 64, 1)
    weights = np.asarray(weights, np.float32).reshape(2, 4)
    return [frames, weights / weights.sum(axis=1, keepdims=True)]


SHIPPED_VOICE_PARTS = [part for part in ("model", "functionals", "descriptors", "speech")
                       if (AUDIO / part).with_suffix(".keras").is_file()]  # (the recipe's experts)


@pytest.mark.parametrize("part", SHIPPED_VOICE_PARTS)
def test_each_voice_expert_s_export_computes_its_keras_original(voice_inputs, part):
    from avemo.models import CLIP_EXPERT_FILES, load_model_folder
    from avemo.onnx_export import keras_outputs, load_keras

    keras_file = AUDIO / CLIP_EXPERT_FILES.get(part, "model.keras")
    original, exported = load_keras(keras_file), getattr(load_model_folder(AUDIO), part)
    for corpus, inputs in voice_inputs.items():
        expected = keras_outputs(original, [inputs[part]])
        assert np.abs(exported(inputs[part]) - expected).max() <= TOLERANCE, corpus


def test_the_face_model_s_export_computes_its_keras_original():
    from avemo.models import load_model_folder
    from avemo.onnx_export import keras_outputs, load_keras

    inputs = face_windows()
    expected = keras_outputs(load_keras(VIDEO / "model.keras"), inputs)
    assert np.abs(load_model_folder(VIDEO).model(*inputs) - expected).max() <= TOLERANCE


@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated", "ignore:.*experimental_preserve_all_tensors")
def test_facex_on_litert_gives_what_tensorflow_lite_gave():
    """facex's 8-bit CNN, on real face crops: LiteRT runs TensorFlow Lite's own kernels, to the last bit, and the
    embedding it reads as a second output of the model rewritten in memory is the inner map TensorFlow Lite keeps
    when asked to keep every tensor (its debugging option), averaged."""
    import cv2

    from avemo.backend import import_tensorflow
    from avemo.face.expression import FACEX_EMBEDDING_TENSOR, FACEX_FILE, FacexCNN
    from avemo.face.mesh import face_mesh, find_face

    reference = import_tensorflow().lite.Interpreter(model_path=str(VIDEO / FACEX_FILE), num_threads=1,
                                                     experimental_preserve_all_tensors=True)
    reference.allocate_tensors()
    inner = next(t["index"] for t in reference.get_tensor_details() if t["name"] == FACEX_EMBEDDING_TENSOR)
    facex = FacexCNN(VIDEO / FACEX_FILE)
    with face_mesh(stills=True) as mesh:
        for actor in (1, 4, 7):
            face = find_face(mesh, cv2.cvtColor(cv2.imread(str(clips.face_still(actor))), cv2.COLOR_BGR2RGB))
            reference.set_tensor(reference.get_input_details()[0]["index"],
                                 face.expression_crop[None].astype(np.float32) / 255.0)
            reference.invoke()
            expected = reference.get_tensor(reference.get_output_details()[0]["index"])[0]
            probs, embedding = facex.read(face.expression_crop)
            np.testing.assert_array_equal(probs, expected)
            np.testing.assert_allclose(embedding, reference.get_tensor(inner)[0].mean(axis=(0, 1)), rtol=1e-6, atol=1e-7)
            assert embedding.shape == (1280,) and embedding.std() > 0


def test_erfinv_is_exported_as_tensorflow_computes_it(tmp_path):
    """ONNX has no Erfinv: the export writes TensorFlow's algorithm out of ONNX operators, and agrees with
    tf.math.erfinv across (-1, 1), tails included, where the quantile layer's inputs lie."""
    import keras

    from avemo.onnx_export import export_keras
    from avemo.runtime import OnnxModel

    class Erfinv(keras.layers.Layer):
        def call(self, x):
            return keras.ops.erfinv(x)

    inputs = keras.Input((1,))
    model = keras.Model(inputs, Erfinv()(inputs))
    p = np.concatenate([np.linspace(1e-7, 1 - 1e-7, 20001), np.geomspace(1e-7, 0.1, 2000)]).astype(np.float32)
    x = np.concatenate([2 * p - 1, 1 - 2 * p]).astype(np.float32)[:, None]
    exported = OnnxModel.load(export_keras(model, tmp_path / "erfinv.onnx"))(x)
    np.testing.assert_allclose(exported, np.asarray(model(x)), rtol=0, atol=2e-6)


def test_an_export_that_is_missing_or_left_behind_by_a_retrained_model_is_refused(tmp_path):
    from avemo.predict import ModelLoadError, Predictor

    folder = tmp_path / "audio"
    shutil.copytree(AUDIO, folder)
    (folder / "speech.keras").write_bytes((folder / "speech.keras").read_bytes() + b"retrained")
    with pytest.raises(ModelLoadError, match=r"speech.onnx was exported from another speech.keras .*"
                                             r"python -m avemo.onnx_export"):
        Predictor({"audio": folder})
    (folder / "speech.onnx").unlink()
    with pytest.raises(ModelLoadError, match=r"speech.onnx is missing \(export it: python -m avemo.onnx_export"):
        Predictor({"audio": folder})


VOICE_EXPERTS = ("model", "functionals", "descriptors", "speech")  # model: the frame CNN


def test_the_voice_answers_with_any_one_of_its_experts(tmp_path):
    """Every expert of the voice is optional, the frame CNN too: a folder retrained with only some of them (the
    shipped recipe has no frame CNN) loads and answers with what it has; one with none is refused."""
    from avemo.predict import ModelLoadError, Predictor

    shipped = [name for name in VOICE_EXPERTS if (AUDIO / name).with_suffix(".onnx").is_file()]
    assert shipped, "the bundled voice has no expert"
    for kept in shipped:
        folder = tmp_path / kept
        shutil.copytree(AUDIO, folder)
        for other in set(VOICE_EXPERTS) - {kept}:
            for suffix in (".keras", ".onnx"):
                (folder / other).with_suffix(suffix).unlink(missing_ok=True)
        voice = Predictor({"audio": folder}).audio_model
        has = {name: getattr(voice.folder, name) is not None for name in VOICE_EXPERTS}
        assert has == {name: name == kept for name in VOICE_EXPERTS}
        result, _ = voice.analyse(clips.ravdess_clip(actor=2, emotion=3))
        assert set(result["probs"]) == set(EMOTIONS) and abs(sum(result["probs"].values()) - 1) < 1e-3
        assert len(result["timeline"]) >= 2
    for name in VOICE_EXPERTS:
        for suffix in (".keras", ".onnx"):
            (folder / name).with_suffix(suffix).unlink(missing_ok=True)
    with pytest.raises(ModelLoadError, match="no model"):
        Predictor({"audio": folder}).audio_model


FRESH_PREDICT = """
import json, sys
from avemo import predict
result = predict(sys.argv[1])
loaded = sorted({name.split(".")[0] for name in sys.modules} & {"tensorflow", "keras", "tf2onnx", "tf_keras"})
print(json.dumps({"loaded": loaded, "error": result["error"], "audio": bool(result["audio"]),
                  "video": bool(result["video"])}))
"""


@pytest.mark.parametrize("kind", ["audio", "video"])
def test_a_predict_in_a_fresh_interpreter_never_imports_tensorflow(tmp_path, kind):
    """With TensorFlow installed (training's requirements), `avemo.predict` of an audio file and of a video
    (voice, face mesh, landmarker, facex and both ONNX models) leaves it and Keras out of sys.modules."""
    clip = clips.ravdess_clip(actor=4, emotion=3)
    if kind == "video":
        clip = clips.still_video(tmp_path / "clip.mp4", clips.face_still(4), clip, seconds=2)
    out = subprocess.run([sys.executable, "-c", FRESH_PREDICT, str(clip)], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=300, env={**__import__("os").environ, "AVEMO_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"loaded": [], "error": None, "audio": True, "video": kind == "video"}


def test_threads_share_one_copy_of_the_models(tmp_path, monkeypatch):
    """Four threads analysing at once load each modality once, get what one thread alone gets, and borrow
    no more landmarkers and facex interpreters than ran at once."""
    import importlib

    from avemo.predict import Predictor

    predict_module = importlib.import_module("avemo.predict")  # (avemo.predict is also the function's name)

    loads = []
    for name, load in list(predict_module.LOADERS.items()):
        monkeypatch.setitem(predict_module.LOADERS, name, lambda folder, warm, load=load, name=name:
                            loads.append(name) or load(folder, warm))
    clip = clips.still_video(tmp_path / "clip.mp4", clips.face_still(2), clips.ravdess_clip(actor=2, emotion=5),
                             seconds=2)
    predictor = Predictor({"audio": AUDIO, "video": VIDEO}, lazy=True)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: predictor.predict(clip), range(4)))
    assert sorted(loads) == ["audio", "video"]
    alone = predictor.predict(clip)
    for result in results:
        assert result["error"] is None
        for modality in ("audio", "video"):
            np.testing.assert_allclose(list(result[modality]["probs"].values()),
                                       list(alone[modality]["probs"].values()), atol=1e-5)
    expression = predictor.video_model.expression
    assert 1 <= expression._landmarkers.made <= 4 and 1 <= expression.facex._interpreters.made <= 4
