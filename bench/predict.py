"""Benchmark of `avemo.predict` on the audio path: prints figures, asserts nothing.

    python -m bench.predict [--runs 30] [--clip PATH]

Model load time, feature extraction per clip (decode + trim + log-mel; the openSMILE functionals and
descriptors and the Whisper encoder's statistics of the trimmed speech on their own lines), warm end-to-end predict on a 3-4 s clip (median and 90th percentile of many runs), fusion overhead, and peak resident memory.
"""
from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

from bench.timing import median_ms, timed

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("AVEMO_OFFLINE", "1")


def main() -> None:
    from avemo.config import data_dir

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--clip", type=Path,
                        default=data_dir() / "ravdess" / "audio" / "Actor_01" / "03-01-05-02-01-01-01.flac")
    args = parser.parse_args()

    start = time.perf_counter()
    from avemo.predict import Predictor
    predictor = Predictor()
    load_seconds = time.perf_counter() - start

    from avemo.audio.features import spectral_frames, trim_silence
    from avemo.audio.functionals import descriptors, functionals
    from avemo.fusion.rule import fuse
    from avemo.media import load_audio
    from avemo.audio.speech_encoder import speech_representation

    voice = predictor.audio_model  # avemo.audio.analysis.VoiceAnalyzer
    cfg = voice.cfg

    def extract():  # decoding, trimming and (for a frame CNN) the spectral frames
        waveform, _ = load_audio(args.clip, cfg.sample_rate)
        speech = trim_silence(waveform, cfg)[0]
        return spectral_frames(speech, cfg) if voice.folder.model is not None else speech

    speech = trim_silence(load_audio(args.clip, cfg.sample_rate)[0], cfg)[0]
    predictor.predict(args.clip)  # warm-up: the first call plans the sessions' memory
    result = predictor.predict(args.clip)
    audio = result["audio"]
    duration = load_audio(args.clip, cfg.sample_rate)[0].size / cfg.sample_rate
    experts = [name for name in ("model", "functionals", "descriptors", "speech") if getattr(voice.folder, name) is not None]

    print(f"clip: {args.clip.name} ({duration:.2f} s, {len(audio['timeline'])} window(s)); voice experts: "
          + ", ".join(experts).replace("model", "frame CNN"))
    print(f"weights: {predictor.origin}")
    print(f"model load (import + audio/video/fusion models): {load_seconds:6.2f} s")
    print(f"decoding and trimming per clip: {median_ms(timed(extract, args.runs))}")
    if voice.folder.functionals is not None:
        print(f"functionals (openSMILE):      {median_ms(timed(lambda: functionals(speech, voice.functionals_cfg), args.runs))}")
    if voice.folder.descriptors is not None:
        print(f"descriptors (openSMILE):      {median_ms(timed(lambda: descriptors(speech, voice.functionals_cfg), args.runs))}")
    if voice.folder.speech is not None:
        print(f"speech encoder (Whisper):     {median_ms(timed(lambda: speech_representation(speech, voice.speech_cfg), args.runs))}")
    print(f"warm predict, audio only:     {median_ms(timed(lambda: predictor.predict(args.clip, 'audio'), args.runs))}")
    print(f"fusion step alone:            {median_ms(timed(lambda: fuse(audio, audio, predictor.fusion), args.runs * 10))}")
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          f"load average {os.getloadavg()[0]:.1f} (2 cores)")


if __name__ == "__main__":
    main()
