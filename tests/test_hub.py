"""The Hub download with fallback, against a real HTTP stand-in on 127.0.0.1 and the real huggingface_hub.

Nothing is mocked: HF_ENDPOINT points at tests/hub_standin.py, which serves copies of the bundled
weights/ folders the way the Hub's download endpoints do; each test uses its own empty HF cache.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from avemo import hub
from avemo.config import REPO_ROOT, WEIGHTS_DIR

try:
    from tests.hub_standin import HubStandin
    from tests.test_fusion import trained_fuser, write_fusion_folder
except ImportError:  # pytest run without the repository root on sys.path
    from hub_standin import HubStandin
    from test_fusion import trained_fuser, write_fusion_folder

REPO = "avemo/avemo-models"


def model_folders_to_serve(dest: Path) -> Path:
    """Copies of the valid bundled model folders; an untrained audio model while weights/ has none."""
    bundled = hub.bundled_weights()
    for name, folder in bundled.folders.items():
        shutil.copytree(folder, dest / name)
    if not bundled.folders:  # only until the first models are trained into weights/
        from avemo.config import AUDIO_FEATURES, EMOTIONS
        from avemo.audio.networks import build_audio_cnn
        from avemo.models import save_model_folder

        model = build_audio_cnn(AUDIO_FEATURES.window_frames, AUDIO_FEATURES.n_bins, filters=(4, 4, 4, 4))
        save_model_folder(dest / "audio", model, list(EMOTIONS), {"features": AUDIO_FEATURES.to_dict()})
        (dest / "audio" / "README.md").write_text("# audio (untrained stand-in)\n")
    return dest


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Path:
    return model_folders_to_serve(tmp_path_factory.mktemp("hub-repo"))


@pytest.fixture
def hub_env(monkeypatch, tmp_path):
    """An empty HF cache and no offline switches; returns a function pointing HF_ENDPOINT somewhere."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("AVEMO_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("AVEMO_HUB_REVISION", raising=False)
    monkeypatch.setenv("AVEMO_HUB_REPO", REPO)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    return lambda url: monkeypatch.setenv("HF_ENDPOINT", url)


def serve_variant(served: Path, tmp_path: Path, change=None) -> Path:
    """A copy of the served repo with `change(folder)` applied (corrupting a file, say)."""
    folder = tmp_path / "variant"
    shutil.copytree(served, folder)
    if change:
        change(folder)
    return folder


def assert_bundled(source: hub.WeightsSource, reason: str) -> None:
    assert source.origin.startswith(f"bundled {WEIGHTS_DIR.name}/"), source.origin
    assert reason in source.origin, source.origin
    assert source.folders == hub.bundled_weights().folders


def test_download_from_the_hub_standin(served, hub_env, tmp_path):
    with HubStandin(served, REPO, hub.HUB_REVISION) as standin:
        hub_env(standin.url)
        source = hub.resolve_weights()
        assert source.origin == f"Hugging Face Hub {REPO}@{hub.HUB_REVISION} (commit {standin.commit[:7]})"
        assert set(source.folders) == {p.name for p in served.iterdir()}
        cache = tmp_path / "hf-home" / "hub"
        for name, folder in source.folders.items():
            assert cache in folder.resolve().parents or str(folder).startswith(str(cache))
            for original in (served / name).iterdir():
                assert (folder / original.name).read_bytes() == original.read_bytes()
        downloads = [r for r in standin.requests if r[0] == "GET" and "/resolve/" in r[1]]
        assert len(downloads) == len(standin.files)

        # A second start reads the files from the HF cache: no file is fetched again.
        again = hub.resolve_weights()
        assert again.folders == source.folders
        assert [r for r in standin.requests if r[0] == "GET" and "/resolve/" in r[1]] == downloads


@pytest.mark.parametrize("switch", ["AVEMO_OFFLINE", "HF_HUB_OFFLINE"])
def test_offline_switch_uses_bundled_without_asking(served, hub_env, monkeypatch, switch):
    with HubStandin(served, REPO, hub.HUB_REVISION) as standin:
        hub_env(standin.url)
        monkeypatch.setenv(switch, "1")
        assert_bundled(hub.resolve_weights(), f"{switch}=1")
        assert standin.requests == []


def test_unreachable_hub_falls_back_fast(hub_env):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    hub_env(f"http://127.0.0.1:{port}")
    started = time.monotonic()
    source = hub.resolve_weights()
    assert time.monotonic() - started < 5
    assert_bundled(source, "Hub unreachable")


