"""Train and evaluate the audio emotion CNN on RAVDESS speech + SAVEE, speaker-independently.

    python -m train.audio evaluate [--kind logmel|mfcc]   # 4-fold CV by speaker, resumable per fold
    python -m train.audio final    [--kind logmel]        # the product model on all data -> weights/audio
    python -m train.audio card                            # rewrite its card from all evaluations so far
    python -m train.audio vad                             # the speech gate: Silero VAD into the folder, measured

Protocol: every speaker of each corpus is dealt to one of 4 folds (avemo.corpora.speaker_folds),
so each fold holds out 5-6 whole RAVDESS actors of both sexes and exactly one SAVEE speaker: one
set of trainings gives RAVDESS grouped 4-fold CV and SAVEE leave-one-speaker-out together. Each
fold's out-of-fold logits (the CNN's, the statistics head's, the functionals head's, the descriptor
expert's, the speech expert's and the product's combination of them) are saved under runs/ and later
fit the calibration temperature. A fold saved by another recipe (features or hyper-parameters) is
trained afresh, all but its CNN where the CNN's own recipe is unchanged.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from avemo.config import (AUDIO_FEATURES, DESCRIPTORS, EMOTIONS, FUNCTIONALS, REPO_ROOT, SPEECH_ENCODER, WEIGHTS_DIR,
                          data_dir)
from avemo.corpora import LUNA_JIMENEZ_2022_FOLDS, published_ravdess_folds, scan_ravdess, scan_savee, speaker_folds

N_FOLDS = 4
# Fold protocols: "speakers" is the project's own (4 folds, RAVDESS actors and SAVEE speakers dealt by sex
# and name); "luna2022" holds out the RAVDESS actor folds of Luna-Jiménez et al. 2022 (5 folds, SAVEE always
# trained on), so that the paired audio-video evaluation (train.fusion) can be set beside their figures.
PROTOCOLS = ("speakers", "luna2022")
RUNS_DIR = REPO_ROOT / "runs"
SPEECH_SCREEN_FILE = RUNS_DIR / "speech-screen" / "screen.json"  # written by train.speech_encoders
# Out-of-fold logits saved per fold: each expert alone (the CNN: its ensemble's members combined), the
# product's frame experts (the CNN, with the statistics head if the recipe has it), the product without the
# descriptor expert (or the speech expert), with the statistics head added (where it leaves it out), with its first CNN only instead
# of the ensemble, and the product. Each member's own logits are saved too (cnn_member_logits).
PARTS = ("cnn_logits", "statistics_logits", "functionals_logits", "descriptors_logits", "speech_logits",
         "frames_logits", "without_descriptors_logits", "without_speech_logits", "with_statistics_logits",
         "single_cnn_logits", "logits")
DONE_KEY = "speech_logits"  # the last expert a fold trains
# Hyper-parameters of the experts beside the CNN: a saved fold that differs only in these keeps its
# CNN's logits (the costly part) and retrains the rest.
OTHER_EXPERTS_HPARAMS = ("statistics_", "functionals_", "descriptors_", "speech_")


def load_corpus(root: Path):
    reports = [scan_ravdess(root), scan_savee(root)]
    for report in reports:
        print(report.summary(), flush=True)
    return [clip for report in reports for clip in report.clips]


def protocol_folds(clips, protocol: str = "speakers") -> np.ndarray:
    """Each clip's fold under a protocol (-1: in every fold's training set)."""
    if protocol == "luna2022":
        return np.array(published_ravdess_folds(clips, LUNA_JIMENEZ_2022_FOLDS))
    return np.array(speaker_folds(clips, N_FOLDS))


def fold_count(protocol: str = "speakers") -> int:
    return len(LUNA_JIMENEZ_2022_FOLDS) if protocol == "luna2022" else N_FOLDS


def fold_file(kind: str, fold: int, protocol: str = "speakers") -> Path:
    folder = f"audio-{kind}" if protocol == "speakers" else f"audio-{kind}-{protocol}"
    return RUNS_DIR / folder / f"fold-{fold}.npz"


def evaluate(root: Path, kind: str, hp, only_folds: list[int] | None = None, protocol: str = "speakers") -> None:
    """Out-of-fold logits of the audio experts and their combination, fold by fold.

    A fold's CNN logits are saved as soon as the CNN is trained, so an interrupted run (or a
    change to the other, cheaper experts only) resumes without retraining the CNN."""
    from avemo.audio.features import extract_features_cached
    from avemo.audio.functionals import extract_descriptors_cached, extract_functionals_cached
    from avemo.models import combine_logits
    from avemo.audio.speech_encoder import extract_speech_cached
    from avemo.audio.training import (clip_logits, descriptors_clip_logits, train_cnn_members, train_descriptors_model,
                                train_functionals_head, train_speech_head, train_statistics_head)

    cfg = replace(AUDIO_FEATURES, kind=kind)
    clips = load_corpus(root)
    labels = np.array([c.label for c in clips])
    folds = protocol_folds(clips, protocol)
    variants = extract_features_cached([c.path for c in clips], cfg, hp.speeds)
    functionals = extract_functionals_cached([c.path for c in clips], FUNCTIONALS, cfg, hp.speeds)
    descriptors = extract_descriptors_cached([c.path for c in clips], FUNCTIONALS, cfg, hp.speeds)
    speech = extract_speech_cached([c.path for c in clips], SPEECH_ENCODER, cfg, hp.speeds)
    for fold in only_folds if only_folds is not None else range(fold_count(protocol)):
        out = fold_file(kind, fold, protocol)
        saved = dict(np.load(out)) if out.exists() else {}
        if saved and not same_recipe(saved, cfg, hp):
            if "cnn_member_logits" in saved and same_recipe(saved, cfg, hp, cnn_only=True):
                print(f"fold {fold}: {out} is another recipe's with the same CNN: the other experts are "
                      "trained afresh", flush=True)
                saved = {key: saved[key] for key in ("cnn_member_logits", "cnn_seconds")}
            else:
                print(f"fold {fold}: {out} is another recipe's, trained afresh", flush=True)
                saved = {}
        if DONE_KEY in saved:
            print(f"fold {fold}: done earlier ({out}), skipped", flush=True)
            continue
        train, test = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        held_out = sorted({clips[i].speaker for i in test})
        print(f"fold {fold}: training on {len(train)} clips, holding out {', '.join(held_out)}", flush=True)
        record = dict(labels=labels[test], index=test, corpus=np.array([clips[i].corpus for i in test]),
                      names=np.array([clips[i].path.stem for i in test]),
                      speaker=np.array([clips[i].speaker for i in test]),
                      hparams=json.dumps(hp.to_dict()), features=json.dumps(cfg.to_dict()),
                      functionals=json.dumps(FUNCTIONALS.to_dict()), descriptors=json.dumps(DESCRIPTORS.to_dict()),
                      speech_encoder=json.dumps(SPEECH_ENCODER.to_dict()))
        test_frames = [variants[i][0] for i in test]  # hp.speeds starts with 1.0: the clips as recorded
        if "cnn_member_logits" in saved:
            print(f"fold {fold}: CNN trained earlier, reusing its logits", flush=True)
            record.update(cnn_member_logits=saved["cnn_member_logits"], cnn_seconds=saved["cnn_seconds"])
        else:
            started = time.time()
            cnns = train_cnn_members([variants[i] for i in train], labels[train], hp, cfg)
            record.update(cnn_member_logits=np.stack([clip_logits(cnn, test_frames, cfg) for cnn in cnns]),
                          cnn_seconds=time.time() - started)
            _save(out, record)
        members = list(record["cnn_member_logits"])
        record.update(cnn_logits=combine_logits(*members))
        started = time.time()
        head = train_statistics_head([variants[i] for i in train], labels[train], hp, cfg)
        record.update(statistics_logits=clip_logits(head, test_frames, cfg))
        functionals_head = train_functionals_head(functionals[train], labels[train], hp)
        record.update(functionals_logits=np.asarray(functionals_head(functionals[test, 0], training=False)))
        descriptors_model = train_descriptors_model([descriptors[i] for i in train], labels[train], hp, DESCRIPTORS)
        record.update(descriptors_logits=descriptors_clip_logits(
            descriptors_model, [descriptors[i][0] for i in test], DESCRIPTORS))
        speech_head = train_speech_head(speech[train], labels[train], hp)
        record.update(speech_logits=np.asarray(speech_head(speech[test, 0], training=False)))
        # As ModelFolder.clip_logits combines them: the frame experts, then the clip-level experts. (For
        # a clip longer than one window, each frame expert's windows are averaged before the two are
        # combined, where the product averages the combined windows: the same for one-window clips.)
        def frames(cnns, statistics):  # as model.keras combines its parts
            return combine_logits(*cnns, *([record["statistics_logits"]] if statistics else []))

        def clip_level(frame_logits, without: str | None = None):  # as ModelFolder.clip_logits weighs them
            experts = {"frames": (frame_logits, 1.0), "functionals": (record["functionals_logits"], 1.0),
                       "descriptors": (record["descriptors_logits"], hp.descriptors_weight),
                       "speech": (record["speech_logits"], hp.speech_weight)}
            kept = [expert for name, expert in experts.items() if name != without]
            return combine_logits(*(logits for logits, _ in kept), weights=[weight for _, weight in kept])

        record.update(frames_logits=frames(members, hp.statistics_head))
        record.update(without_descriptors_logits=clip_level(record["frames_logits"], without="descriptors"),
                      without_speech_logits=clip_level(record["frames_logits"], without="speech"),
                      with_statistics_logits=clip_level(frames(members, True)),
                      single_cnn_logits=clip_level(frames(members[:1], hp.statistics_head)),
                      logits=clip_level(record["frames_logits"]),
                      seconds=float(record["cnn_seconds"]) + time.time() - started)
        _save(out, record)
        for part in PARTS:
            print(f"fold {fold}: {part.replace('_logits', '')} accuracy "
                  f"{np.mean(record[part].argmax(1) == labels[test]):.3f}", flush=True)
    print(json.dumps(summarise(kind, protocol=protocol)["summary"], indent=1))


def same_recipe(saved: dict, cfg, hp, cnn_only: bool = False) -> bool:
    """Whether a saved fold was trained with these features (frames, functionals, descriptors, speech
    encoder) and hyper-parameters; with `cnn_only`, whether its CNN was (frame features and the
    hyper-parameters other than OTHER_EXPERTS_HPARAMS)."""
    def hparams(values: dict) -> dict:
        return {k: v for k, v in values.items() if not (cnn_only and k.startswith(OTHER_EXPERTS_HPARAMS))}

    same_cnn = (json.loads(str(saved["features"])) == cfg.to_dict()
                and hparams(json.loads(str(saved["hparams"]))) == hparams(json.loads(json.dumps(hp.to_dict()))))
    return same_cnn and (cnn_only or (
        json.loads(str(saved.get("functionals", "null"))) == FUNCTIONALS.to_dict()
        and json.loads(str(saved.get("descriptors", "null"))) == DESCRIPTORS.to_dict()
        and json.loads(str(saved.get("speech_encoder", "null"))) == SPEECH_ENCODER.to_dict()))


def _save(out: Path, record: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **record)


def folds_done(kind: str, protocol: str = "speakers") -> list[int]:
    """Folds whose every expert's out-of-fold logits are saved (a fold with only its CNN is not done)."""
    return [f for f in range(fold_count(protocol))
            if fold_file(kind, f, protocol).exists() and DONE_KEY in np.load(fold_file(kind, f, protocol))]


