"""Running a voice recipe under a protocol: each fold's experts trained, its held-out clips scored as recorded
and under degradations, every expert's out-of-fold logits saved, so that a recipe's combinations are scored
without training again.

    run = ExperimentRun(root, hp)                       # the corpora, read in place
    run.protocol("speakers", conditions=EVALUATION_CONDITIONS)   # trains what is not saved yet, fold by fold
    logits = run.product_logits("speakers", "pink@10dB")         # the recipe's combination of its experts

What a fold learns from: the protocol's training clips of the recipe's corpora (a cross-corpus protocol: the
two corpora it does not hold out), each at its speeds and in `augment_copies` degraded copies. What it is
scored on: the held-out clips of the corpora it learnt (or the held-out corpus), as recorded; RAVDESS's also
under every condition asked for (avemo.audio.degradations.EVALUATION_CONDITIONS), its babble made of SAVEE and
EmoDB voices, never of a RAVDESS actor.

Results are saved under runs/voice/<protocol>/fold-<k>/<expert>-<key>.npz, the key a hash of everything the
expert's training depends on (its hyper-parameters, the data's, the features'), so that a changed setting
trains only the experts it changes, and an interrupted run resumes at the next expert.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemo.audio.degradations import evaluation_degradation, training_degradation
from avemo.audio.extraction import AS_RECORDED, EXPERTS, FeatureSettings, Variant, extract, stacked
from avemo.audio.protocols import CORPORA, fold_count, protocol_folds, training_corpora
from avemo.config import DESCRIPTORS, EMOTIONS, REPO_ROOT, DescriptorsConfig
from avemo.corpora import Clip

RUNS_DIR = REPO_ROOT / "runs" / "voice"
CONDITION_CORPORA = ("ravdess",)  # whose held-out clips are scored under the degradations too
# What each expert's training depends on, beside DATA_HPARAMS (avemo.audio.training.AudioTrainingConfig).
DATA_HPARAMS = ("seed", "speeds", "balance", "augment_copies", "augment_snr_db")
EXPERT_HPARAMS = {
    "frames": ("epochs", "batch_size", "learning_rate", "weight_decay", "warmup_epochs", "label_smoothing",
               "mixup_alpha", "freq_masks", "freq_mask_width", "time_masks", "time_mask_width", "filters", "dropout",
               "cnn_members", "statistics_head", "statistics_l2", "statistics_epochs"),
    "functionals": ("functionals_quantiles", "functionals_c"),
    "descriptors": ("batch_size", "learning_rate", "warmup_epochs", "descriptors_epochs", "descriptors_filters",
                    "descriptors_noise", "descriptors_dropout", "descriptors_weight_decay", "descriptors_mixup_alpha",
                    "descriptors_label_smoothing"),
    "speech": ("speech_c", "speech_states", "speech_normalise"),
}


def training_variants(clips: list[Clip], hp) -> list[list[Variant]]:
    """Each training clip's variants: its speeds, then `hp.augment_copies` degraded copies (training seeds; a
    babble of the same speaker's other takes)."""
    takes: dict[str, list[str]] = {}
    for clip in clips:
        takes.setdefault(clip.speaker, []).append(str(clip.path))
    variants = []
    for clip in clips:
        own = [path for path in takes[clip.speaker] if path != str(clip.path)]
        copies = [Variant(1.0, training_degradation(clip.path.stem, i, own, tuple(hp.augment_snr_db)))
                  for i in range(hp.augment_copies)]
        variants.append([Variant(speed) for speed in hp.speeds] + copies)
    return variants


def babble_pool(clips: list[Clip], corpus: str) -> list[str]:
    """The voices an evaluation babble of `corpus`'s clips is made of: every clip of the other corpora."""
    return sorted(str(c.path) for c in clips if c.corpus != corpus)


def condition_variants(clips: list[Clip], condition: str, everyone: list[Clip]) -> list[list[Variant]]:
    """One variant per clip: the clip under an evaluation condition (evaluation seeds)."""
    pools = {corpus: babble_pool(everyone, corpus) for corpus in {c.corpus for c in clips}}
    return [[Variant(1.0, evaluation_degradation(condition, c.path.stem, pools[c.corpus]))] for c in clips]