def test_silent_hub_times_out_fast(hub_env, monkeypatch):
    """A server that accepts connections and never answers: the app must not wait for it."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        hub_env(f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setenv("AVEMO_HUB_TIMEOUT", "1")
        started = time.monotonic()
        source = hub.resolve_weights()
        assert time.monotonic() - started < 4
    assert_bundled(source, "Hub unreachable")


def test_unknown_revision_falls_back(served, hub_env, monkeypatch):
    with HubStandin(served, REPO, "some-other-tag") as standin:
        hub_env(standin.url)
        assert_bundled(hub.resolve_weights(), "revision not found")


def test_unknown_repository_falls_back(served, hub_env, monkeypatch):
    with HubStandin(served, "someone/else", hub.HUB_REVISION) as standin:
        hub_env(standin.url)
        assert_bundled(hub.resolve_weights(), "repository not found")


def _first_model(folder: Path) -> Path:
    return sorted(folder.glob("*/model.keras"))[0]


def _strip_voice_models(audio: Path) -> None:
    """Every expert of a voice folder gone, its gate and configuration left."""
    for model in [*audio.glob("*.keras"), *audio.glob("*.onnx")]:
        if model.name != "silero_vad.onnx":
            model.unlink()


@pytest.mark.parametrize("damage, reason", [
    (lambda f: _first_model(f).write_bytes(_first_model(f).read_bytes()[: _first_model(f).stat().st_size // 2]),
     "not a Keras archive"),
    (lambda f: _first_model(f).write_bytes(b"<html>502 Bad Gateway</html>" * 100), "not a Keras archive"),
    (lambda f: (_first_model(f).parent / "config.json").unlink(), "config.json is missing"),
    (lambda f: (_first_model(f).parent / "labels.json").write_text('["neutral", "calm"'), "labels.json does not parse"),
    (lambda f: _strip_voice_models(f / "audio"), "audio: no model (none of"),
    (lambda f: (f / "audio" / "functionals.onnx").unlink(), "functionals.onnx is missing (the export of functionals"),
    (lambda f: (f / "video" / "model.onnx").write_bytes(b"<html>502 Bad Gateway</html>"), "not an ONNX model"),
], ids=["truncated-model", "garbage-model", "missing-config", "broken-labels", "audio-without-any-model",
        "functionals-without-its-export", "garbage-onnx"])
def test_corrupt_download_falls_back(served, hub_env, tmp_path, damage, reason):
    with HubStandin(serve_variant(served, tmp_path, damage), REPO, hub.HUB_REVISION) as standin:
        hub_env(standin.url)
        source = hub.resolve_weights()
    assert_bundled(source, "Hub download invalid")
    assert reason in source.origin


def test_flipped_bytes_inside_the_model_are_caught(tmp_path):
    """Same size, one byte changed inside the weights: the archive's CRC check refuses it."""
    for name in ("audio", "video"):
        folder = tmp_path / name
        shutil.copytree(hub.bundled_weights().folders[name], folder)
        model = sorted(folder.glob("*.keras"))[0]
        data = bytearray(model.read_bytes())
        data[len(data) // 2] ^= 0xFF
        model.write_bytes(bytes(data))
        with pytest.raises(ValueError, match=model.name):
            hub.check_model_folder(folder, name)


def test_push_dry_run_lists_the_files(served):
    out = subprocess.run([sys.executable, "-m", "train.push", "--dry-run", "--weights", str(served)],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "would send" in out.stdout and "README.md" in out.stdout
    for path in served.rglob("*"):
        if path.is_file():
            assert f"{path.relative_to(served).as_posix()}  (" in out.stdout


def test_push_refuses_a_broken_folder(served, tmp_path):
    broken = serve_variant(served, tmp_path, lambda f: (_first_model(f).parent / "config.json").unlink())
    out = subprocess.run([sys.executable, "-m", "train.push", "--dry-run", "--weights", str(broken)],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "config.json is missing" in out.stderr


def test_predictor_loads_its_models_from_the_hub(served, hub_env, tmp_path):
    """The whole chain: Predictor() -> resolve_weights() -> the stand-in -> Keras loads the cached files."""
    from avemo.predict import Predictor

    with HubStandin(served, REPO, hub.HUB_REVISION) as standin:
        hub_env(standin.url)
        predictor = Predictor()
    assert predictor.origin.startswith(f"Hugging Face Hub {REPO}@{hub.HUB_REVISION}")
    if (served / "audio").is_dir():
        assert predictor.audio_model is not None
        assert str(tmp_path / "hf-home") in str(predictor.audio_model.path)
    if (served / "video").is_dir():
        assert predictor.video_model is not None


def test_a_trained_fuser_comes_from_the_hub_but_pickles_never_do(served, hub_env, tmp_path):
    from avemo.fusion.rule import TRAINED_FILE, load_fusion

    def add_fusion(folder: Path) -> None:
        shutil.rmtree(folder / "fusion", ignore_errors=True)
        write_fusion_folder(folder / "fusion", trained_fuser())
        (folder / "fusion" / "trained.joblib").write_bytes(b"\x80\x04 not to be unpickled")

    with HubStandin(serve_variant(served, tmp_path, add_fusion), REPO, hub.HUB_REVISION) as standin:
        hub_env(standin.url)
        source = hub.resolve_weights()
    assert source.origin.startswith("Hugging Face Hub"), source.origin
    assert (source.folders["fusion"] / TRAINED_FILE).is_file()
    assert load_fusion(source.folders["fusion"]).method() == "trained LR"
    assert not (source.folders["fusion"] / "trained.joblib").exists()
    assert not [r for r in standin.requests if r[1].endswith("trained.joblib")]


def test_a_model_keras_refuses_is_replaced_by_the_bundled_models(served, hub_env, tmp_path):
    """A sound zip that is not a Keras model passes the archive checks; the app still starts, on weights/."""
    import zipfile

    from avemo.app.page import load_predictor

    def fake_model(folder: Path) -> None:
        with zipfile.ZipFile(_first_model(folder), "w") as archive:
            archive.writestr("config.json", '{"class_name": "NotAModel"}')
            archive.writestr("metadata.json", "{}")
            archive.writestr("model.weights.h5", b"not hdf5")

    with HubStandin(serve_variant(served, tmp_path, fake_model), REPO, hub.HUB_REVISION) as standin:
        hub_env(standin.url)
        assert hub.resolve_weights().origin.startswith("Hugging Face Hub")  # the checks pass...
        predictor = load_predictor()                                       # ...Keras does not
    assert predictor.origin.startswith(f"bundled {WEIGHTS_DIR.name}/ (the first models failed to load")