def summarise(kind: str, folds: list[int] | None = None, part: str = "logits", protocol: str = "speakers") -> dict:
    """Speaker-independent metrics from the saved out-of-fold logits of one feature kind
    (over the given folds, default every fold done so far). `part` picks the combined model
    ("logits") or one expert alone ("cnn_logits", "statistics_logits")."""
    from avemo.evaluation import classification_report, mean_and_std

    folds = folds_done(kind, protocol) if folds is None else folds
    parts = [np.load(fold_file(kind, f, protocol)) for f in folds]
    if len({(str(p["hparams"]), str(p["features"])) for p in parts}) > 1:
        raise SystemExit(f"the folds in {RUNS_DIR / f'audio-{kind}'} were trained by different recipes: "
                         f"run `python -m train.audio evaluate --kind {kind}` to bring them all to the current one")
    result = {"kind": kind, "folds": folds, "summary": {}}
    for corpus in ("ravdess", "savee"):
        if not any((p["corpus"] == corpus).any() for p in parts):
            continue  # (the luna2022 protocol holds out no SAVEE speaker)
        fold_reports = []
        all_true, all_pred = [], []
        for saved in parts:
            mask = saved["corpus"] == corpus
            logits = saved[part][mask].copy()
            if corpus == "savee":  # SAVEE has no 'calm': score over the 7 emotions it defines
                logits[:, EMOTIONS.index("calm")] = -np.inf
            pred, true = logits.argmax(1), saved["labels"][mask]
            fold_reports.append(classification_report(true, pred))
            all_true.append(true)
            all_pred.append(pred)
        pooled = classification_report(np.concatenate(all_true), np.concatenate(all_pred))
        summary = {key: mean_and_std(fold_reports, key) for key in ("accuracy", "macro_f1", "uar")}
        result["summary"][corpus] = {"fold_mean_std": summary, "pooled": pooled,
                                     "fold_accuracy": [r["accuracy"] for r in fold_reports]}
    result["seconds"] = float(sum(float(p["seconds"]) for p in parts))
    result["hparams"] = json.loads(str(parts[0]["hparams"]))
    result["features"] = json.loads(str(parts[0]["features"]))
    return result


