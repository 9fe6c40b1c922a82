"""Model cards (the README.md of a model folder, Hugging Face format) written from measured reports."""
from __future__ import annotations

from pathlib import Path

from .plots import confusion_matrix_png, reliability_png

ATTRIBUTION = """\
- **RAVDESS**: Livingstone & Russo (2018), *The Ryerson Audio-Visual Database of Emotional Speech and
  Song*, PLoS ONE 13(5): e0196391, CC BY-NC-SA 4.0 (Zenodo record 1188976).
- **SAVEE**: Haq & Jackson, *Surrey Audio-Visual Expressed Emotion* database, University of Surrey,
  free for research use."""


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def pm(mean_std) -> str:
    mean, std = mean_std
    return f"{100 * mean:.1f} ± {100 * std:.1f}"


def metrics_table(evaluations: dict) -> str:
    lines = ["| features | corpus | accuracy (fold mean ± std) | macro-F1 | UAR | pooled accuracy | per-fold accuracy |",
             "|---|---|---|---|---|---|---|"]
    for kind, ev in evaluations.items():
        for corpus, s in ev["summary"].items():
            f = s["fold_mean_std"]
            folds = ", ".join(f"{100 * a:.1f}" for a in s["fold_accuracy"])
            lines.append(f"| {kind} | {corpus.upper()} | {pm(f['accuracy'])} | {pm(f['macro_f1'])} | "
                         f"{pm(f['uar'])} | {pct(s['pooled']['accuracy'])} | {folds} |")
    return "\n".join(lines)


def recall_table(pooled: dict) -> str:
    names = pooled["labels"]
    head = "| " + " | ".join(names) + " |"
    return "\n".join([head, "|" + "---|" * len(names),
                      "| " + " | ".join(pct(pooled["per_class_recall"][n]) for n in names) + " |"])


def baseline_text(baseline: dict | None) -> str:
    if not baseline:
        return ""
    rows = "\n".join(f"| {corpus.upper()} | {pm(b['accuracy'])} | {pm(b['macro_f1'])} | {pm(b['uar'])} |"
                      for corpus, b in baseline.items())
    return f"""
Classical baseline on the same folds (`python -m train.baseline`: mean and spread of 40 MFCCs and their
deltas per clip, RBF SVM), the seed project's clip-average approach without its speaker leak:

| corpus | accuracy | macro-F1 | UAR |
|---|---|---|---|
{rows}
"""


# The product's accuracy targets for the audio model (speaker-independent fold means).
AUDIO_TARGETS = {"ravdess": 0.75, "savee": 0.65}


def targets_text(ravdess_accuracy: float, savee_accuracy: float) -> str:
    measured = {"ravdess": ravdess_accuracy, "savee": savee_accuracy}
    parts = [f"{corpus.upper()} {pct(measured[corpus])} against {pct(target)}"
             + ("" if measured[corpus] >= target else " (**not met**)")
             for corpus, target in AUDIO_TARGETS.items()]
    return "Against the product's targets: " + "; ".join(parts) + "."


