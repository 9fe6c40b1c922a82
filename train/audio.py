"""Train and measure the voice model: speaker-independently within its corpora, on whole corpora it never
heard, and under noise, reverberation and codecs.

    python -m train.audio evaluate     [--recipe R] [--protocol P ...]  # in-corpus folds (resumable, cached)
    python -m train.audio cross-corpus [--recipe R]                     # train on two corpora, score the third
    python -m train.audio robustness   [--recipe R]                     # RAVDESS folds under every degradation
    python -m train.audio report       [--recipe R]                     # the tables, from what is saved
    python -m train.audio final                                         # the product -> weights/audio, its card
    python -m train.audio card                                          # the card again (evaluation.json, the runs)
    python -m train.audio vad                                           # the speech gate into the folder, measured

A recipe is an avemo.audio.training.AudioTrainingConfig: "shipped" (the defaults) or "v0.9.0" (the recipe
before EmoDB, augmentation and corpus balance: the baseline row of every table). The protocols and the
scoring on each corpus's own classes are avemo.audio.protocols'; the runs, avemo.audio.experiments'.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from avemo.audio.degradations import EVALUATION_CONDITIONS
from avemo.audio.protocols import CORPORA, PROTOCOLS, SCORINGS
from avemo.audio.training import AudioTrainingConfig
from avemo.config import DESCRIPTORS, EMOTIONS, FUNCTIONALS, SPEECH_ENCODER, WEIGHTS_DIR, data_dir

# The recipe of v0.9.0, spelled out so that it stays the baseline whatever the defaults become.
V0_9_0 = AudioTrainingConfig(corpora=("ravdess", "savee"), balance="class", augment_copies=0,
                             experts=("frames", "functionals", "descriptors", "speech"), descriptors_weight=0.5,
                             speech_weight=3.0, speech_c=0.03, speech_states="all", speech_normalise="none")
RECIPES = {"shipped": AudioTrainingConfig(), "v0.9.0": V0_9_0, "v0.9.0, detector's span": V0_9_0}
# v0.9.0 read the energy trim of a clip (AudioFeatureConfig.trim): its runs do too, so that its row is that model's;
# the same recipe reading the speech detector's span tells the two changes apart.
TRIMMING = {"shipped": "speech detector", "v0.9.0": "energy", "v0.9.0, detector's span": "speech detector"}
IN_CORPUS = {"ravdess": "speakers", "savee": "speakers", "emodb": "emodb-loso"}  # each corpus's own protocol
CROSS_CORPUS = tuple(f"cross-{corpus}" for corpus in CORPORA)


def run_of(root: Path, recipe: str, verbose: int = 0):
    from dataclasses import replace

    from avemo.audio.experiments import ExperimentRun
    from avemo.audio.extraction import FeatureSettings
    from avemo.config import AUDIO_FEATURES

    settings = FeatureSettings(audio=replace(AUDIO_FEATURES, trim=TRIMMING[recipe]))
    return ExperimentRun(root, RECIPES[recipe], settings, verbose=verbose)


def in_corpus_protocols(hp) -> list[str]:
    return sorted({IN_CORPUS[corpus] for corpus in hp.corpora})


# -- tables ------------------------------------------------------------------------------------------------
def in_corpus_scores(run, scoring: str = "own classes", experts=None, weights=None) -> dict:
    """Each learnt corpus scored under its own protocol (RAVDESS and SAVEE: the 4 speaker folds; EmoDB: leave one
    speaker out)."""
    from avemo.audio.experiments import corpus_scores

    scores = {}
    for protocol in in_corpus_protocols(run.hp):
        for corpus, result in corpus_scores(run, protocol, "clean", experts, weights, scoring).items():
            if IN_CORPUS[corpus] == protocol:
                scores[corpus] = {**result, "protocol": protocol}
    return scores


def cross_corpus_scores(run, experts=None, weights=None) -> dict:
    """{held-out corpus: {scoring: pooled report}} of the recipe trained on the other two."""
    from avemo.audio.experiments import corpus_scores

    return {protocol.removeprefix("cross-"): {
        scoring: corpus_scores(run, protocol, "clean", experts, weights, scoring)[protocol.removeprefix("cross-")]["pooled"]
        for scoring in SCORINGS} for protocol in CROSS_CORPUS}


def robustness_scores(run, experts=None, weights=None) -> dict:
    """{condition: RAVDESS's scores on the 4 speaker folds (a clip the speech gate refuses counts as wrong) and
    the share the gate kept}, for the conditions the recipe's runs were scored under."""
    from avemo.audio.experiments import corpus_scores, refused_under

    table = {}
    for condition in EVALUATION_CONDITIONS:
        if not run.scored_under("speakers", condition, experts):
            continue
        refused = refused_under(run, condition)
        scores = corpus_scores(run, "speakers", condition, experts, weights, "own classes", refused)["ravdess"]
        table[condition] = {**scores, "kept": 1 - scores["refused"] / scores["pooled"]["n"]}
    return table


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def print_tables(root: Path, recipes: list[str]) -> dict:
    """The in-corpus, cross-corpus and robustness tables of the recipes, from their saved runs."""
    tables = {}
    for recipe in recipes:
        run = run_of(root, recipe)
        tables[recipe] = {"in_corpus": in_corpus_scores(run)}
        print(f"\n## {recipe}: in corpus (own classes; fold mean accuracy / pooled UAR / pooled macro-F1)")
        for corpus, s in tables[recipe]["in_corpus"].items():
            print(f"  {corpus:8s} {pct(s['fold_mean_std']['accuracy'][0])}  UAR {pct(s['pooled']['uar'])}  "
                  f"F1 {pct(s['pooled']['macro_f1'])}  ({s['protocol']})")
        try:
            tables[recipe]["cross_corpus"] = cross_corpus_scores(run)
        except FileNotFoundError:
            pass
        else:
            print(f"## {recipe}: cross corpus (UAR / accuracy / macro-F1)")
            for corpus, s in tables[recipe]["cross_corpus"].items():
                print("  " + f"{corpus:8s} " + "  ".join(
                    f"{scoring}: UAR {pct(r['uar'])} acc {pct(r['accuracy'])} F1 {pct(r['macro_f1'])}"
                    for scoring, r in s.items()))
        try:
            tables[recipe]["robustness"] = robustness_scores(run)
        except FileNotFoundError:
            pass
        else:
            print(f"## {recipe}: RAVDESS under degradations (accuracy, refused = wrong; kept by the gate)")
            for condition, s in tables[recipe]["robustness"].items():
                print(f"  {condition:14s} {pct(s['pooled']['accuracy'])}  UAR {pct(s['pooled']['uar'])}  "
                      f"kept {pct(s['kept'])}")
    return tables