def out_of_fold(kind: str, protocol: str = "speakers") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts = [np.load(fold_file(kind, f, protocol)) for f in range(fold_count(protocol))]
    return (np.concatenate([p["logits"] for p in parts]), np.concatenate([p["labels"] for p in parts]),
            np.concatenate([p["corpus"] for p in parts]))


def final(root: Path, kind: str, hp, out_dir: Path) -> None:
    """Train the product model on all the data and write it with its report and card.

    The temperature and the card's figures come from the cross-validation in runs/. Without it
    (a fresh clone), they are taken from the shipped evaluation.json, but only if that evaluation
    measured this very recipe (same feature kind, features and hyper-parameters)."""
    from avemo.audio.features import extract_features_cached
    from avemo.audio.functionals import extract_descriptors_cached, extract_functionals_cached
    from avemo.models import save_model_folder
    from avemo.audio.speech_encoder import extract_speech_cached
    from avemo.audio.training import train_audio_model, train_descriptors_model, train_functionals_head, train_speech_head

    cfg = replace(AUDIO_FEATURES, kind=kind)
    evaluated_here = len(folds_done(kind)) == N_FOLDS
    recorded = None if evaluated_here else recorded_evaluation(out_dir, kind, hp, cfg)
    if not evaluated_here and recorded is None:
        raise SystemExit(f"no cross-validation of this recipe: run `python -m train.audio evaluate --kind {kind}` "
                         "first (make evaluate)")
    clips = load_corpus(root)
    labels = np.array([c.label for c in clips])
    variants = extract_features_cached([c.path for c in clips], cfg, hp.speeds)
    functionals = extract_functionals_cached([c.path for c in clips], FUNCTIONALS, cfg, hp.speeds)
    descriptors = extract_descriptors_cached([c.path for c in clips], FUNCTIONALS, cfg, hp.speeds)
    speech = extract_speech_cached([c.path for c in clips], SPEECH_ENCODER, cfg, hp.speeds)
    started = time.time()
    model = train_audio_model(variants, labels, hp, cfg)
    functionals_head = train_functionals_head(functionals, labels, hp)
    descriptors_model = train_descriptors_model(descriptors, labels, hp, DESCRIPTORS)
    speech_head = train_speech_head(speech, labels, hp)
    training_seconds = time.time() - started
    temperature = (calibration_from_folds(kind) if evaluated_here else recorded["calibration"])["temperature"]
    config = {"features": cfg.to_dict(), "functionals": FUNCTIONALS.to_dict(), "descriptors": DESCRIPTORS.to_dict(),
              "speech_encoder": SPEECH_ENCODER.to_dict(), "temperature": temperature,
              "hparams": hp.to_dict(),
              "trained_on": {"ravdess_clips": int(sum(c.corpus == "ravdess" for c in clips)),
                             "savee_clips": int(sum(c.corpus == "savee" for c in clips))}}
    save_model_folder(out_dir, model, list(EMOTIONS), config, functionals=functionals_head,
                      descriptors=descriptors_model, speech=speech_head)
    if evaluated_here:
        write_report(out_dir, kind, config, training_seconds)
    else:
        print(f"no cross-validation in {RUNS_DIR}: the card keeps the recorded evaluation of this recipe")
        save_report(out_dir, {**recorded, "final_training_seconds": training_seconds, "config": config})
    print(f"wrote {out_dir}; final training took {training_seconds:.0f} s")