def write_audio_card(folder: Path, report: dict) -> Path:
    """weights/audio/README.md with confusion matrices and a reliability diagram beside it."""
    kind = report["chosen"]
    ev = report["evaluations"][kind]
    cal = report["calibration"]
    hp = report["config"]["hparams"]
    feats = report["config"]["features"]
    images = {}
    for corpus, s in ev["summary"].items():
        images[corpus] = confusion_matrix_png(
            s["pooled"]["confusion"], s["pooled"]["labels"], folder / f"confusion_{corpus}.png",
            f"{corpus.upper()} speaker-independent ({kind}), pooled over folds")
    reliability_png({"before (T=1)": cal["bins_before"], f"after (T={cal['temperature']:.2f})": cal["bins_after"]},
                    folder / "reliability.png", "Audio model, out-of-fold")
    r, s = ev["summary"]["ravdess"], ev["summary"]["savee"]
    card = f"""---
license: cc-by-nc-sa-4.0
library_name: keras
tags: [audio-classification, speech-emotion-recognition, keras, avemo]
datasets: [RAVDESS, SAVEE]
metrics: [accuracy, f1, recall]
model-index:
- name: avemo-audio
  results:
  - task: {{type: audio-classification, name: speech emotion recognition (8 classes)}}
    dataset: {{name: RAVDESS speech (22 actors), type: ravdess}}
    metrics:
    - {{type: accuracy, value: {r['fold_mean_std']['accuracy'][0]:.4f}, name: speaker-independent 4-fold accuracy}}
    - {{type: f1, value: {r['fold_mean_std']['macro_f1'][0]:.4f}, name: macro-F1}}
    - {{type: recall, value: {r['fold_mean_std']['uar'][0]:.4f}, name: unweighted average recall}}
  - task: {{type: audio-classification, name: speech emotion recognition (7 classes)}}
    dataset: {{name: SAVEE, type: savee}}
    metrics:
    - {{type: accuracy, value: {s['fold_mean_std']['accuracy'][0]:.4f}, name: leave-one-speaker-out accuracy}}
    - {{type: f1, value: {s['fold_mean_std']['macro_f1'][0]:.4f}, name: macro-F1}}
    - {{type: recall, value: {s['fold_mean_std']['uar'][0]:.4f}, name: unweighted average recall}}
---

# avemo audio: speech emotion CNN with an utterance-statistics expert

Hears one of 8 emotions in speech: neutral, calm, happy, sad, angry, fearful, disgust, surprised.
Part of [avemo](../../README.md); `avemo.predict(path)` uses it.

## Model
Two experts on the same input window, combined into one Keras model by averaging their log-probabilities
(a product of experts):
- a 2-D CNN ({len(hp['filters'])} conv blocks, {' / '.join(map(str, hp['filters']))} filters, batch norm, global
  average pooling, dropout {hp['dropout']}), which follows how the spectrum moves in time;
- a statistics head: multinomial logistic regression (L2 {hp.get('statistics_l2')}) on the mean and standard
  deviation of {feats['n_mfcc']} MFCCs over the window's speech frames and the standard deviation of their
  frame-to-frame change (padding left out), the classic clip-level features the CNN's pooling blurs.

Both read **{kind}** frames of speech: {feats['n_mels']} mel bands,
{feats['n_fft']}-sample frames every {feats['hop_length']} samples at {feats['sample_rate']} Hz, leading and
trailing silence trimmed ({feats['trim_top_db']} dB below peak). One window is {feats['window_seconds']} s;
longer clips are covered by windows every {feats['window_hop_seconds']} s whose logits are averaged (the app
plots the per-window probabilities as a timeline). Outputs are calibrated by temperature scaling
(T = {cal['temperature']:.3f}, fitted on the out-of-fold outputs below). Files: `model.keras` (Keras 3, loads in
safe mode), `labels.json`, `config.json` (feature parameters, temperature, hyper-parameters), `evaluation.json`
(every figure on this card).

## Training data
RAVDESS speech audio, actors 1-20, 23, 24 (1,320 clips; actors 21 and 22 are kept aside, unseen, as a
test set) and all of SAVEE (480 clips, 4 male speakers; SAVEE has no *calm*), 16 kHz mono.

{ATTRIBUTION}

## Training procedure
Seed {hp['seed']}; {hp['epochs']} epochs, batch {hp['batch_size']}, AdamW (peak learning rate {hp['learning_rate']},
weight decay {hp['weight_decay']}), {hp['warmup_epochs']} warm-up epochs then cosine decay; class-balanced sample
weights; label smoothing {hp['label_smoothing']}. Augmentation on cached features: speed perturbation
({', '.join(map(str, hp['speeds']))}x), a random crop or placement of the window (time shift), SpecAugment
({hp['freq_masks']} frequency masks up to {hp['freq_mask_width']} bands, {hp['time_masks']} time masks up to
{hp['time_mask_width']} frames) and mixup (alpha {hp['mixup_alpha']}). The statistics head is then fitted (Adam,
{hp.get('statistics_epochs')} epochs, class-balanced) on every window of every training clip at every speed. The final
model trains on all of the data above in {report['final_training_seconds'] / 60:.1f} min on a 2-core CPU.

## Evaluation: speaker-independent
Never a random clip split (it leaks the speaker and inflates accuracy by 10-30 points). Each RAVDESS actor
and each SAVEE speaker is dealt to one of 4 folds, men and women alike in every fold (RAVDESS: 3 + 3 or
3 + 2 actors per fold); each fold's model is trained on the other three and
scored on the held-out speakers it never heard. This is RAVDESS grouped 4-fold by actor and SAVEE
leave-one-speaker-out in one set of trainings. SAVEE is scored over the 7 emotions it defines (the *calm*
output is ignored there). Clip-level decision: the mean of the window logits.

{metrics_table(report['evaluations'])}

Chosen: **{kind}** (first row: the shipped combination). The *alone* rows are the component ablation:
each expert of the same trainings on its own. The feature ablation is the row of the other feature kind
(log-mel against MFCC frames, same models and recipe, same held-out speakers; marked with its folds where
it ran on fewer). Total cross-validation time of the chosen kind:
{ev['seconds'] / 60:.0f} min on a 2-core CPU.

{targets_text(r['fold_mean_std']['accuracy'][0], s['fold_mean_std']['accuracy'][0])}
{baseline_text(report.get('baseline'))}

Per-class recall, RAVDESS (pooled over folds):

{recall_table(r['pooled'])}

Per-class recall, SAVEE (pooled over folds):

{recall_table(s['pooled'])}

![RAVDESS confusion matrix](confusion_ravdess.png)
![SAVEE confusion matrix](confusion_savee.png)

### Calibration
Expected calibration error of the out-of-fold probabilities (15 bins): **{cal['ece_before']:.3f}** before and
**{cal['ece_after']:.3f}** after temperature scaling (T = {cal['temperature']:.3f}).

![Reliability diagram](reliability.png)

## Intended use and limits
For trying emotion recognition on short clips of acted English speech, in research and demos. Both corpora
are acted, by few speakers (24 + 4), mostly young adults with North American or British accents; expect
lower accuracy on spontaneous speech, other languages, noisy rooms and children's voices. Not for decisions
about people (hiring, health, security).
"""
    out = folder / "README.md"
    out.write_text(card)
    return out


