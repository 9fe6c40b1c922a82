"""Screen what helps the voice hold beyond its corpora, on the protocols of train.audio.

    python -m train.voice_screen speech        # the speech expert: data, augmentation, normalisation, encoders, C
    python -m train.voice_screen layers        # each hidden state of each Whisper encoder alone
    python -m train.voice_screen combination   # which experts at which weights, and class priors (saved runs only)
    python -m train.voice_screen report        # the tables again, from what is saved

Every variant is a recipe (avemo.audio.training.AudioTrainingConfig) run through avemo.audio.experiments and
scored where the product must hold:
- across corpora: trained on two of RAVDESS, SAVEE and EmoDB, UAR on the third's own classes (the criterion);
- within them: RAVDESS, SAVEE and EmoDB on the 4 speaker folds (fold-mean accuracy);
- in noise: RAVDESS's held-out actors with pink noise and a babble at 10 dB SNR, and through Opus at 24 kbit/s.
Runs are cached under runs/voice, so a screen resumes where it stopped and a variant shared by two screens is
trained once. A choice is never scored on what made it: each held-out corpus is also given the variant that the
*other two* held-out corpora score best (the blind pick), and the table says when that pick differs.
Results: runs/voice/screen.json (read by the audio card).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from avemo.audio.protocols import CORPORA
from avemo.audio.training import AudioTrainingConfig
from avemo.config import data_dir

SCREEN_FILE = Path(__file__).resolve().parent.parent / "runs" / "voice" / "screen.json"
NOISY = ("pink@10dB", "babble@10dB", "opus")
# The starting point: v0.9.0's speech expert, on all three corpora.
BASE = AudioTrainingConfig(corpora=CORPORA, balance="class", augment_copies=0, speech_states="all",
                           speech_normalise="none", speech_c=0.03)
SPEECH_VARIANTS = {
    "all three corpora (v0.9.0's speech expert)": BASE,
    "corpora weighed equally per emotion": replace(BASE, balance="class+corpus"),
    "one degraded copy of each clip": replace(BASE, augment_copies=1),
    "two degraded copies of each clip": replace(BASE, augment_copies=2),
    "each clip's statistics standardised on their own": replace(BASE, speech_normalise="clip"),
    "C = 0.01": replace(BASE, speech_c=0.01),
    "C = 0.1": replace(BASE, speech_c=0.1),
    "Whisper tiny.en alone (English only)": replace(BASE, speech_states="whisper-tiny.en"),
    "Whisper base alone (multilingual)": replace(BASE, speech_states="whisper-base"),
    "the clips as recorded only (no speed copies)": replace(BASE, speeds=(1.0,)),
    # The middle layers carry the most that transfers across corpora (train.voice_screen layers):
    "middle states: tiny.en 2-3, base 2-4": replace(BASE, speech_states="whisper-tiny.en:2-3,whisper-base:2-4"),
    "middle states: tiny.en 2, base 3": replace(BASE, speech_states="whisper-tiny.en:2,whisper-base:3"),
    "lower and middle states: tiny.en 1-3, base 1-4": replace(BASE, speech_states="whisper-tiny.en:1-3,whisper-base:1-4"),
}
MIDDLE = replace(BASE, speech_states="whisper-tiny.en:2-3,whisper-base:2-4")
SPEECH_VARIANTS |= {
    "middle states, each clip standardised on its own": replace(MIDDLE, speech_normalise="clip"),
    "middle states, C = 0.1": replace(MIDDLE, speech_c=0.1),
    "middle states, C = 0.01": replace(MIDDLE, speech_c=0.01),
    "middle states, corpora weighed equally per emotion": replace(MIDDLE, balance="class+corpus"),
    "middle states, as recorded only": replace(MIDDLE, speeds=(1.0,)),
    "middle states, clip-standardised, one degraded copy of each clip": replace(MIDDLE, speech_normalise="clip",
                                                                               augment_copies=1),
}


def score(run, experts=("speech",), weights=None, conditions=NOISY, quiet_prior: float = 0.0) -> dict:
    """A recipe's figures on the screen's three questions, from its saved runs."""
    from avemo.audio.experiments import corpus_scores

    def scores(protocol, condition="clean"):
        return corpus_scores(run, protocol, condition, experts, weights, quiet_prior=quiet_prior)

    cross = {corpus: scores(f"cross-{corpus}")[corpus]["pooled"]["uar"] for corpus in CORPORA}
    if not run.scored_under("speakers", conditions[-1] if conditions else "clean", experts):
        # (`screen speech --saved-only`: a variant run across corpora only; its other columns stay empty)
        return {"cross_corpus_uar": cross, "cross_corpus_mean": float(np.mean(list(cross.values()))),
                "in_corpus_accuracy": {}, "noisy_ravdess_accuracy": {}}
    within = {corpus: s["fold_mean_std"]["accuracy"][0] for corpus, s in scores("speakers").items()}
    noisy = {condition: scores("speakers", condition)["ravdess"]["fold_mean_std"]["accuracy"][0]
             for condition in conditions}
    return {"cross_corpus_uar": cross, "cross_corpus_mean": float(np.mean(list(cross.values()))),
            "in_corpus_accuracy": within, "noisy_ravdess_accuracy": noisy}


def run_variant(root: Path, hp, experts=("speech",), conditions=NOISY):
    """Train (what is not saved yet) and score one recipe's experts."""
    from avemo.audio.experiments import ExperimentRun

    run = ExperimentRun(root, hp)
    for corpus in CORPORA:
        run.protocol(f"cross-{corpus}", experts)
    run.protocol("speakers", experts, conditions=("clean", *conditions))
    return run


