"""The voice beyond its studio: EmoDB read in place, the degradations the voice is measured and trained under,
the cross-corpus protocol end to end on a handful of real clips of each corpus, and real clips through noise
and a browser's codec into `predict`."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile

from avemo.config import EMOTIONS, WEIGHTS_DIR

try:
    from tests import clips
except ImportError:
    import clips

HAVE_EMODB = (clips.DATA / "emodb" / "audio").is_dir()
needs_data = pytest.mark.skipif(not (clips.HAVE_DATA and HAVE_EMODB), reason=clips.SKIP_REASON)
RATE = 16_000


# -- EmoDB --------------------------------------------------------------------------------------------------
def test_emodb_names_are_parsed_as_released():
    from avemo.corpora import parse_emodb_name

    assert parse_emodb_name("03a01Fa") == {"speaker": "03", "text": "a01", "emotion": "happy", "version": "a"}
    assert parse_emodb_name("16b10Wb")["emotion"] == "angry"
    assert parse_emodb_name("08a02Lc")["emotion"] == "boredom"
    assert parse_emodb_name("03a01Xa") is None and parse_emodb_name("DC_a01") is None


@needs_data
def test_emodb_is_read_in_place_with_its_speakers_and_without_boredom():
    from avemo.corpora import scan_emodb, speaker_sex

    report = scan_emodb(clips.DATA)
    assert len(report.clips) == 454 and len(report.skipped) == 81  # the 81 boredom clips, said so
    assert all("boredom" in reason for _, reason in report.skipped)
    assert {c.path.parent for c in report.clips} == {clips.DATA / "emodb" / "audio"}  # in place, not copied
    speakers = {c.speaker for c in report.clips}
    assert len(speakers) == 10 and {speaker_sex(s) for s in speakers} == {"male", "female"}
    assert sum(speaker_sex(s) == "male" for s in speakers) == 5
    assert {c.emotion for c in report.clips} == set(EMOTIONS) - {"calm", "surprised"}
    assert len(scan_emodb(clips.DATA, include_boredom=True).clips) == 535


# -- scoring on a corpus's own classes ------------------------------------------------------------------------
def test_a_corpus_is_scored_on_its_own_classes():
    from avemo.audio.protocols import corpus_emotions, corpus_report, predicted_emotions

    calm, neutral, surprised, sad = (EMOTIONS.index(e) for e in ("calm", "neutral", "surprised", "sad"))
    probs = np.full((3, len(EMOTIONS)), 0.02)
    probs[0, calm] = 0.5                         # calm, the answer the product shows
    probs[1, surprised], probs[1, sad] = 0.5, 0.3   # surprised, which EmoDB does not have
    probs[2, calm], probs[2, neutral], probs[2, sad] = 0.3, 0.2, 0.4  # calm + neutral outweigh sad
    assert corpus_emotions("emodb") == ("neutral", "happy", "sad", "angry", "fearful", "disgust")
    shown = predicted_emotions(probs, "emodb", "as shown")
    assert shown.tolist() == [neutral, surprised, sad]  # calm counts as neutral, surprised stays (wrong)
    own = predicted_emotions(probs, "emodb", "own classes")
    assert own.tolist() == [neutral, sad, neutral]
    assert predicted_emotions(probs, "ravdess", "own classes").tolist() == [calm, surprised, sad]
    report = corpus_report(probs, np.array([neutral, sad, neutral]), "emodb")
    assert report["accuracy"] == 1.0 and report["labels"] == ["neutral", "sad"]


# -- degradations -------------------------------------------------------------------------------------------
@needs_data
def test_degradations_are_what_they_say_and_the_evaluation_s_seeds_are_its_own():
    from avemo.audio.degradations import (EVALUATION_CONDITIONS, Degradation, active_power, degrade,
                                          evaluation_degradation, training_degradation)
    from avemo.media import load_audio

    speech = load_audio(clips.ravdess_clip(actor=3, emotion=3), RATE)[0]
    pool = [str(clips.savee_clip(name)) for name in ("DC_a01", "JE_h02", "JK_n03", "KL_sa04", "DC_su05", "JE_f06")]
    load = lambda path: load_audio(path, RATE)[0]  # noqa: E731
    for condition in EVALUATION_CONDITIONS[1:]:
        degradation = evaluation_degradation(condition, "03-01-03-02-01-01-03", pool)
        out = degrade(speech, RATE, degradation, load)
        assert out.shape == speech.shape and out.dtype == np.float32 and np.abs(out).max() <= 1.0
        assert degrade(speech, RATE, degradation, load).tobytes() == out.tobytes()  # the same every run
        if degradation.snr_db is not None:
            snr = 10 * np.log10(active_power(speech, RATE) / np.mean((out - speech) ** 2))
            assert abs(snr - degradation.snr_db) < 0.5, (condition, snr)
    telephone = degrade(speech, RATE, Degradation("telephone"))
    spectrum, freqs = np.abs(np.fft.rfft(telephone)), np.fft.rfftfreq(telephone.size, 1 / RATE)
    assert spectrum[freqs > 4200].sum() < 1e-3 * spectrum.sum()  # nothing above the 8 kHz rate's band
    # Training copies never draw the evaluation's noise.
    evaluation = {evaluation_degradation(c, "clip", pool).seed for c in EVALUATION_CONDITIONS[1:]}
    training = {training_degradation("clip", copy, pool).seed for copy in range(20)}
    assert not evaluation & training


# -- the cross-corpus protocol, end to end ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_corpora(tmp_path_factory):
    """Two speakers of each corpus, a take or two of each of their emotions, linked in place under one root."""
    from avemo.audio.protocols import load_clips

    root = tmp_path_factory.mktemp("corpora")
    picked: dict[tuple, int] = {}
    for clip in load_clips(clips.DATA, verbose=False):
        speaker_rank = {"ravdess": ("ravdess-01", "ravdess-04"), "savee": ("savee-DC", "savee-JK"),
                        "emodb": ("emodb-03", "emodb-08")}[clip.corpus]
        key = (clip.speaker, clip.emotion)
        if clip.speaker not in speaker_rank or picked.get(key, 0) >= 1:
            continue
        picked[key] = picked.get(key, 0) + 1
        relative = clip.path.relative_to(clips.DATA)
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).symlink_to(clip.path)
    return root


@needs_data
def test_the_cross_corpus_protocol_trains_on_two_corpora_and_scores_the_third(tiny_corpora, tmp_path, monkeypatch):
    import train.audio as train_audio
    from avemo.audio import experiments
    from avemo.audio.experiments import ExperimentRun, corpus_scores
    from avemo.audio.training import AudioTrainingConfig

    monkeypatch.setenv("AVEMO_CACHE", str(tmp_path / "cache"))
    hp = AudioTrainingConfig(corpora=("ravdess", "savee", "emodb"), balance="class+corpus", augment_copies=1,
                             speeds=(1.0,), epochs=1, batch_size=8, filters=(4, 4, 8, 8), descriptors_epochs=1,
                             descriptors_filters=(4, 4))
    run = ExperimentRun(tiny_corpora, hp, runs_dir=tmp_path / "runs")
    for held_out in ("ravdess", "savee", "emodb"):
        train, test = run.fold_clips(f"cross-{held_out}", 0)
        assert held_out not in set(run.corpus[train]) and set(run.corpus[test]) == {held_out}
        assert len(set(run.corpus[train])) == 2
        run.protocol(f"cross-{held_out}")

    tables = train_audio.cross_corpus_scores(run)
    for corpus in ("ravdess", "savee", "emodb"):
        for scoring in ("own classes", "as shown"):
            report = tables[corpus][scoring]
            assert 0.0 <= report["uar"] <= 1.0 and 0.0 <= report["macro_f1"] <= 1.0
            assert np.asarray(report["confusion"]).sum() == report["n"] == (run.corpus == corpus).sum()
        assert "calm" not in tables[corpus]["own classes"]["labels"] or corpus == "ravdess"
    emodb = corpus_scores(run, "cross-emodb")["emodb"]["pooled"]
    assert set(emodb["labels"]) <= {"neutral", "happy", "sad", "angry", "fearful", "disgust"}

    # Saved: a second run trains nothing.
    monkeypatch.setattr(experiments, "train_expert", lambda *a, **k: pytest.fail("trained again"))
    ExperimentRun(tiny_corpora, hp, runs_dir=tmp_path / "runs").protocol("cross-emodb")


@needs_data
def test_a_fold_is_scored_under_noise_on_ravdess_clips_with_a_babble_of_other_corpora(tiny_corpora, tmp_path,
                                                                                        monkeypatch):
    from avemo.audio.experiments import ExperimentRun, condition_variants, refused_under
    from avemo.audio.training import AudioTrainingConfig

    monkeypatch.setenv("AVEMO_CACHE", str(tmp_path / "cache"))
    run = ExperimentRun(tiny_corpora, AudioTrainingConfig(speeds=(1.0,)), runs_dir=tmp_path / "runs")
    saved = run.fold_expert("speakers", 0, "speech", ("clean", "babble@10dB"))
    _, test = run.fold_clips("speakers", 0)
    assert len(saved["index:clean"]) == len(test)
    assert set(run.corpus[saved["index:babble@10dB"]]) == {"ravdess"}
    assert saved["logits:babble@10dB"].shape == (len(saved["index:babble@10dB"]), len(EMOTIONS))
    ravdess = [c for c in run.clips if c.corpus == "ravdess"]
    for (variant,) in condition_variants(ravdess, "babble@10dB", run.clips):
        assert variant.degradation.sources and not any("ravdess" in s for s in variant.degradation.sources)
    refused = refused_under(run, "babble@10dB")
    assert refused.sum() <= 1  # speech at 10 dB SNR stays speech to the gate


# -- real clips through noise and a browser's codec ------------------------------------------------------------
@pytest.fixture(scope="module")
def predictor():
    from avemo.predict import Predictor

    return Predictor({"audio": WEIGHTS_DIR / "audio"})


@needs_data
@pytest.mark.parametrize("noise", ["pink", "babble"])
def test_speech_with_noise_at_10_db_is_kept_and_read(predictor, tmp_path, noise):
    from avemo.audio.degradations import Degradation, degrade
    from avemo.media import load_audio

    speech = load_audio(clips.ravdess_clip(actor=5, emotion=5), RATE)[0]
    talkers = tuple(str(clips.savee_clip(n)) for n in ("DC_n01", "JE_n02", "JK_n03", "KL_n04", "DC_h05", "JE_sa06"))
    noisy = degrade(speech, RATE, Degradation(noise, 10.0, seed=3, sources=talkers if noise == "babble" else ()),
                    lambda path: load_audio(path, RATE)[0])
    path = tmp_path / f"angry-{noise}-10dB.wav"
    soundfile.write(str(path), noisy, RATE)
    result = predictor.predict(path, modality="audio")
    assert result["error"] is None, result["error"]
    assert result["audio"]["label"] in EMOTIONS and result["audio"]["speech_found_by"] == "speech detector"
    if noise == "pink":  # the experts read the speech the detector heard, not the noise around it (a babble is speech)
        assert result["audio"]["trimmed_seconds"] < 0.8 * len(noisy) / RATE


@needs_data
def test_a_browser_recording_opus_in_webm_goes_through_predict(predictor, tmp_path):
    source = clips.ravdess_clip(actor=7, emotion=3)
    recording = tmp_path / "recording.webm"
    clips.run_ffmpeg("-i", str(source), "-c:a", "libopus", "-b:a", "24k", str(recording))
    result = predictor.predict(recording, modality="audio")
    assert result["error"] is None, result["error"]
    assert result["audio"]["label"] in EMOTIONS and sum(result["audio"]["probs"].values()) == pytest.approx(1, abs=1e-3)