def comparison_table(reports: dict) -> str:
    lines = ["| method | accuracy | macro-F1 | UAR |", "|---|---|---|---|"]
    for name, r in reports.items():
        lines.append(f"| {name} | {pct(r['accuracy'])} | {pct(r['macro_f1'])} | {pct(r['uar'])} |")
    return "\n".join(lines)


def write_fusion_card(folder: Path, config: dict, calibration: dict | None, comparison: dict | None) -> Path:
    """weights/fusion/README.md: the rule, where each of its numbers comes from, and any measured comparison."""
    trained = config.get("trained")
    in_use = f"the trained **{trained['name']}** fuser" if trained else "the **default rule** (no trained fuser shipped)"
    calibration_text = "No calibration figures yet."
    if calibration:
        calibration_text = (
            f"Audio: temperature T = {calibration['temperature']:.3f}, fitted by minimising the negative "
            f"log-likelihood of the speaker-independent out-of-fold outputs; expected calibration error "
            f"{calibration['ece_before']:.3f} before, {calibration['ece_after']:.3f} after (15 bins). "
            f"Reliability diagram: [../audio/reliability.png](../audio/reliability.png). Video: T = "
            f"{config['temperatures']['video']:.2f}, not fitted (no labelled face video to fit it on).")
    comparison_text = (
        "No paired audio-video clips with labels exist on the machines this was built on, so no fused accuracy "
        "is reported here. With the RAVDESS audio-video release, `python -m train.fusion fit --data-dir DIR` "
        "measures audio-only, video-only, this rule and the trained fusers side by side (grouped by actor) "
        "and rewrites this section.")
    if comparison:
        images = []
        for name, report in comparison["reports"].items():
            slug = name.replace(" ", "_")
            confusion_matrix_png(report["confusion"], report["labels"], folder / f"confusion_{slug}.png",
                                 f"{name}, grouped by actor")
            images.append(f"![{name}](confusion_{slug}.png)")
        comparison_text = (
            f"Measured on {comparison['n_clips']} paired clips from {comparison['n_actors']} actors, "
            f"out-of-fold, grouped by actor (GroupKFold: no actor in both training and test). Note: the shipped audio model was trained on the RAVDESS "
            f"actors 1-20, 23, 24, so on those actors its outputs are optimistic.\n\n"
            f"{comparison_table(comparison['reports'])}\n\n" + "\n".join(images))
    sources = config.get("sources", {})
    card = f"""---
license: cc-by-nc-sa-4.0
tags: [multimodal, emotion-recognition, late-fusion, avemo]
---

# avemo fusion: calibrated late fusion of voice and face

In use: {in_use}.

## The default rule (needs no paired data)
Each model's probabilities are first calibrated (temperature scaling). Each model m then speaks through its
confusion matrix C_m, with C_m[c, k] = P(model says k | true emotion c):

    L_m(c) = sum_k p_m(k) C_m[c, k]
    P(c | voice, face)  ∝  L_audio(c) ^ r_audio  ·  L_video(c) ^ r_video      (uniform prior)

a product of experts (a naive-Bayes combination of classifiers), in which r_m in (0, 1] is the reliability of
that modality **for this input**: the share of sampled frames with a usable face for video, and
min(1, seconds of speech / 1.5 s) for audio. A modality with little evidence counts for less, visibly
(`fused.weights` in the output). A model that cannot tell two classes apart (the face model has no *calm*)
cannot push the result between them. With one modality missing, the fused result is the other's.

Where each number comes from:
- audio confusion matrix: {sources.get('audio', 'n/a')}.
- video confusion matrix: {sources.get('video', 'n/a')}; {ASSUMED_NOTE}
- smoothing: half a count spread over each row, so no likelihood is zero.

`agreement` in the output compares the two modalities: *agree* (same top emotion), *disagree* (different top
emotions, with Jensen-Shannon divergence ≥ 0.5 bit or both at least 50% confident), else *differ*.

## Calibration
{calibration_text}

## Trained fusion (where paired data exists)
{comparison_text}
"""
    out = folder / "README.md"
    out.write_text(card)
    return out


ASSUMED_NOTE = ("weighted as 20 clips of evidence per class: a weak prior, to be replaced by the video "
                "model's measured confusion matrix once it is evaluated on labelled face video.")
