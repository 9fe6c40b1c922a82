"""The Predictor's orchestration on real clips: each modality's models loaded when an input needs them, once,
and shared by the threads that call it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from avemo.config import EMOTIONS, REPO_ROOT, WEIGHTS_DIR

try:
    from tests import clips
except ImportError:
    import clips

pytestmark = pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON)


def test_an_audio_input_loads_no_face_model_in_the_cli():
    """`avemo predict x.flac`, and `--modality audio` on a video, in a fresh interpreter: the voice is analysed,
    and neither avemo's face modules nor mediapipe were ever imported."""
    check = ("import json, sys; from avemo.cli import main; "
             "codes = [main(['predict', '--format', 'jsonl', sys.argv[1]]), "
             "main(['predict', '--format', 'jsonl', '--modality', 'audio', sys.argv[2]])]; "
             "print(json.dumps({'codes': codes, 'modules': sorted(m for m in sys.modules "
             "if m.startswith(('avemo.face', 'avemo.audio.analysis', 'mediapipe')))}))")
    audio_file, video_file = clips.ravdess_clip(actor=4, emotion=3), REPO_ROOT / "examples" / "ravdess-actor01-angry.mp4"
    proc = subprocess.run([sys.executable, "-c", check, str(audio_file), str(video_file)], cwd=REPO_ROOT,
                          env={**os.environ, "AVEMO_OFFLINE": "1"}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    *lines, last = proc.stdout.strip().splitlines()
    results = [json.loads(line) for line in lines]
    assert [r["path"] for r in results] == [str(audio_file), str(video_file)]
    for result in results:
        assert result["audio"]["label"] in EMOTIONS and result["video"] is None, result
    report = json.loads(last)
    assert report["codes"] == [0, 0]
    assert report["modules"] == ["avemo.audio.analysis"], report["modules"]  # the voice's, and nothing of the face


def test_threads_share_one_load_of_the_models_a_clip_needs(monkeypatch):
    """Four threads ask a lazy Predictor for the same clip at once: the voice's models load once (a slow load
    leaves time for a second one to start, were there no lock), the face's never, and all four get one answer."""
    from avemo.audio.analysis import VoiceAnalyzer
    from avemo.face.video import VideoAnalyzer
    from avemo.predict import Predictor

    loads = {"audio": 0, "video": 0}
    load_voice, load_face = VoiceAnalyzer.load.__func__, VideoAnalyzer.load.__func__

    def counted(modality, load):
        def wrapper(cls, folder, *args):
            loads[modality] += 1
            time.sleep(1.0)
            return load(cls, folder, *args)
        return classmethod(wrapper)

    monkeypatch.setattr(VoiceAnalyzer, "load", counted("audio", load_voice))
    monkeypatch.setattr(VideoAnalyzer, "load", counted("video", load_face))
    predictor = Predictor({m: WEIGHTS_DIR / m for m in ("audio", "video", "fusion")}, origin="test", lazy=True)
    assert loads == {"audio": 0, "video": 0}

    clip = clips.ravdess_clip(actor=6, emotion=4)
    start = threading.Barrier(4)
    results = [None] * 4

    def work(i):
        start.wait()
        results[i] = predictor.predict(clip)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert loads == {"audio": 1, "video": 0}
    assert results[0]["audio"]["label"] in EMOTIONS and results[0]["fused"] is not None
    assert all(result == results[0] for result in results[1:])


def test_a_model_that_cannot_load_stops_the_call_instead_of_blaming_the_input(tmp_path):
    from avemo.predict import ModelLoadError, Predictor

    predictor = Predictor({"audio": tmp_path / "no-model-here"}, origin="test", lazy=True)
    with pytest.raises(ModelLoadError, match="no model in"):
        predictor.predict(clips.savee_clip("DC_h01"))