# -- the product --------------------------------------------------------------------------------------------
def final(root: Path, out_dir: Path, recipe: str = "shipped") -> None:
    """Train the product model on every clip of the recipe's corpora and write its folder, report and card.

    The temperature and the card's figures come from the recipe's runs under runs/voice; a fresh clone without
    them takes them from the shipped evaluation.json, but only if that evaluation measured this very recipe."""
    from avemo.audio.experiments import training_variants
    from avemo.audio.extraction import extract, stacked
    from avemo.audio.protocols import load_clips
    from avemo.audio.training import (example_weights, train_audio_model, train_descriptors_model,
                                      train_functionals_head, train_speech_head)
    from avemo.models import save_model_folder

    hp = RECIPES[recipe]
    run = run_of(root, recipe)
    recorded = recorded_evaluation(out_dir, hp, run.settings)
    try:
        report = evaluation_report(run)
    except FileNotFoundError:
        if recorded is None:
            raise SystemExit(f"no evaluation of this recipe: run `python -m train.audio evaluate` and "
                             f"`cross-corpus` and `robustness` first (make evaluate)")
        print(f"no runs of this recipe in {run.runs_dir}: the card keeps the recorded evaluation")
        report = recorded
    clips = load_clips(root, tuple(hp.corpora))
    labels = np.array([c.label for c in clips])
    corpora = np.array([c.corpus for c in clips])
    features = extract([c.path for c in clips], training_variants(clips, hp), tuple(hp.experts), run.settings,
                       what="voice features (all clips)")
    weights = example_weights(labels, corpora, hp.balance)
    started = time.time()
    experts = {
        "frames": lambda: train_audio_model(features["frames"], labels, hp, run.settings.audio, 2, weights),
        "functionals": lambda: train_functionals_head(stacked(features["functionals"]), labels, hp, weights),
        "descriptors": lambda: train_descriptors_model(features["descriptors"], labels, hp, DESCRIPTORS, 2, weights),
        "speech": lambda: train_speech_head(stacked(features["speech"]), labels, hp, weights,
                                            run.settings.speech.encoders),
    }
    trained = {name: experts[name]() for name in hp.experts}
    training_seconds = time.time() - started
    config = {"features": run.settings.audio.to_dict(), "functionals": FUNCTIONALS.to_dict(),
              "descriptors": DESCRIPTORS.to_dict(), "speech_encoder": SPEECH_ENCODER.to_dict(),
              "temperature": report["calibration"]["temperature"], "hparams": hp.to_dict(),
              "trained_on": {f"{corpus}_clips": int((corpora == corpus).sum()) for corpus in hp.corpora}}
    save_model_folder(out_dir, trained.get("frames"), list(EMOTIONS), config,
                      **{name: model for name, model in trained.items() if name != "frames"})
    report = {**report, "final_training_seconds": training_seconds, "config": config}
    save_report(out_dir, report)
    print(f"wrote {out_dir}; final training took {training_seconds:.0f} s")


