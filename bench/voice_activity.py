"""The product's speech gate (avemo.audio.voice_activity.check_voice: Silero VAD, then the speech-like cue for
what it refuses) measured in both directions; asserts nothing.

    python -m bench.voice_activity [--out weights/audio/voice_activity.json] [--model weights/audio/silero_vad.onnx]

(a) Every RAVDESS, SAVEE and EmoDB clip under AVEMO_DATA must be accepted, as recorded and with pink noise or
    a babble of other voices at 10 dB SNR (avemo.audio.degradations, the evaluation's seeds): prints the
    acceptance rates (by Silero alone, and with the cue), the cue's four measures over all clips and how the
    detected speech seconds compare with the trimmed length.
(b) Non-speech sounds synthesised here with numpy (tones, chords, sweeps, mains hum, a fan's hum in its noise,
    white, pink and brown noise, webcam-test beeps, clicks, a melody, music-like loops), each at five levels,
    must all be refused: prints the refusal rate per kind and the measures of the ones nearest to speech.
Then the margins and the gate's cost per 4 s clip. The figures are also written as JSON.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

RATE = 16_000
MEASURES = ("spectral_change_db", "voiced_share", "steady_pitch", "syllabic_modulation")
SECONDS = 5.0
LEVELS_DBFS = (-3.0, -10.0, -20.0, -30.0, -40.0)  # peak level of each synthetic sound
NOISY_CONDITIONS = ("pink@10dB", "babble@10dB")  # the corpus clips are also measured with these noises added
OUT = Path(__file__).resolve().parent.parent / "runs" / "voice_activity.json"  # (train.audio vad: into weights/audio)


# -- synthetic non-speech ------------------------------------------------------------------------
def _time(seconds: float = SECONDS) -> np.ndarray:
    return np.arange(int(seconds * RATE)) / RATE


def harmonic(freq: float, t: np.ndarray, n_harmonics: int = 1, rolloff: float = 0.6) -> np.ndarray:
    """A periodic tone: harmonics k = 1..n with amplitude rolloff**(k-1)."""
    return sum(rolloff ** (k - 1) * np.sin(2 * np.pi * freq * k * t) for k in range(1, n_harmonics + 1))


def tone(freq: float) -> np.ndarray:
    return np.sin(2 * np.pi * freq * _time())


def chord(freqs: tuple[float, ...], n_harmonics: int = 4) -> np.ndarray:
    t = _time()
    return sum(harmonic(f, t, n_harmonics) for f in freqs)


def sweep(f0: float, f1: float, log: bool = False) -> np.ndarray:
    t = _time()
    if log:
        k = np.log(f1 / f0) / SECONDS
        phase = 2 * np.pi * f0 * (np.exp(k * t) - 1) / k
    else:
        phase = 2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * SECONDS))
    return np.sin(phase)


def hum(mains: float) -> np.ndarray:
    """Mains hum: the fundamental and its first 9 harmonics, odd ones stronger (a transformer's buzz)."""
    t = _time()
    return sum((1.0 if k % 2 else 0.4) / k * np.sin(2 * np.pi * mains * k * t + k) for k in range(1, 11))


def noise(kind: str, seed: int) -> np.ndarray:
    """White, pink or brown noise (avemo.audio.degradations' generators)."""
    from avemo.audio.degradations import noise_of

    return noise_of(kind, int(SECONDS * RATE), np.random.default_rng(seed))


def fan(mains: float, seed: int) -> np.ndarray:
    """A fan: its motor's hum (the mains frequency and harmonics) inside the broadband noise of moving air
    (pink), at equal power."""
    whirr = hum(mains)
    air = noise("pink", seed)
    return whirr / np.std(whirr) + air / np.std(air)


def beeps(freq: float = 1000.0, on: float = 0.2, off: float = 0.2) -> np.ndarray:
    """A webcam / speaker test: `freq` Hz beeps, `on` s each, `off` s apart (5 ms ramps)."""
    t = _time()
    gate = ((t % (on + off)) < on).astype(float)
    ramp = np.convolve(gate, np.ones(80) / 80, mode="same")
    return ramp * np.sin(2 * np.pi * freq * t)


def clicks(every: float = 0.5, seed: int | None = None) -> np.ndarray:
    """Sharp clicks (a 2 ms decaying impulse) every `every` s, or at random times when seeded."""
    n = int(SECONDS * RATE)
    out = np.zeros(n)
    if seed is None:
        starts = np.arange(0, n, int(every * RATE))
    else:
        starts = np.sort(np.random.default_rng(seed).integers(0, n - 64, int(SECONDS / every)))
    click = np.exp(-np.arange(32) / 6.0) * np.sign(np.sin(np.arange(32)))
    for s in starts:
        out[s:s + 32] += click[:n - s]
    return out


def _envelope(n: int, attack: float = 0.02, release: float = 0.15) -> np.ndarray:
    """Attack-decay-sustain-release over n samples (seconds for attack and release)."""
    a, r = int(attack * RATE), int(release * RATE)
    env = np.full(n, 0.7)
    env[:a] = np.linspace(0, 1, a)
    decay = min(int(0.05 * RATE), n - a - r)
    env[a:a + decay] = np.linspace(1, 0.7, decay)
    env[n - r:] *= np.linspace(1, 0, r)
    return env


def melody(instrument_harmonics: int = 6, note_seconds: float = 0.4, vibrato: float = 0.0) -> np.ndarray:
    """A major scale up and down from C4, each note with harmonics and an envelope (vibrato: depth in semitones)."""
    steps = [0, 2, 4, 5, 7, 9, 11, 12, 11, 9, 7, 5, 4, 2, 0]
    n_note = int(note_seconds * RATE)
    t = np.arange(n_note) / RATE
    notes = []
    for step in steps:
        f = 261.63 * 2 ** (step / 12)
        if vibrato:
            inst = f * 2 ** (vibrato / 12 * np.sin(2 * np.pi * 5.5 * t))
            phase = 2 * np.pi * np.cumsum(inst) / RATE
            wave = sum(0.6 ** (k - 1) * np.sin(k * phase) for k in range(1, instrument_harmonics + 1))
        else:
            wave = harmonic(f, t, instrument_harmonics)
        notes.append(wave * _envelope(n_note))
    out = np.concatenate(notes)
    return np.resize(out, int(SECONDS * RATE))


def music(seed: int, bpm: float = 120.0) -> np.ndarray:
    """A pop-like loop: kick (a falling sine) and snare / hi-hat (noise bursts), a bass line and chords."""
    rng = np.random.default_rng(seed)
    n = int(SECONDS * RATE)
    beat = int(60 / bpm * RATE)
    out = np.zeros(n)
    kick_t = np.arange(int(0.15 * RATE)) / RATE
    kick = np.sin(2 * np.pi * (50 * kick_t + 60 * (1 - np.exp(-kick_t * 30)) / 30 * 3)) * np.exp(-kick_t * 25)
    snare = rng.standard_normal(int(0.12 * RATE)) * np.exp(-np.arange(int(0.12 * RATE)) / (0.03 * RATE))
    hat = np.diff(rng.standard_normal(int(0.04 * RATE) + 1)) * np.exp(-np.arange(int(0.04 * RATE)) / (0.008 * RATE))
    for i, start in enumerate(range(0, n, beat // 2)):
        parts = [(hat, 0.3)]
        if i % 4 == 0:
            parts.append((kick, 1.0))
        if i % 4 == 2:
            parts.append((snare, 0.6))
        for part, gain in parts:
            end = min(n, start + part.size)
            out[start:end] += gain * part[:end - start]
    progression = [(130.81, 164.81, 196.00), (110.00, 130.81, 164.81), (87.31, 110.00, 130.81), (98.00, 123.47, 146.83)]
    bar = 4 * beat
    t = np.arange(bar) / RATE
    for b, start in enumerate(range(0, n, bar)):
        root, third, fifth = progression[b % len(progression)]
        chords = sum(harmonic(2 * f, t, 4) for f in (root, third, fifth)) * 0.15
        bass = harmonic(root / 2, t, 3) * 0.5 * np.tile(_envelope(beat), 4)[:bar]
        end = min(n, start + bar)
        out[start:end] += (chords + bass)[:end - start]
    return out


def synthetic_sounds() -> dict[str, list[tuple[str, np.ndarray]]]:
    """{kind: [(variant name, waveform at peak 1.0)]}: every sound is SECONDS long at RATE."""
    return {
        "tone": [(f"{f} Hz", tone(f)) for f in (220, 440, 1000)],
        "chord": [("C major", chord((261.63, 329.63, 392.00))), ("A minor 7", chord((220.0, 261.63, 329.63, 392.0)))],
        "sweep": [("100-4000 Hz linear", sweep(100, 4000)), ("100-8000 Hz log", sweep(100, 8000, log=True)),
                  ("2000-200 Hz linear", sweep(2000, 200))],
        "hum": [("50 Hz", hum(50)), ("60 Hz", hum(60))],
        "white noise": [(f"seed {s}", noise("white", s)) for s in (0, 1)],
        "pink noise": [(f"seed {s}", noise("pink", s)) for s in (0, 1)],
        "brown noise": [(f"seed {s}", noise("brown", s)) for s in (0, 1)],
        "fan": [("50 Hz motor", fan(50, 0)), ("60 Hz motor", fan(60, 1))],
        "beeps": [("1 kHz 0.2 s on/off", beeps()), ("440 Hz 0.5/0.5 s", beeps(440, 0.5, 0.5)),
                  ("1 kHz 0.1/0.9 s", beeps(1000, 0.1, 0.9))],
        "clicks": [("every 0.5 s", clicks()), ("every 0.1 s", clicks(0.1)), ("random", clicks(0.2, seed=3))],
        "melody": [("C major scale, 6 harmonics", melody()), ("C major scale, 12 harmonics, fast", melody(12, 0.2)),
                   ("C major scale, vibrato", melody(6, 0.4, vibrato=0.3))],
        "music": [(f"loop seed {s}, {bpm} bpm", music(s, bpm)) for s, bpm in ((0, 120.0), (1, 96.0), (2, 140.0))],
    }


def at_level(wave: np.ndarray, peak_dbfs: float) -> np.ndarray:
    return (wave / np.max(np.abs(wave)) * 10 ** (peak_dbfs / 20)).astype(np.float32)


# -- the gate, as VoiceAnalyzer.analyse_waveform applies it ----------------------------------------
MODEL = None  # the VAD file measured (set by main)


def gate(waveform: np.ndarray) -> dict:
    """What VoiceAnalyzer.analyse_waveform decides for a 16 kHz waveform: accepted?, by what, detected and
    trimmed seconds, the cue's measures, and why not."""
    from avemo.audio.features import check_speech, trim_silence
    from avemo.audio.voice_activity import (check_voice, segments_from_probabilities, speech_measures,
                                            speech_probabilities, speech_seconds)
    from avemo.config import MIN_SPEECH_SECONDS
    from avemo.media import MediaError

    trimmed, _ = trim_silence(waveform)
    probs = speech_probabilities(waveform, MODEL)
    segments = segments_from_probabilities(probs, waveform.size)
    item = {"trimmed_seconds": round(trimmed.size / RATE, 3), "speech_seconds": round(speech_seconds(segments), 3),
            "max_probability": round(float(probs.max()), 4), "segments": len(segments),
            "vad_accepted": speech_seconds(segments) >= MIN_SPEECH_SECONDS, "accepted": True, "found_by": None,
            "reason": None,
            "measures": ({k: round(v, 4) for k, v in speech_measures(trimmed).items()}
                         if trimmed.size >= RATE // 4 else None)}
    try:
        check_speech(trimmed)  # the loudness and length checks that run before the gate
        item["found_by"] = check_voice(waveform, trimmed, RATE, MODEL)["speech_found_by"]
    except MediaError as error:
        item["accepted"], item["reason"] = False, str(error)
    item["_probs"] = probs  # for threshold_sweep; not written out
    return item


def percentiles(values: list[float]) -> dict:
    a = np.asarray(values, dtype=float)
    return {"min": round(float(a.min()), 3), "p5": round(float(np.percentile(a, 5)), 3),
            "median": round(float(np.median(a)), 3), "p95": round(float(np.percentile(a, 95)), 3),
            "max": round(float(a.max()), 3)}


def corpus_figures(root: Path) -> dict:
    """Every clip of every corpus through the gate, as recorded and with each of NOISY_CONDITIONS."""
    from avemo.audio.degradations import degrade
    from avemo.audio.experiments import babble_pool, condition_variants
    from avemo.audio.protocols import CORPORA, load_clips
    from avemo.media import load_audio

    everyone = load_clips(root, verbose=False)
    figures = {}
    for corpus in CORPORA:
        clips = [c for c in everyone if c.corpus == corpus]
        for condition in ("clean", *NOISY_CONDITIONS):
            variants = ([[None]] * len(clips) if condition == "clean"
                        else [[v.degradation] for (v,) in condition_variants(clips, condition, everyone)])
            items = []
            for clip, (degradation,) in zip(clips, variants):
                waveform = degrade(load_audio(clip.path, RATE)[0], RATE, degradation,
                                   lambda source: load_audio(source, RATE)[0])
                items.append({"clip": clip.path.name, "_samples": waveform.size, **gate(waveform)})
            name = corpus if condition == "clean" else f"{corpus} + {condition}"
            figures[name] = clip_figures(items)
    return figures


def clip_figures(items: list[dict]) -> dict:
    """How the gate did on a set of corpus clips."""
    detected = [i["speech_seconds"] for i in items]
    trimmed = [i["trimmed_seconds"] for i in items]
    worst = min(items, key=lambda i: i["speech_seconds"])
    return {
        "clips": len(items), "accepted": sum(i["accepted"] for i in items),
        "acceptance_rate": round(sum(i["accepted"] for i in items) / len(items), 4),
        "vad_accepted": sum(i["vad_accepted"] for i in items),
        "vad_acceptance_rate": round(sum(i["vad_accepted"] for i in items) / len(items), 4),
        "kept_by_the_cue": [i["clip"] for i in items if i["accepted"] and not i["vad_accepted"]],
        "measures": {key: percentiles([i["measures"][key] for i in items if i["measures"]]) for key in MEASURES},
        "refused": [{k: v for k, v in i.items() if not k.startswith("_")} for i in items if not i["accepted"]],
        "_items": items,
        "speech_seconds": percentiles(detected), "trimmed_seconds": percentiles(trimmed),
        "speech_minus_trimmed_seconds": percentiles([d - t for d, t in zip(detected, trimmed)]),
        "speech_over_trimmed": percentiles([d / t for d, t in zip(detected, trimmed)]),
        "abs_difference_over_0.5_s": sum(abs(d - t) > 0.5 for d, t in zip(detected, trimmed)),
        "segments": percentiles([i["segments"] for i in items]),
        "max_probability": percentiles([i["max_probability"] for i in items]),
        "least_speech": {"clip": worst["clip"], "speech_seconds": worst["speech_seconds"],
                         "trimmed_seconds": worst["trimmed_seconds"], "max_probability": worst["max_probability"]},
        "least_speech_among_accepted": min((i["speech_seconds"] for i in items if i["vad_accepted"]), default=None),
    }


def synthetic_figures() -> dict:
    figures = {}
    for kind, variants in synthetic_sounds().items():
        items = []
        for name, wave in variants:
            for level in LEVELS_DBFS:
                items.append({"sound": name, "peak_dbfs": level, "_samples": wave.size, **gate(at_level(wave, level))})
        most = max(items, key=lambda i: (i["speech_seconds"], i["max_probability"]))
        figures[kind] = {"sounds": len(items), "refused": sum(not i["accepted"] for i in items),
                         "refusal_rate": round(sum(not i["accepted"] for i in items) / len(items), 4),
                         "most_speech": {k: most[k] for k in ("sound", "peak_dbfs", "speech_seconds", "max_probability")},
                         "items": [{k: i[k] for k in ("sound", "peak_dbfs", "speech_seconds", "max_probability", "accepted",
                                                      "measures")} for i in items],
                         "_items": items}
    return figures


def threshold_sweep(corpus_items: list[dict], synthetic_items: list[dict]) -> list[dict]:
    """Corpus clips refused and synthetic sounds accepted by the VAD at lower speech thresholds (the
    silence threshold 0.15 below, the other settings as set), from the probabilities already computed."""
    from avemo.audio import voice_activity as va
    from avemo.config import MIN_SPEECH_SECONDS

    saved = va.SPEECH_THRESHOLD, va.SILENCE_THRESHOLD
    rows = []
    try:
        for threshold in (0.5, 0.4, 0.3, 0.25, 0.2):
            va.SPEECH_THRESHOLD, va.SILENCE_THRESHOLD = threshold, max(threshold - 0.15, 0.01)

            def seconds(item):
                return va.speech_seconds(va.segments_from_probabilities(item["_probs"], item["_samples"]))
            rows.append({"speech_threshold": threshold, "silence_threshold": round(va.SILENCE_THRESHOLD, 2),
                         "corpus_refused": sum(seconds(i) < MIN_SPEECH_SECONDS for i in corpus_items),
                         "synthetic_accepted": sum(seconds(i) >= MIN_SPEECH_SECONDS for i in synthetic_items)})
    finally:
        va.SPEECH_THRESHOLD, va.SILENCE_THRESHOLD = saved
    return rows


def timing(root: Path) -> dict:
    """Milliseconds of speech_segments on a 4 s clip (median of 30 runs after a warm-up), and the first load."""
    from avemo.audio import voice_activity
    from avemo.media import load_audio

    started = time.perf_counter()
    voice_activity.session(MODEL)
    load_ms = 1000 * (time.perf_counter() - started)
    waveform, _ = load_audio(root / "ravdess" / "audio" / "Actor_01" / "03-01-05-02-01-01-01.flac", RATE)
    clip = np.resize(waveform, 4 * RATE)
    voice_activity.speech_segments(clip, RATE, MODEL)
    runs = []
    for _ in range(30):
        started = time.perf_counter()
        voice_activity.speech_segments(clip, RATE, MODEL)
        runs.append(1000 * (time.perf_counter() - started))
    return {"session_load_ms": round(load_ms, 1), "ms_per_4s_clip_median": round(statistics.median(runs), 2),
            "ms_per_4s_clip_max": round(max(runs), 2)}


def main(argv: list[str] | None = None) -> dict:
    from avemo.audio import voice_activity as va
    from avemo.config import MIN_SPEECH_SECONDS, WEIGHTS_DIR, data_dir

    global MODEL
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--model", type=Path, default=WEIGHTS_DIR / "audio" / va.VAD_FILE)
    args = parser.parse_args(argv)
    root = data_dir()
    MODEL = args.model

    import onnxruntime

    settings = {"silero_vad": va.SILERO_VERSION, "onnxruntime": onnxruntime.__version__,
                "speech_threshold": va.SPEECH_THRESHOLD, "silence_threshold": va.SILENCE_THRESHOLD,
                "min_segment_seconds": va.MIN_SEGMENT_SECONDS, "min_silence_seconds": va.MIN_SILENCE_SECONDS,
                "speech_pad_seconds": va.SPEECH_PAD_SECONDS, "min_speech_seconds": MIN_SPEECH_SECONDS,
                "synthetic_levels_dbfs": LEVELS_DBFS, "noisy_conditions": NOISY_CONDITIONS,
                "cue_bounds": {"spectral_change_db": va.SPECTRAL_CHANGE_DB, "min_voiced_share": va.MIN_VOICED_SHARE,
                               "max_steady_pitch": va.MAX_STEADY_PITCH,
                               "min_syllabic_modulation": va.MIN_SYLLABIC_MODULATION}}
    print("settings:", settings)
    cost = timing(root)
    print(f"speech_segments on a 4 s clip: median {cost['ms_per_4s_clip_median']} ms, "
          f"max {cost['ms_per_4s_clip_max']} ms (model load {cost['session_load_ms']} ms)")

    corpora = corpus_figures(root)
    print("\n(a) corpus clips (all must be accepted; with noise at 10 dB, at least 99%)")
    for name, f in corpora.items():
        print(f"  {name}: accepted {f['accepted']}/{f['clips']} ({100 * f['acceptance_rate']:.2f}%); by the VAD alone "
              f"{f['vad_accepted']}/{f['clips']} ({100 * f['vad_acceptance_rate']:.2f}%); kept by the cue: "
              f"{len(f['kept_by_the_cue'])}")
        for key, spread in f["measures"].items():
            print(f"    {key:20s} {spread}")
        print(f"    detected speech s  {f['speech_seconds']}")
        print(f"    trimmed length s   {f['trimmed_seconds']}")
        print(f"    detected - trimmed {f['speech_minus_trimmed_seconds']}  (|diff| > 0.5 s: {f['abs_difference_over_0.5_s']})")
        print(f"    least speech: {f['least_speech']}")
        for item in f["refused"]:
            print(f"    REFUSED {item['clip']}: {item['speech_seconds']:.2f} s of speech (highest chunk probability "
                  f"{item['max_probability']:.2f}), trimmed {item['trimmed_seconds']:.2f} s: {item['reason']}")

    synthetic = synthetic_figures()
    print(f"\n(b) synthetic non-speech, {SECONDS:.0f} s each at peak {LEVELS_DBFS} dBFS (all must be refused)")
    for kind, f in synthetic.items():
        print(f"  {kind:12s} refused {f['refused']}/{f['sounds']} ({100 * f['refusal_rate']:.0f}%)   "
              f"most speech {f['most_speech']['speech_seconds']:.3f} s ({f['most_speech']['sound']}, "
              f"{f['most_speech']['peak_dbfs']} dBFS; highest chunk probability {f['most_speech']['max_probability']:.3f})")
        for item in f["items"]:
            if item["accepted"]:
                print(f"    ACCEPTED {item['sound']} at {item['peak_dbfs']} dBFS: {item['speech_seconds']} s")

    sweep = threshold_sweep([i for f in corpora.values() for i in f.pop("_items")],
                            [i for f in synthetic.values() for i in f.pop("_items")])
    print("\nthe VAD at other thresholds (corpus clips refused / synthetic sounds accepted):")
    for row in sweep:
        print(f"  speech {row['speech_threshold']:.2f}, silence {row['silence_threshold']:.2f}: "
              f"{row['corpus_refused']} / {row['synthetic_accepted']}")

    non_speech_max = max(f["most_speech"]["speech_seconds"] for f in synthetic.values())
    non_speech_prob = max(i["max_probability"] for f in synthetic.values() for i in f["items"])
    corpus_min = min(f["least_speech"]["speech_seconds"] for f in corpora.values())
    corpus_min_prob = min(f["max_probability"]["min"] for f in corpora.values())
    corpus_min_accepted = min(f["least_speech_among_accepted"] for f in corpora.values())
    margins = {"max_speech_seconds_non_speech": non_speech_max, "max_chunk_probability_non_speech": non_speech_prob, "min_speech_seconds_corpus": corpus_min,
               "min_speech_seconds_corpus_accepted": corpus_min_accepted,
               "min_of_max_chunk_probability_corpus": corpus_min_prob, "floor": MIN_SPEECH_SECONDS,
               "all_corpus_accepted": all(f["accepted"] == f["clips"] for name, f in corpora.items() if "+" not in name),
               "min_acceptance_rate_with_noise": min(f["acceptance_rate"] for name, f in corpora.items() if "+" in name),
               "corpus_refused_by_vad": sum(f["clips"] - f["vad_accepted"] for f in corpora.values()),
               "all_non_speech_refused": all(f["refused"] == f["sounds"] for f in synthetic.values())}
    print(f"\nmargins: non-speech got at most {non_speech_max:.3f} s of speech, corpus clips at least "
          f"{corpus_min:.3f} s ({corpus_min_accepted:.3f} s among those the VAD accepts); floor {MIN_SPEECH_SECONDS} s. "
          f"Highest chunk probability: non-speech at most {non_speech_prob:.3f}, corpus clips at least "
          f"{corpus_min_prob:.3f} (speech starts at {va.SPEECH_THRESHOLD}). all corpus accepted: {margins['all_corpus_accepted']}, "
          f"with noise at 10 dB at least {100 * margins['min_acceptance_rate_with_noise']:.1f}% accepted, "
          f"all non-speech refused: {margins['all_non_speech_refused']}")

    result = {"settings": settings, "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
              "timing": cost, "margins": margins, "threshold_sweep": sweep, "corpora": corpora, "synthetic": synthetic}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