def expert_key(hp, expert: str, settings: FeatureSettings, corpora: tuple[str, ...]) -> str:
    """A hash of everything an expert's training and scoring depend on."""
    values = hp.to_dict()
    wanted = {name: values[name] for name in (*DATA_HPARAMS, *EXPERT_HPARAMS[expert])}
    parts = settings.parts(expert)
    described = {"hparams": wanted, "corpora": sorted(corpora), "expert": expert,
                 "features": {part: settings.expert_settings(part) for part in parts}}
    if expert == "descriptors":
        described["descriptors"] = DESCRIPTORS.to_dict()
    return hashlib.sha1(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()[:12]


def train_expert(expert: str, features: list[list[np.ndarray]], labels: np.ndarray, weights: np.ndarray, hp,
                 settings: FeatureSettings, descriptors_cfg: DescriptorsConfig = DESCRIPTORS, verbose: int = 0):
    """One expert trained on every variant of the training clips (an sklearn classifier or a Keras model)."""
    from avemo.audio import training

    if expert == "frames":
        return training.train_audio_model(features, labels, hp, settings.audio, verbose, weights)
    if expert == "descriptors":
        return training.train_descriptors_model(features, labels, hp, descriptors_cfg, verbose, weights)
    if expert == "functionals":
        return training.fit_linear_classifier(stacked(features), labels, hp.functionals_c, hp.functionals_quantiles,
                                              expert, weights)
    inputs = speech_expert_inputs(stacked(features), hp, settings)
    return training.fit_linear_classifier(inputs, labels, hp.speech_c, None, expert, weights)


def speech_expert_inputs(representations: np.ndarray, hp, settings: FeatureSettings) -> np.ndarray:
    """The columns of the encoders' statistics the recipe's speech expert reads, normalised as it asks."""
    from avemo.audio.speech_encoder import state_columns
    from avemo.audio.training import speech_inputs

    encoders = settings.speech.encoders
    return speech_inputs(representations, hp, encoders)[..., state_columns(encoders, hp.speech_states)]


def expert_logits(expert: str, model, features: list[np.ndarray], settings: FeatureSettings, hp,
                  descriptors_cfg: DescriptorsConfig = DESCRIPTORS) -> np.ndarray:
    """Clip-level logits (n_clips, n_emotions) of a trained expert for one variant of each clip, as the product
    reads a clip (the frame and descriptor experts: the mean over the clip's windows)."""
    from avemo.audio import training

    if expert == "frames":
        return training.clip_logits(model, features, settings.audio)
    if expert == "descriptors":
        return training.descriptors_clip_logits(model, features, descriptors_cfg)
    inputs = np.stack(features) if expert == "functionals" else speech_expert_inputs(np.stack(features), hp, settings)
    return training.linear_classifier_logits(model, inputs)


def fold_model_file(expert: str, result_file: Path) -> Path:
    return result_file.with_suffix(".keras" if expert in ("frames", "descriptors") else ".joblib")


def save_fold_model(expert: str, model, result_file: Path) -> None:
    """Keep a fold's trained expert beside its results (runs/ only, never shipped), so that scoring it under
    another condition later trains nothing."""
    file = fold_model_file(expert, result_file)
    file.parent.mkdir(parents=True, exist_ok=True)
    if file.suffix == ".keras":
        model.save(file)
    else:
        import joblib

        joblib.dump(model, file)


def load_fold_model(expert: str, result_file: Path):
    """A fold's trained expert saved by `save_fold_model`, or None."""
    file = fold_model_file(expert, result_file)
    if not file.exists():
        return None
    if file.suffix == ".keras":
        import keras

        from avemo.audio import layers  # noqa: F401  (registers avemo's layers)

        return keras.saving.load_model(file, compile=False)
    import joblib

    return joblib.load(file)


@dataclass
class ExperimentRun:
    """The corpora's clips, and the runs of one recipe `hp` (avemo.audio.training.AudioTrainingConfig) on them."""

    root: Path
    hp: object
    settings: FeatureSettings = None
    runs_dir: Path = RUNS_DIR
    verbose: int = 0

    def __post_init__(self):
        from avemo.audio.protocols import load_clips

        self.settings = self.settings or FeatureSettings()
        self.clips = load_clips(self.root, CORPORA, verbose=bool(self.verbose))
        self.labels = np.array([c.label for c in self.clips])
        self.corpus = np.array([c.corpus for c in self.clips])
        self.names = np.array([c.path.stem for c in self.clips])

    # -- which clips ----------------------------------------------------------------------------------
    def fold_clips(self, protocol: str, fold: int) -> tuple[np.ndarray, np.ndarray]:
        """(training clip indices, held-out clip indices) of one fold."""
        folds = protocol_folds(self.clips, protocol)
        learnt = training_corpora(protocol, CORPORA if protocol.startswith("cross-") else tuple(self.hp.corpora))
        train = np.flatnonzero((folds != fold) & np.isin(self.corpus, learnt))
        scored = protocol.removeprefix("cross-") if protocol.startswith("cross-") else learnt
        test = np.flatnonzero((folds == fold) & np.isin(self.corpus, scored))
        return train, test

    def result_file(self, protocol: str, fold: int, expert: str) -> Path:
        corpora = training_corpora(protocol, CORPORA if protocol.startswith("cross-") else tuple(self.hp.corpora))
        key = expert_key(self.hp, expert, self.settings, corpora)
        return self.runs_dir / protocol / f"fold-{fold}" / f"{expert}-{key}.npz"

    # -- running -------------------------------------------------------------------------------------
    def protocol(self, protocol: str, experts: tuple[str, ...] | None = None, conditions: tuple[str, ...] = ("clean",),
                 folds: list[int] | None = None) -> None:
        """Every fold's experts (default: the recipe's) trained and scored, unless saved already (with every
        condition asked for)."""
        for fold in folds if folds is not None else range(fold_count(protocol)):
            for expert in experts or tuple(self.hp.experts):
                self.fold_expert(protocol, fold, expert, conditions)

    def fold_expert(self, protocol: str, fold: int, expert: str, conditions: tuple[str, ...]) -> dict:
        """One expert of one fold: {condition: held-out logits}, trained and saved unless it is saved already."""
        from avemo.audio.training import example_weights

        out = self.result_file(protocol, fold, expert)
        saved = dict(np.load(out)) if out.exists() else {}
        if all(f"logits:{c}" in saved for c in conditions):
            return saved
        train, test = self.fold_clips(protocol, fold)
        model = load_fold_model(expert, out) if saved else None
        record = saved or {"index": test, "labels": self.labels[test], "corpus": self.corpus[test],
                           "names": self.names[test]}
        if model is None:
            print(f"{protocol} fold {fold}: {expert} expert on {len(train)} clips "
                  f"({', '.join(sorted(set(self.corpus[train])))}), {len(test)} held out", flush=True)
            started = time.time()
            clips = [self.clips[i] for i in train]
            features = extract([c.path for c in clips], training_variants(clips, self.hp), (expert,), self.settings,
                               what=f"{expert} features (training)")[expert]
            weights = example_weights(self.labels[train], self.corpus[train], self.hp.balance)
            model = train_expert(expert, features, self.labels[train], weights, self.hp, self.settings,
                                 verbose=self.verbose)
            record["train_seconds"] = time.time() - started
            save_fold_model(expert, model, out)
        for condition in sorted(set(conditions) - {c.removeprefix("logits:") for c in saved if c.startswith("logits:")}):
            scored = [i for i in test if condition == "clean" or self.corpus[i] in CONDITION_CORPORA]
            held_out = [self.clips[i] for i in scored]
            variants = ([[AS_RECORDED]] * len(held_out) if condition == "clean"
                        else condition_variants(held_out, condition, self.clips))
            inputs = extract([c.path for c in held_out], variants, (expert,), self.settings,
                             what=f"{expert} features ({condition})")[expert]
            record[f"logits:{condition}"] = expert_logits(expert, model, [v[0] for v in inputs], self.settings, self.hp)
            record[f"index:{condition}"] = np.array(scored, dtype=int)
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez(out, **record)
        return record

    # -- reading results -------------------------------------------------------------------------------
    def expert_logits(self, protocol: str, expert: str, condition: str = "clean") -> tuple[np.ndarray, np.ndarray]:
        """(clip indices, out-of-fold logits) of one expert over every fold of a protocol, as saved."""
        indices, logits = [], []
        for fold in range(fold_count(protocol)):
            saved = np.load(self.result_file(protocol, fold, expert))
            indices.append(saved[f"index:{condition}"])
            logits.append(saved[f"logits:{condition}"])
        return np.concatenate(indices), np.concatenate(logits)

    def fold_readings(self, protocol: str, fold: int, paths: list[Path]) -> np.ndarray:
        """Logits of one fold's saved experts, combined as the recipe combines them, for other recordings (as
        recorded): what a model of that fold says of clips no protocol scores (EmoDB's boredom, say)."""
        from avemo.models import combine_logits

        experts = tuple(self.hp.experts)
        features = extract(paths, [AS_RECORDED], experts, self.settings, progress=False)
        parts = []
        for expert in experts:
            model = load_fold_model(expert, self.result_file(protocol, fold, expert))
            if model is None:
                raise FileNotFoundError(f"no saved {expert} model of {protocol} fold {fold}")
            parts.append(expert_logits(expert, model, [variants[0] for variants in features[expert]], self.settings,
                                       self.hp))
        return combine_logits(*parts, weights=tuple(self.hp.expert_weight(e) for e in experts))

    def scored_under(self, protocol: str, condition: str, experts: tuple[str, ...] | None = None) -> bool:
        """Whether every fold of the protocol has the experts' logits under `condition` saved."""
        files = [self.result_file(protocol, fold, expert) for fold in range(fold_count(protocol))
                 for expert in experts or tuple(self.hp.experts)]
        return all(file.exists() and f"logits:{condition}" in np.load(file) for file in files)

    def product_logits(self, protocol: str, condition: str = "clean", experts: tuple[str, ...] | None = None,
                       weights: dict[str, float] | None = None, quiet_prior: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """(clip indices, logits) of the recipe's combination of its experts (or of `experts` with `weights`),
        as the product combines them (avemo.models.combine_logits), with `quiet_prior` added to neutral's and
        calm's (a lean towards the quiet emotions, screened by train.voice_screen)."""
        from avemo.models import combine_logits

        experts = experts or tuple(self.hp.experts)
        parts = [self.expert_logits(protocol, expert, condition) for expert in experts]
        index = parts[0][0]
        for other, _ in parts[1:]:
            if not np.array_equal(other, index):
                raise ValueError("the experts' saved runs scored different clips")
        chosen = [(weights or {}).get(e, self.hp.expert_weight(e)) for e in experts]
        logits = (parts[0][1] if len(parts) == 1 else
                  combine_logits(*(logits for _, logits in parts), weights=tuple(chosen)))
        if quiet_prior:
            logits = np.array(logits, np.float64)
            logits[:, [EMOTIONS.index("neutral"), EMOTIONS.index("calm")]] += quiet_prior
        return index, logits


# -- scoring ------------------------------------------------------------------------------------------------
NO_ANSWER = "no answer"  # what a clip the speech gate refused gets: wrong whatever its label


def corpus_scores(run: ExperimentRun, protocol: str, condition: str = "clean", experts: tuple[str, ...] | None = None,
                  weights: dict[str, float] | None = None, scoring: str = "own classes",
                  refused: np.ndarray | None = None, quiet_prior: float = 0.0) -> dict:
    """Per held-out corpus: accuracy, macro-F1 and UAR pooled over the protocol's folds (with the confusion
    matrix), their mean and spread over folds, and each fold's accuracy. `refused` (a bool per clip of the
    run, e.g. from `gate_decisions`): those clips count as wrong, as a refused clip gets no emotion."""
    from avemo.audio.protocols import predicted_emotions
    from avemo.evaluation import classification_report, mean_and_std
    from avemo.models import softmax

    index, logits = run.product_logits(protocol, condition, experts, weights, quiet_prior)
    folds = protocol_folds(run.clips, protocol)[index]
    scores = {}
    for corpus in CORPORA:
        rows = run.corpus[index] == corpus
        if not rows.any():
            continue
        predicted = predicted_emotions(softmax(logits[rows]), corpus, scoring)
        if refused is not None:  # scored as one more class, which no clip has
            predicted = np.where(refused[index[rows]], len(EMOTIONS), predicted)
        truth = run.labels[index[rows]]
        names = (*EMOTIONS, NO_ANSWER)
        fold_reports = [classification_report(truth[folds[rows] == f], predicted[folds[rows] == f], names)
                        for f in np.unique(folds[rows])]
        scores[corpus] = {
            "pooled": classification_report(truth, predicted, names),
            "fold_mean_std": {key: mean_and_std(fold_reports, key) for key in ("accuracy", "macro_f1", "uar")},
            "fold_accuracy": [r["accuracy"] for r in fold_reports],
            **({"refused": int(refused[index[rows]].sum())} if refused is not None else {}),
        }
    return scores


def refused_under(run: ExperimentRun, condition: str) -> np.ndarray:
    """Per clip of the run: whether the speech gate refuses it under an evaluation condition (clips of corpora
    not scored under that condition: False)."""
    from avemo.audio.extraction import gate_decisions

    chosen = [i for i, c in enumerate(run.clips) if condition == "clean" or c.corpus in CONDITION_CORPORA]
    clips = [run.clips[i] for i in chosen]
    variants = ([[AS_RECORDED]] * len(clips) if condition == "clean"
                else condition_variants(clips, condition, run.clips))
    kept = gate_decisions([c.path for c in clips], variants, run.settings)[:, 0]
    refused = np.zeros(len(run.clips), bool)
    refused[chosen] = ~kept
    return refused