def evaluation_report(run) -> dict:
    """Everything the card shows, from the recipe's saved runs (FileNotFoundError where one is missing). The
    baseline rows are v0.9.0's recipe as it shipped (the energy trim) where those runs exist, else the same recipe
    reading the speech detector's span; `baseline` says which."""
    report = {
        "in_corpus": in_corpus_scores(run),
        "in_corpus_as_shown": in_corpus_scores(run, "as shown"),
        "experts_alone": {expert: in_corpus_scores(run, experts=(expert,)) for expert in run.hp.experts},
        "cross_corpus": cross_corpus_scores(run),
        "robustness": robustness_scores(run),
        "calibration": calibration(run),
        "boredom": boredom_readings(run),
        "recipe": run.hp.to_dict(),
    }
    for name, table in (("in_corpus", in_corpus_scores), ("cross_corpus", cross_corpus_scores),
                        ("robustness", robustness_scores)):
        for recipe in ("v0.9.0", "v0.9.0, detector's span"):
            try:
                scores = table(run_of(run.root, recipe))
            except FileNotFoundError:
                continue
            if scores:
                report[f"{name}_v0.9.0"] = scores
                report.setdefault("baseline", {})[name] = recipe
                break
        else:
            print(f"(no run of v0.9.0's recipe for {name}: its row is left out)")
    from train.voice_screen import SCREEN_FILE

    if SCREEN_FILE.exists():
        report["screen"] = json.loads(SCREEN_FILE.read_text())
    return report


def boredom_readings(run) -> dict:
    """What a model that never heard EmoDB (trained on RAVDESS and SAVEE: the cross-corpus fold) says of EmoDB's
    boredom clips, which no product emotion matches and no protocol scores: the share of each answer shown."""
    from avemo.corpora import scan_emodb

    paths = [clip.path for clip in scan_emodb(run.root, include_boredom=True).clips
             if clip.emotion not in EMOTIONS]
    shown = run.fold_readings("cross-emodb", 0, paths).argmax(axis=1)
    return {"clips": len(paths), "model": "trained on RAVDESS and SAVEE (the cross-corpus fold)",
            "shares": {emotion: float((shown == i).mean()) for i, emotion in enumerate(EMOTIONS)}}


def calibration(run) -> dict:
    """Temperature scaling fitted on the recipe's out-of-fold logits (its in-corpus protocols, as recorded),
    with the expected calibration error before and after."""
    from avemo.evaluation import expected_calibration_error, fit_temperature, reliability_bins
    from avemo.models import softmax

    logits, labels = [], []
    for protocol in in_corpus_protocols(run.hp):
        index, part = run.product_logits(protocol)
        kept = np.array([IN_CORPUS[run.corpus[i]] == protocol for i in index])
        logits.append(part[kept])
        labels.append(run.labels[index[kept]])
    logits, labels = np.concatenate(logits), np.concatenate(labels)
    temperature = fit_temperature(logits, labels)
    return {"temperature": temperature,
            "ece_before": expected_calibration_error(softmax(logits), labels),
            "ece_after": expected_calibration_error(softmax(logits, temperature), labels),
            "bins_before": reliability_bins(softmax(logits), labels),
            "bins_after": reliability_bins(softmax(logits, temperature), labels)}