def blind_picks(results: dict[str, dict]) -> dict:
    """For each held-out corpus: the variant the other two held-out corpora score best, and its UAR there."""
    picks = {}
    for corpus in CORPORA:
        others = [c for c in CORPORA if c != corpus]
        chosen = max(results, key=lambda name: np.mean([results[name]["cross_corpus_uar"][c] for c in others]))
        picks[corpus] = {"variant": chosen, "uar": results[chosen]["cross_corpus_uar"][corpus]}
    return picks


def print_rows(results: dict[str, dict]) -> None:
    header = ("variant", *(f"x-{c}" for c in CORPORA), "x-mean", *(f"in-{c}" for c in CORPORA), *NOISY)
    print(" | ".join(header))
    for name, r in results.items():
        cells = [*(r["cross_corpus_uar"][c] for c in CORPORA), r["cross_corpus_mean"],
                 *(r["in_corpus_accuracy"].get(c, float("nan")) for c in CORPORA),
                 *(r["noisy_ravdess_accuracy"].get(c, float("nan")) for c in NOISY)]
        print(f"{name} | " + " | ".join(f"{100 * v:.1f}" for v in cells), flush=True)


def save(section: str, results: dict) -> None:
    saved = json.loads(SCREEN_FILE.read_text()) if SCREEN_FILE.exists() else {}
    saved[section] = results
    SCREEN_FILE.parent.mkdir(parents=True, exist_ok=True)
    SCREEN_FILE.write_text(json.dumps(saved, indent=1) + "\n")


def screen_speech(root: Path, variants: dict = SPEECH_VARIANTS, saved_only: bool = False) -> dict:
    """Each variant of the speech expert trained (unless saved) and scored; with `saved_only`, nothing is trained
    and a variant is scored on what its saved runs hold (the cross-corpus criterion at least)."""
    from avemo.audio.experiments import ExperimentRun

    results = {}
    for name, hp in variants.items():
        print(f"\n== {name}", flush=True)
        run = ExperimentRun(root, hp) if saved_only else run_variant(root, hp)
        try:
            results[name] = {**score(run), "recipe": hp.to_dict()}
        except FileNotFoundError:
            print("(not run)")
            continue
        print_rows({name: results[name]})
    picks = blind_picks(results)
    print_rows(results)
    print("blind picks:", json.dumps(picks, indent=1))
    save("speech", {"variants": results, "blind_picks": picks})
    return results


def screen_layers(root: Path, base=BASE) -> dict:
    """Each hidden state of each encoder alone, across corpora (the expert reads only that state's statistics)."""
    from avemo.audio.experiments import ExperimentRun, corpus_scores
    from avemo.audio.speech_encoder import pinned
    from avemo.config import SPEECH_ENCODER

    results = {}
    for encoder in SPEECH_ENCODER.encoders:
        for state in range(pinned(encoder).n_states):
            hp = replace(base, speech_states=f"{encoder}:{state}")
            run = ExperimentRun(root, hp)
            cross = {}
            for corpus in CORPORA:
                run.protocol(f"cross-{corpus}", ("speech",))
                cross[corpus] = corpus_scores(run, f"cross-{corpus}", "clean", ("speech",))[corpus]["pooled"]["uar"]
            results[f"{encoder}:{state}"] = {"cross_corpus_uar": cross,
                                             "cross_corpus_mean": float(np.mean(list(cross.values())))}
            print(f"{encoder} state {state}: " + ", ".join(f"{c} {100 * v:.1f}" for c, v in cross.items())
                  + f", mean {100 * results[f'{encoder}:{state}']['cross_corpus_mean']:.1f}", flush=True)
    save("layers", results)
    return results