def recorded_evaluation(out_dir: Path, kind: str, hp, cfg) -> dict | None:
    """The evaluation.json in `out_dir` if it measured exactly this recipe, else None."""
    path = out_dir / "evaluation.json"
    if not path.exists():
        return None
    recorded = json.loads(path.read_text())
    same = (recorded.get("chosen") == kind
            and recorded["config"]["features"] == cfg.to_dict()
            and recorded["config"].get("functionals") == FUNCTIONALS.to_dict()
            and recorded["config"].get("descriptors") == DESCRIPTORS.to_dict()
            and recorded["config"].get("speech_encoder") == SPEECH_ENCODER.to_dict()
            and recorded["config"]["hparams"] == json.loads(json.dumps(hp.to_dict())))
    return recorded if same else None


def calibration_from_folds(kind: str) -> dict:
    """Temperature scaling fitted on the speaker-independent out-of-fold logits, with ECE before/after."""
    from avemo.evaluation import expected_calibration_error, fit_temperature, reliability_bins
    from avemo.models import softmax

    logits, labels, _ = out_of_fold(kind)
    temperature = fit_temperature(logits, labels)
    return {
        "temperature": temperature,
        "ece_before": expected_calibration_error(softmax(logits), labels),
        "ece_after": expected_calibration_error(softmax(logits, temperature), labels),
        "bins_before": reliability_bins(softmax(logits), labels),
        "bins_after": reliability_bins(softmax(logits, temperature), labels),
    }


