"""The speech gate (avemo.audio.voice_activity): tones, noise, beeps and music are refused as "no speech", in
the Python API, the CLI and the app's API; real speech is kept, shouted speech Silero misses included."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from avemo.config import REPO_ROOT, WEIGHTS_DIR

try:
    from tests import clips
except ImportError:
    import clips

RATE = 16_000


def sound(kind: str, seconds: float = 4.0) -> np.ndarray:
    """Non-speech made here: none of these is a voice."""
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(7)
    if kind == "tone":
        wave = np.sin(2 * np.pi * 440 * t)
    elif kind == "chord":
        wave = sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0))
    elif kind == "sweep":
        wave = np.sin(2 * np.pi * (150 * t + 400 * t ** 2))
    elif kind == "hum":
        wave = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in range(1, 6))
    elif kind == "white noise":
        wave = rng.normal(size=t.size)
    elif kind == "pink noise":
        spectrum = np.fft.rfft(rng.normal(size=t.size))
        wave = np.fft.irfft(spectrum / np.sqrt(np.maximum(np.fft.rfftfreq(t.size, 1 / RATE), 1.0)), t.size)
    elif kind == "beeps":
        wave = np.sin(2 * np.pi * 1000 * t) * ((t % 0.5) < 0.15)
    elif kind == "clicks":
        wave = np.zeros_like(t)
        wave[(np.arange(0, seconds, 0.3) * RATE).astype(int)] = 1.0
    elif kind == "melody":
        notes = np.array([262, 294, 330, 349, 392, 440, 494, 523])
        f = notes[(t / 0.35).astype(int) % len(notes)]
        wave = sum(np.sin(2 * np.pi * k * f * t) * 0.6 ** k for k in range(1, 5)) * (1 - (t % 0.35) / 0.5)
    else:
        raise ValueError(kind)
    return (0.5 * wave / np.abs(wave).max()).astype(np.float32)


NON_SPEECH = ("tone", "chord", "sweep", "hum", "white noise", "pink noise", "beeps", "clicks", "melody")


@pytest.fixture(scope="module")
def predictor():
    from avemo.predict import Predictor

    return Predictor({"audio": WEIGHTS_DIR / "audio"})


@pytest.fixture(scope="module")
def non_speech(tmp_path_factory):
    folder = tmp_path_factory.mktemp("non-speech")
    paths = {}
    for kind in NON_SPEECH:
        paths[kind] = folder / f"{kind.replace(' ', '-')}.wav"
        soundfile.write(str(paths[kind]), sound(kind), RATE)
    return paths


@pytest.mark.parametrize("kind", NON_SPEECH)
def test_a_sound_that_is_not_a_voice_gets_no_emotion(predictor, non_speech, kind):
    result = predictor.predict(non_speech[kind], modality="audio")
    assert result["audio"] is None and result["fused"] is None
    assert "no speech detected" in (result["error"] or ""), result


@pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON)
def test_real_speech_is_kept_shouted_speech_included(predictor):
    calm = predictor.predict(clips.ravdess_clip(actor=1, emotion=2, intensity=1), modality="audio")["audio"]
    assert calm["speech_found_by"] == "speech detector"
    assert 0.5 < calm["speech_seconds"] <= calm["trimmed_seconds"] + 0.1  # the voiced length, detected
    assert calm["trimmed_seconds"] - calm["speech_seconds"] < 1.0
    # A screamed take Silero scores as non-speech: the speech-like cue keeps it.
    shouted = predictor.predict(clips.ravdess_clip(actor=6, emotion=3, intensity=2, statement=1), modality="audio")
    assert shouted["error"] is None and shouted["audio"]["speech_found_by"] == "speech-like sound"
    savee = predictor.predict(clips.savee_clip("KL_su01"), modality="audio")["audio"]
    assert savee["speech_found_by"] == "speech detector" and savee["label"]


NOISE_LEVELS_DBFS = (-40, -25, -10, -1)  # peak level: a quiet room to a clipping fan


def noise_only(kind: str, peak_dbfs: float, seconds: float = 5.0) -> np.ndarray:
    """Noise alone, made with the evaluation's own generators (avemo.audio.degradations): white, pink, brown
    (a random walk: rumble, wind), or a fan (its motor's 50 Hz hum inside pink noise)."""
    from avemo.audio.degradations import noise_of

    n, rng = int(seconds * RATE), np.random.default_rng(11)
    if kind == "fan":
        t = np.arange(n) / RATE
        hum = sum(np.sin(2 * np.pi * 50 * k * t + k) / k for k in range(1, 8))
        air = noise_of("pink", n, rng)
        wave = hum / hum.std() + air / air.std()
    else:
        wave = noise_of(kind, n, rng)
    return (wave / np.abs(wave).max() * 10 ** (peak_dbfs / 20)).astype(np.float32)


@pytest.mark.parametrize("kind", ("white", "pink", "brown", "fan"))
def test_noise_alone_is_refused_at_every_level(predictor, tmp_path, kind):
    """5 s of brown noise at a moderate level used to be read as a sad voice."""
    for level in NOISE_LEVELS_DBFS:
        path = tmp_path / f"{kind}-{-level}dB.wav"
        soundfile.write(str(path), noise_only(kind, level), RATE)
        result = predictor.predict(path, modality="audio")
        assert result["audio"] is None and "no speech detected" in (result["error"] or ""), (level, result)


def test_the_cli_says_no_speech_for_a_tone_in_one_line(non_speech):
    proc = subprocess.run([sys.executable, "-m", "avemo", "predict", "--format", "jsonl", str(non_speech["tone"]),
                           str(non_speech["white noise"])], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 2 and all("no speech detected" in r["error"] for r in lines), proc.stdout[-2000:]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr


def test_the_app_api_says_no_speech_for_beeps(app_server, non_speech):
    from gradio_client import Client, handle_file

    client = Client(app_server.url, download_files=False, verbose=False)
    result = client.predict(handle_file(str(non_speech["beeps"])), api_name="/predict")
    assert result["audio"] is None and "no speech detected" in result["error"]