COMBINATIONS = {  # which experts, at which weights, on the recipe's data (the functionals expert weighs 1)
    "speech": {"speech": 1.0},
    "speech + functionals, 1.5 : 1": {"speech": 1.5, "functionals": 1.0},
    "speech + functionals, 3 : 1": {"speech": 3.0, "functionals": 1.0},
    "speech + functionals, 6 : 1": {"speech": 6.0, "functionals": 1.0},
}
# The frame CNN and the descriptor expert train for minutes a fold (the others in seconds): they were compared
# across corpora on v0.9.0's recipe, whose runs hold all four experts.
V0_9_0_COMBINATIONS = {
    "v0.9.0's four at its weights": {"speech": 3.0, "functionals": 1.0, "descriptors": 0.5, "frames": 1.0},
    "speech + functionals + descriptors": {"speech": 3.0, "functionals": 1.0, "descriptors": 0.5},
    "speech + functionals": {"speech": 3.0, "functionals": 1.0},
    "speech + frame CNN": {"speech": 3.0, "frames": 1.0},
    "speech": {"speech": 1.0},
    "frame CNN": {"frames": 1.0},
    "functionals": {"functionals": 1.0},
    "descriptors": {"descriptors": 1.0},
}
# A prior for the quiet emotions, added to their log-probabilities: plain speech was mostly read as fearful or
# surprised; does leaning towards neutral and calm undo that without costing the emotions?
NEUTRAL_PRIORS = (0.0, 0.5, 1.0)


def neutral_as_aroused(run, corpus: str, weights: dict, prior: float) -> float:
    """The share of a held-out corpus's neutral clips read (as the user sees it) as fearful or surprised."""
    from avemo.config import EMOTIONS

    index, logits = run.product_logits(f"cross-{corpus}", "clean", tuple(weights), weights, prior)
    neutral = (run.labels[index] == EMOTIONS.index("neutral")) & (run.corpus[index] == corpus)
    shown = logits[neutral].argmax(axis=1)
    return float(np.isin(shown, [EMOTIONS.index("fearful"), EMOTIONS.index("surprised")]).mean())


def cross_corpus_only(run, combinations: dict) -> dict:
    """Held-out-corpus UAR of each combination, from a run's saved cross-corpus outputs."""
    from avemo.audio.experiments import corpus_scores

    results = {}
    for name, weights in combinations.items():
        cross = {c: corpus_scores(run, f"cross-{c}", "clean", tuple(weights), weights)[c]["pooled"]["uar"]
                 for c in CORPORA}
        results[name] = {"cross_corpus_uar": cross, "cross_corpus_mean": float(np.mean(list(cross.values())))}
    return results


def screen_combination(root: Path, hp) -> dict:
    """The experts of the data recipe `hp` on the screen's protocols, then their combinations and priors, scored
    from the saved outputs (no training per combination); and all four experts across corpora on v0.9.0's
    recipe (its saved runs, train.audio cross-corpus --recipe "v0.9.0, detector's span")."""
    from train.audio import run_of

    experts = tuple(sorted({expert for weights in COMBINATIONS.values() for expert in weights}))
    run = run_variant(root, hp, experts=experts)
    results = {}
    for name, weights in COMBINATIONS.items():
        for prior in NEUTRAL_PRIORS:
            label = name + (f", neutral and calm +{prior:g}" if prior else "")
            results[label] = {**score(run, tuple(weights), weights, quiet_prior=prior),
                              "neutral_read_as_fearful_or_surprised": {
                                  c: neutral_as_aroused(run, c, weights, prior) for c in CORPORA},
                              "experts": weights, "quiet_prior": prior}
    picks = blind_picks(results)
    print_rows(results)
    print("blind picks:", json.dumps(picks, indent=1))
    try:
        before = cross_corpus_only(run_of(root, "v0.9.0, detector's span"), V0_9_0_COMBINATIONS)
    except FileNotFoundError:
        before = {}
        print("(no cross-corpus runs of v0.9.0's recipe: its combinations are left out)")
    for name, r in before.items():
        print(f"v0.9.0's data, {name}: " + ", ".join(f"{c} {100 * v:.1f}" for c, v in r["cross_corpus_uar"].items())
              + f", mean {100 * r['cross_corpus_mean']:.1f}")
    save("combination", {"variants": results, "blind_picks": picks, "recipe": hp.to_dict(), "v0.9.0": before})
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["speech", "layers", "combination", "report"])
    parser.add_argument("--data-dir")
    parser.add_argument("--only", action="append", help="speech: only these variants (by name)")
    parser.add_argument("--saved-only", action="store_true", help="speech: train nothing, score what is saved")
    args = parser.parse_args(argv)
    root = data_dir(args.data_dir)
    if args.stage == "speech":
        chosen = {k: v for k, v in SPEECH_VARIANTS.items() if not args.only or k in args.only}
        screen_speech(root, chosen, args.saved_only)
    elif args.stage == "layers":
        screen_layers(root)
    elif args.stage == "combination":
        from train.audio import RECIPES

        screen_combination(root, RECIPES["shipped"])
    else:
        saved = json.loads(SCREEN_FILE.read_text())
        print_rows(saved["speech"]["variants"])


if __name__ == "__main__":
    main()