def write_report(out_dir: Path, kind: str, config: dict, training_seconds: float) -> None:
    """evaluation.json and the model card, from every feature kind evaluated so far (the ablation)."""
    evaluations = {kind: summarise(kind)}
    # The component ablation: each expert of the combined model alone, same folds.
    evaluations[f"{kind}: CNN alone"] = summarise(kind, part="cnn_logits")
    evaluations[f"{kind}: statistics head alone"] = summarise(kind, part="statistics_logits")
    evaluations[f"{kind}: functionals head alone"] = summarise(kind, part="functionals_logits")
    evaluations[f"{kind}: descriptor expert alone"] = summarise(kind, part="descriptors_logits")
    evaluations[f"{kind}: speech expert alone"] = summarise(kind, part="speech_logits")
    if config["hparams"].get("statistics_head", True):
        evaluations[f"{kind}: CNN + statistics head (without the clip-level experts)"] = summarise(kind, part="frames_logits")
    else:
        evaluations[f"{kind}: with the statistics head"] = summarise(kind, part="with_statistics_logits")
    evaluations[f"{kind}: without the descriptor expert"] = summarise(kind, part="without_descriptors_logits")
    evaluations[f"{kind}: without the speech expert"] = summarise(kind, part="without_speech_logits")
    members = config["hparams"].get("cnn_members", 1)
    if members > 1:
        evaluations[f"{kind}: one CNN instead of {members}"] = summarise(kind, part="single_cnn_logits")
    for other in ("logmel", "mfcc"):
        shared = [f for f in folds_done(other) if f in folds_done(kind)]
        if other == kind or not shared:
            continue
        # The ablation compares both kinds on the folds both have run (the same held-out speakers).
        if shared == folds_done(kind):
            evaluations[other] = summarise(other, shared)
        else:
            evaluations[f"{kind} (folds {','.join(map(str, shared))})"] = summarise(kind, shared)
            evaluations[f"{other} (folds {','.join(map(str, shared))})"] = summarise(other, shared)
    calibration = calibration_from_folds(kind)
    print(f"temperature {calibration['temperature']:.3f}: ECE {calibration['ece_before']:.3f} -> {calibration['ece_after']:.3f}")
    report = {"evaluations": evaluations, "chosen": kind, "calibration": calibration,
              "final_training_seconds": training_seconds, "config": config}
    baseline = RUNS_DIR / "baseline.json"  # python -m train.baseline: MFCC statistics + SVM, same folds
    if baseline.exists():
        report["baseline"] = json.loads(baseline.read_text())
    if SPEECH_SCREEN_FILE.exists():  # python -m train.speech_encoders screen: the encoders, same folds
        report["speech_screen"] = json.loads(SPEECH_SCREEN_FILE.read_text())
    save_report(out_dir, report)