def recorded_evaluation(out_dir: Path, hp, settings) -> dict | None:
    """The evaluation.json in `out_dir` if it measured exactly this recipe on these features, else None."""
    path = out_dir / "evaluation.json"
    if not path.exists():
        return None
    recorded = json.loads(path.read_text())
    same = (recorded.get("recipe") == json.loads(json.dumps(hp.to_dict()))
            and recorded.get("config", {}).get("features") == settings.audio.to_dict()
            and recorded["config"].get("functionals") == FUNCTIONALS.to_dict()
            and recorded["config"].get("descriptors") == DESCRIPTORS.to_dict()
            and recorded["config"].get("speech_encoder") == SPEECH_ENCODER.to_dict())
    return recorded if same else None


def save_report(out_dir: Path, report: dict) -> None:
    """evaluation.json and the model card written from it."""
    from avemo.audio.card import write_audio_card

    (out_dir / "evaluation.json").write_text(json.dumps(report, indent=1) + "\n")
    write_audio_card(out_dir, report)


def install_voice_activity(out_dir: Path) -> dict:
    """Put Silero VAD's ONNX file (from the pinned silero-vad wheel, hash checked) into the audio model folder,
    measure the speech gate on every corpus clip and on synthetic non-speech (bench.voice_activity), and write
    the figures into the folder (voice_activity.json) and its card."""
    from avemo.audio.voice_activity import SILERO_MEMBER, SILERO_SHA256, SILERO_VERSION, VAD_FILE
    from avemo.cards import write_voice_activity_section
    from bench import voice_activity
    from train.wheels import wheel_member

    (out_dir / VAD_FILE).write_bytes(wheel_member(f"silero-vad=={SILERO_VERSION}", SILERO_MEMBER, SILERO_SHA256))
    figures = voice_activity.main(["--model", str(out_dir / VAD_FILE), "--out", str(out_dir / "voice_activity.json")])
    write_voice_activity_section(out_dir, figures)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["evaluate", "cross-corpus", "robustness", "report", "final", "card", "vad"])
    parser.add_argument("--data-dir", help="folder holding ravdess/, savee/ and emodb/ (default: $AVEMO_DATA or "
                                           "../shared/data)")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="shipped")
    parser.add_argument("--protocol", action="append", choices=PROTOCOLS,
                        help="evaluate: these protocols only (default: the recipe's in-corpus ones)")
    parser.add_argument("--folds", help="evaluate only these folds, e.g. 0,1 (default: all of the protocol's)")
    parser.add_argument("--conditions", help="robustness: only these, e.g. pink@10dB,opus (default: all of "
                                             "avemo.audio.degradations.EVALUATION_CONDITIONS)")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / "audio")
    args = parser.parse_args(argv)
    root = data_dir(args.data_dir)
    folds = [int(f) for f in args.folds.split(",")] if args.folds else None
    if args.stage == "evaluate":
        run = run_of(root, args.recipe, verbose=1)
        for protocol in args.protocol or in_corpus_protocols(run.hp):
            run.protocol(protocol, folds=folds)
        print_tables(root, [args.recipe])
    elif args.stage == "cross-corpus":
        run = run_of(root, args.recipe, verbose=1)
        for protocol in CROSS_CORPUS:
            run.protocol(protocol)
        print_tables(root, [args.recipe])
    elif args.stage == "robustness":
        conditions = ("clean", *args.conditions.split(",")) if args.conditions else EVALUATION_CONDITIONS
        run_of(root, args.recipe, verbose=1).protocol("speakers", conditions=conditions, folds=folds)
        print_tables(root, [args.recipe])
    elif args.stage == "report":
        print_tables(root, [args.recipe])
    elif args.stage == "final":
        final(root, args.out, args.recipe)
    elif args.stage == "card":  # the recorded report, with the runs' figures where they are here (newer)
        run = run_of(root, args.recipe)
        report = recorded_evaluation(args.out, run.hp, run.settings)
        if report is None:  # the folder's model is of another recipe: its own report, as recorded
            report = json.loads((args.out / "evaluation.json").read_text())
        else:
            try:
                report |= evaluation_report(run)
            except FileNotFoundError as missing:
                print(f"the card is written from evaluation.json alone ({missing})")
        save_report(args.out, report)
    else:
        install_voice_activity(args.out)


if __name__ == "__main__":
    main()