def save_report(out_dir: Path, report: dict) -> None:
    """evaluation.json and the model card written from it."""
    from avemo.cards import write_audio_card

    (out_dir / "evaluation.json").write_text(json.dumps(report, indent=1) + "\n")
    write_audio_card(out_dir, report)


def refresh_card(out_dir: Path) -> None:
    """Rewrite evaluation.json and the card of the shipped model (e.g. after a new ablation run)."""
    previous = json.loads((out_dir / "evaluation.json").read_text())
    write_report(out_dir, previous["chosen"], previous["config"], previous["final_training_seconds"])


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
    from avemo.audio.training import AudioTrainingConfig

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["evaluate", "final", "card", "summary", "vad"])
    parser.add_argument("--data-dir", help="folder holding ravdess/ and savee/ (default: $AVEMO_DATA or ../shared/data)")
    parser.add_argument("--kind", choices=["logmel", "mfcc"],
                        help="feature kind (evaluate: default logmel; final: the better one in the evaluation)")
    parser.add_argument("--folds", help="evaluate only these folds, e.g. 0,1 (default: all of the protocol's)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="speakers",
                        help="speaker folds: the project's 4 (speakers) or Luna-Jiménez et al. 2022's 5 RAVDESS "
                             "actor folds (luna2022, for the paired audio-video evaluation)")
    parser.add_argument("--epochs", type=int, default=AudioTrainingConfig.epochs)
    parser.add_argument("--seed", type=int, default=AudioTrainingConfig.seed)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / "audio")
    args = parser.parse_args(argv)
    hp = AudioTrainingConfig(seed=args.seed, epochs=args.epochs)
    root = data_dir(args.data_dir)
    if args.stage == "evaluate":
        only = [int(f) for f in args.folds.split(",")] if args.folds else None
        evaluate(root, args.kind or AUDIO_FEATURES.kind, hp, only, args.protocol)
    elif args.stage == "final":
        final(root, args.kind or best_kind(args.out), hp, args.out)
    elif args.stage == "card":
        refresh_card(args.out)
    elif args.stage == "vad":
        install_voice_activity(args.out)
    else:
        print(json.dumps(summarise(args.kind or AUDIO_FEATURES.kind, protocol=args.protocol)["summary"], indent=1))


def best_kind(out_dir: Path) -> str:
    """The feature kind with the higher speaker-independent RAVDESS macro-F1 (the ablation's winner);
    without cross-validation results here, the kind the shipped model's evaluation chose."""
    scores = {kind: summarise(kind)["summary"]["ravdess"]["fold_mean_std"]["macro_f1"][0]
              for kind in ("logmel", "mfcc") if len(folds_done(kind)) == N_FOLDS}
    if scores:
        return max(scores, key=scores.get)
    if (out_dir / "evaluation.json").exists():
        return json.loads((out_dir / "evaluation.json").read_text())["chosen"]
    raise SystemExit("no cross-validation results yet: run `make evaluate` first")


if __name__ == "__main__":
    main()
