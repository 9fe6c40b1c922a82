"""Screen the pretrained speech encoders for the audio model's speech expert, on the audio evaluation's folds.

    python -m train.speech_encoders screen [--data-dir DIR]   # every variant, fold by fold (cached in runs/)
    python -m train.speech_encoders report                    # the table, from what is cached
    python -m train.speech_encoders attentive                 # attentive pooling over Whisper base's states
    python -m train.speech_encoders context                   # Whisper base with its 30 s context padded

The speech expert is a logistic regression on statistics over time of a frozen Whisper encoder's hidden
states (avemo.audio.speech_encoder). What is screened, each on the same speaker folds as `train.audio
evaluate` (RAVDESS 4 folds by actor, SAVEE leave one speaker out, in one set of trainings):
- the encoder: Whisper tiny.en (shipped so far) against Whisper base;
- which hidden states: every layer, each layer alone, the upper half;
- the pooling: mean and standard deviation over time, or the mean alone;
- the regression's inverse L2 strength C;
- the speed copies (0.9x / 1.1x) as extra training examples or not;
- attentive pooling: learnt weights over the hidden states, then an attention over time giving a weighted
  mean and standard deviation (`attentive`, a small Keras network trained per fold, against the regression
  on the same clips as recorded);
- the context: Whisper was trained on 30 s windows, speech then silence; the product encodes the speech alone
  (10x cheaper), `context` measures what padding it with silence to 10 s or 30 s would give;
- beside the other experts of the shipped combination (their out-of-fold logits from runs/audio-mfcc): the
  expert's weight, and the two encoders together.

Every choice is scored on held-out speakers only. Where the table picks a variant on these folds, it also
gives that pick's *blind* figure: for each fold, the variant the other folds score best, scored on this one,
so that no fold's own result chose what it is scored with.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from avemo.config import AUDIO_FEATURES, EMOTIONS, SpeechEncoderConfig, data_dir
from train.audio import SPEECH_SCREEN_FILE, fold_count, fold_file, load_corpus, protocol_folds

SCREEN_DIR = SPEECH_SCREEN_FILE.parent
ENCODER_NAMES = ("whisper-tiny.en", "whisper-base")
SPEEDS = (1.0, 0.9, 1.1)  # as AudioTrainingConfig.speeds
C_GRID = (0.003, 0.01, 0.03, 0.1)
BOTH = "+".join(ENCODER_NAMES)  # both encoders' features side by side, one regression
WEIGHT_GRID = (1.0, 2.0, 3.0, 4.0, 6.0)
# The speech expert's C and weight as they were screened for tiny.en (avemo.audio.training.AudioTrainingConfig).
SHIPPED_C, SHIPPED_WEIGHT = 0.03, 3.0


@dataclass(frozen=True)
class Variant:
    """One speech expert: an encoder's pooled states (which layers, which statistics), C and speeds."""

    encoder: str
    layers: tuple[int, ...] | None = None   # None: every hidden state (the convolutions', each layer's, the norm's)
    statistics: str = "mean+std"           # or "mean"
    c: float = 0.03
    speed_copies: bool = True

    @property
    def name(self) -> str:
        layers = "all layers" if self.layers is None else f"layers {','.join(map(str, self.layers))}"
        speeds = "speed copies" if self.speed_copies else "as recorded"
        return f"{self.encoder}, {layers}, {self.statistics}, C={self.c:g}, {speeds}"

    @property
    def key(self) -> str:
        return self.name.replace(", ", "_").replace(" ", "-").replace("=", "")


def select(features: np.ndarray, n_states: int, variant: Variant) -> np.ndarray:
    """The columns of `pooled` features (avemo.audio.speech_encoder.pooled: per hidden state, its mean then
    its standard deviation over time) that a variant reads."""
    if variant.layers is None and variant.statistics == "mean+std":
        return features
    per_state = features.reshape(*features.shape[:-1], n_states, 2, -1)
    if variant.layers is not None:
        per_state = per_state[..., list(variant.layers), :, :]
    if variant.statistics == "mean":
        per_state = per_state[..., :1, :]
    return per_state.reshape(*features.shape[:-1], -1)


def variant_logits(variant: Variant, features: np.ndarray, n_states: int, labels: np.ndarray, folds: np.ndarray,
                   fold: int) -> np.ndarray:
    """The held-out fold's logits of a variant trained on the other folds (cached under SCREEN_DIR)."""
    from avemo.audio.training import fit_linear_classifier, linear_classifier_logits

    out = SCREEN_DIR / f"{variant.key}_fold-{fold}.npy"
    if out.exists():
        return np.load(out)
    train, test = folds != fold, folds == fold
    x = select(features, n_states, variant)
    per_speed = x[train] if variant.speed_copies else x[train, :1]
    classifier = fit_linear_classifier(per_speed, labels[train], variant.c, None, "speech")
    logits = linear_classifier_logits(classifier, x[test, 0]).astype(np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, logits)
    return logits


def accuracies(logits: np.ndarray, labels: np.ndarray, corpus: np.ndarray) -> dict[str, float]:
    """Accuracy per corpus (SAVEE over the 7 emotions it has: its 'calm' output is ignored)."""
    scores = {}
    for name in ("ravdess", "savee"):
        rows = corpus == name
        scored = logits[rows].copy()
        if name == "savee":
            scored[:, EMOTIONS.index("calm")] = -np.inf
        scores[name] = float(np.mean(scored.argmax(1) == labels[rows]))
    return scores


class Screen:
    """The corpus, its folds and every encoder's cached features, with each variant's out-of-fold logits."""

    def __init__(self, root: Path, encoders: tuple[str, ...] = ENCODER_NAMES):
        from avemo.audio.speech_encoder import extract_speech_cached, load_encoder

        clips = load_corpus(root)
        self.labels = np.array([c.label for c in clips])
        self.corpus = np.array([c.corpus for c in clips])
        self.folds = protocol_folds(clips)
        self.paths = [str(c.path) for c in clips]
        self.features, self.n_states = {}, {}
        for name in encoders:
            self.features[name] = extract_speech_cached([c.path for c in clips], SpeechEncoderConfig(encoder=name),
                                                        replace(AUDIO_FEATURES, kind="mfcc"), SPEEDS)
            self.n_states[name] = load_encoder(name).n_layers + 2
        if len(encoders) > 1:
            self.features[BOTH] = np.concatenate([self.features[name] for name in encoders], axis=-1)
            self.n_states[BOTH] = None  # (read whole only)

    def out_of_fold(self, variant: Variant) -> np.ndarray:
        logits = np.zeros((len(self.labels), len(EMOTIONS)), np.float32)
        for fold in range(fold_count()):
            logits[self.folds == fold] = variant_logits(variant, self.features[variant.encoder],
                                                        self.n_states[variant.encoder], self.labels, self.folds, fold)
        return logits

    def fold_scores(self, logits: np.ndarray) -> list[dict[str, float]]:
        return [accuracies(logits[self.folds == f], self.labels[self.folds == f], self.corpus[self.folds == f])
                for f in range(fold_count())]


def score(fold_scores: list[dict[str, float]]) -> float:
    """What a pick maximises: the mean of the two corpora's fold-mean accuracies."""
    return float(np.mean([np.mean([s[c] for s in fold_scores]) for c in ("ravdess", "savee")]))


def blind_pick(candidates: dict[str, list[dict[str, float]]]) -> dict:
    """For each fold, the candidate the *other* folds score best, and its result on this fold."""
    per_fold = []
    for fold in range(fold_count()):
        others = {name: [s for f, s in enumerate(scores) if f != fold] for name, scores in candidates.items()}
        pick = max(others, key=lambda name: score(others[name]))
        per_fold.append({"fold": fold, "pick": pick, **candidates[pick][fold]})
    return {"folds": per_fold,
            **{c: float(np.mean([p[c] for p in per_fold])) for c in ("ravdess", "savee")}}


def shipped_experts(screen: Screen) -> dict[str, np.ndarray] | None:
    """The out-of-fold logits of the other experts of the shipped audio model (train.audio evaluate --kind
    mfcc), rows in the corpus order, or None before that evaluation has run."""
    experts = {"frames": "frames_logits", "functionals": "functionals_logits", "descriptors": "descriptors_logits"}
    if not all(fold_file("mfcc", f).exists() for f in range(fold_count())):
        return None
    out = {name: np.zeros((len(screen.labels), len(EMOTIONS)), np.float32) for name in experts}
    for f in range(fold_count()):
        saved = np.load(fold_file("mfcc", f))
        if "functionals_logits" not in saved:
            return None
        for name, key in experts.items():
            out[name][saved["index"]] = saved[key]
    return out


def run(root: Path) -> dict:
    """Every variant's fold scores, and the combination's, in order (cheap ones first, so a cut run
    still reports what it finished)."""
    from avemo.models import combine_logits

    screen = Screen(root)
    results: dict[str, dict] = {}

    def measure(variant: Variant) -> list[dict[str, float]]:
        scores = screen.fold_scores(screen.out_of_fold(variant))
        results[variant.name] = {"variant": variant.__dict__, "folds": scores,
                                 **{c: float(np.mean([s[c] for s in scores])) for c in ("ravdess", "savee")}}
        print(f"{variant.name}: RAVDESS {results[variant.name]['ravdess']:.1%}, "
              f"SAVEE {results[variant.name]['savee']:.1%}", flush=True)
        return scores

    # 1. Each encoder as shipped (every state, mean and std, C 0.03, speed copies), and C.
    for encoder in ENCODER_NAMES:
        for c in C_GRID:
            measure(Variant(encoder, c=c))
    for c in C_GRID[1:3]:
        measure(Variant(BOTH, c=c))
    # 2. Which states (as recorded only: the speed copies triple the cost), and the pooling.
    for encoder in ENCODER_NAMES:
        for layer in range(screen.n_states[encoder]):
            measure(Variant(encoder, layers=(layer,), speed_copies=False))
        upper = tuple(range(screen.n_states[encoder] // 2, screen.n_states[encoder]))
        measure(Variant(encoder, layers=upper))
        measure(Variant(encoder, statistics="mean"))
        measure(Variant(encoder, speed_copies=False))
    speech_experts = (*ENCODER_NAMES, BOTH)
    best_c = {encoder: max(C_GRID if encoder != BOTH else C_GRID[1:3],
                           key=lambda c: score(results[Variant(encoder, c=c).name]["folds"]))
              for encoder in speech_experts}
    picks = {"C": {encoder: blind_pick({Variant(encoder, c=c).name: results[Variant(encoder, c=c).name]["folds"]
                                        for c in C_GRID}) for encoder in ENCODER_NAMES}}
    # 3. Beside the shipped model's other experts: the weight, and both encoders together.
    others = shipped_experts(screen)
    combinations = {}
    if others is not None:
        speech = {encoder: screen.out_of_fold(Variant(encoder, c=best_c[encoder])) for encoder in speech_experts}
        base_weights = {"frames": 1.0, "functionals": 1.0, "descriptors": 0.5}

        def combined(name: str, speech_parts: dict[str, float], drop: tuple[str, ...] = ()):
            parts = [(others[n], w) for n, w in base_weights.items() if n not in drop]
            parts += [(speech[e], w) for e, w in speech_parts.items()]
            logits = combine_logits(*(p for p, _ in parts), weights=[w for _, w in parts])
            combinations[name] = screen.fold_scores(logits)

        for weight in WEIGHT_GRID:
            for encoder in speech_experts:
                combined(f"shipped experts + {encoder} (weight {weight:g})", {encoder: weight})
                combined(f"shipped experts without descriptors + {encoder} (weight {weight:g})",
                         {encoder: weight}, drop=("descriptors",))
            combined(f"shipped experts + both encoders as two experts (weight {weight:g} each)",
                     {e: weight for e in ENCODER_NAMES})
        # The encoder alone changed, at the C and weight screened for tiny.en (C 0.03, weight 3, the
        # descriptors at 0.5): the recipe's other numbers are not chosen again on these folds.
        at_shipped = {}
        for encoder in speech_experts:
            parts = [others[n] for n in base_weights] + [screen.out_of_fold(Variant(encoder, c=SHIPPED_C))]
            logits = combine_logits(*parts, weights=[*base_weights.values(), SHIPPED_WEIGHT])
            at_shipped[f"shipped experts + {encoder} (C {SHIPPED_C:g}, weight {SHIPPED_WEIGHT:g}, as for tiny.en)"] = \
                screen.fold_scores(logits)
        combinations.update(at_shipped)
        for name, scores in combinations.items():
            results[name] = {"folds": scores, **{c: float(np.mean([s[c] for s in scores])) for c in ("ravdess", "savee")}}
        picks["combination"] = blind_pick(combinations)
        picks["encoder at the shipped C and weight"] = blind_pick(at_shipped)
    report_file = SPEECH_SCREEN_FILE
    earlier = json.loads(report_file.read_text())["results"] if report_file.exists() else {}
    results.update({name: row for name, row in earlier.items()  # (the rows of `attentive` and `context`)
                    if "attentive" in name or "padded" in name})
    report = {"results": results, "best_c": best_c, "blind_picks": picks}
    report_file.write_text(json.dumps(report, indent=1) + "\n")
    return report


# -- attentive pooling ----------------------------------------------------------------------------------
ATTENTIVE_ENCODER = "whisper-base"
ATTENTIVE_EPOCHS = 30


def state_sequences(screen_paths: list[Path], name: str) -> list[np.ndarray]:
    """Each clip's hidden states as recorded, (n_states_in_time, n_hidden_states, width) float16, cached."""
    from avemo.audio.functionals import file_speech, per_file_cached
    from avemo.audio.speech_encoder import encoder_states, pinned

    cfg = replace(AUDIO_FEATURES, kind="mfcc")
    single = SpeechEncoderConfig(encoder=name)
    settings = SpeechEncoderConfig(encoder=f"{name}:{pinned(name).sha256[:16]}:states")
    return [per_speed[0] for per_speed in per_file_cached(
        "audio-speech-states", f"encoder states ({name})", screen_paths, settings, cfg, (1.0,), True,
        lambda path, speed: encoder_states(file_speech(path, cfg, speed), single)[0].transpose(1, 0, 2)
        .astype(np.float16))]


def build_attentive_head(n_states: int, width: int, hidden: int = 256, dropout: float = 0.3):
    """Learnt softmax weights over the hidden states, a projection, then attentive statistics pooling over
    time (a weighted mean and standard deviation, padding masked out), dropout and a linear layer: logits."""
    import keras
    from keras import layers, ops

    class WeightedStates(layers.Layer):
        def build(self, input_shape):
            self.mix = self.add_weight(shape=(n_states,), initializer="zeros", name="mix")

        def call(self, states):
            return ops.einsum("btlw,l->btw", states, ops.softmax(self.mix))

    class AttentiveStatistics(layers.Layer):
        def call(self, inputs):
            values, scores, mask = inputs
            scores = ops.squeeze(scores, -1) + (1.0 - mask) * -1e9
            weights = ops.softmax(scores, axis=1)[..., None]
            mean = ops.sum(values * weights, axis=1)
            variance = ops.sum(ops.square(values) * weights, axis=1) - ops.square(mean)
            return ops.concatenate([mean, ops.sqrt(ops.maximum(variance, 1e-6))], axis=-1)

    states = keras.Input((None, n_states, width), name="states")
    mask = keras.Input((None,), name="mask")
    x = WeightedStates(name="mix")(states)
    x = layers.Dense(hidden, activation="gelu", name="project")(x)
    x = layers.Dropout(dropout)(x)
    scores = layers.Dense(1, name="score")(layers.Dense(64, activation="tanh", name="attend")(x))
    pooled = AttentiveStatistics(name="pool")([x, scores, mask])
    pooled = layers.Dropout(dropout)(pooled)
    return keras.Model([states, mask], layers.Dense(len(EMOTIONS), name="logits")(pooled))


def padded_batch(sequences: list[np.ndarray], mean: np.ndarray, std: np.ndarray) -> dict[str, np.ndarray]:
    """Standardised sequences padded with zeros to the longest, and their masks."""
    longest = max(len(seq) for seq in sequences)
    batch = np.zeros((len(sequences), longest, *sequences[0].shape[1:]), np.float32)
    mask = np.zeros((len(sequences), longest), np.float32)
    for i, seq in enumerate(sequences):
        batch[i, :len(seq)] = (seq.astype(np.float32) - mean) / std
        mask[i, :len(seq)] = 1.0
    return {"states": batch, "mask": mask}


def attentive_fold_logits(sequences: list[np.ndarray], labels: np.ndarray, folds: np.ndarray, fold: int,
                          seed: int = 1234) -> np.ndarray:
    """The held-out fold's logits of an attentive head trained on the other folds (cached under SCREEN_DIR)."""
    import keras

    from avemo.audio.training import class_weights

    out = SCREEN_DIR / f"attentive-{ATTENTIVE_ENCODER}_fold-{fold}.npy"
    if out.exists():
        return np.load(out)
    keras.utils.set_random_seed(seed)
    train, test = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
    frames = np.concatenate([sequences[i] for i in train]).astype(np.float32)
    mean, std = frames.mean(axis=0), frames.std(axis=0) + 1e-5
    del frames
    weights = class_weights(labels[train])
    rng = np.random.default_rng(seed)

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.order = rng.permutation(train)

        def __len__(self):
            return int(np.ceil(len(train) / 32))

        def __getitem__(self, index):
            ids = self.order[index * 32:(index + 1) * 32]
            return padded_batch([sequences[i] for i in ids], mean, std), labels[ids], weights[np.searchsorted(train, ids)]

        def on_epoch_end(self):
            self.order = rng.permutation(train)

    model = build_attentive_head(*sequences[0].shape[1:])
    data = Batches()
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, len(data) * ATTENTIVE_EPOCHS)
    model.compile(keras.optimizers.AdamW(schedule, weight_decay=1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(data, epochs=ATTENTIVE_EPOCHS, verbose=2)
    logits = np.concatenate([np.asarray(model(padded_batch([sequences[i] for i in test[s:s + 64]], mean, std),
                                              training=False)) for s in range(0, len(test), 64)])
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, logits.astype(np.float32))
    return logits


def run_attentive(root: Path) -> dict:
    """The attentive head's fold scores beside the regression's on the same clips as recorded."""
    clips = load_corpus(root)
    labels = np.array([c.label for c in clips])
    corpus = np.array([c.corpus for c in clips])
    folds = protocol_folds(clips)
    sequences = state_sequences([c.path for c in clips], ATTENTIVE_ENCODER)
    logits = np.zeros((len(clips), len(EMOTIONS)), np.float32)
    for fold in range(fold_count()):
        logits[folds == fold] = attentive_fold_logits(sequences, labels, folds, fold)
        print(f"fold {fold}: {accuracies(logits[folds == fold], labels[folds == fold], corpus[folds == fold])}",
              flush=True)
    scores = [accuracies(logits[folds == f], labels[folds == f], corpus[folds == f]) for f in range(fold_count())]
    result = {"folds": scores, **{c: float(np.mean([s[c] for s in scores])) for c in ("ravdess", "savee")}}
    report_file = SPEECH_SCREEN_FILE
    report = json.loads(report_file.read_text()) if report_file.exists() else {"results": {}, "blind_picks": {}}
    report["results"][f"{ATTENTIVE_ENCODER}, attentive pooling over learnt state weights, as recorded"] = result
    report_file.write_text(json.dumps(report, indent=1) + "\n")
    return report


# -- padded context ----------------------------------------------------------------------------------
CONTEXT_SECONDS = (10, 30)


def padded_representation(speech: np.ndarray, name: str, seconds: float) -> np.ndarray:
    """`pooled` states of the speech's own frames when the encoder reads it followed by silence up to `seconds`
    (as Whisper was trained: its audio zero-padded to 30 s before the log-mel)."""
    from avemo.audio.functionals import level_normalised
    from avemo.audio.speech_encoder import WHISPER_HOP, WHISPER_SAMPLE_RATE, load_encoder, pooled, whisper_log_mel

    speech = level_normalised(speech, WHISPER_SAMPLE_RATE, SpeechEncoderConfig().level_dbfs)
    padded = np.zeros(max(len(speech), int(seconds * WHISPER_SAMPLE_RATE)), np.float32)
    padded[:len(speech)] = speech
    states = load_encoder(name)(whisper_log_mel(padded))
    return pooled(states[:, :max(1, len(speech) // WHISPER_HOP // 2)])


def run_context(root: Path, name: str = "whisper-base") -> dict:
    """The regression (C 0.03, clips as recorded) on padded-context statistics, beside the unpadded row."""
    from avemo.audio.functionals import file_speech, per_file_cached
    from avemo.audio.speech_encoder import pinned

    screen = Screen(root, (name,))
    cfg = replace(AUDIO_FEATURES, kind="mfcc")
    paths = [Path(p) for p in screen.paths]
    report = json.loads(SPEECH_SCREEN_FILE.read_text())
    for seconds in CONTEXT_SECONDS:
        settings = SpeechEncoderConfig(encoder=f"{name}:{pinned(name).sha256[:16]}:padded-{seconds}s")
        features = np.stack(per_file_cached(
            "audio-speech", f"speech encoder ({name}, padded to {seconds} s)", paths, settings, cfg, (1.0,), True,
            lambda path, speed: padded_representation(file_speech(path, cfg, speed), name, seconds)))
        key = f"{name}:padded-{seconds}s"
        screen.features[key], screen.n_states[key] = features, screen.n_states[name]
        variant = Variant(key, speed_copies=False)
        scores = screen.fold_scores(screen.out_of_fold(variant))
        report["results"][f"{name} padded with silence to {seconds} s, all layers, mean+std, C=0.03, as recorded"] = {
            "folds": scores, **{c: float(np.mean([s[c] for s in scores])) for c in ("ravdess", "savee")}}
        print(f"{name} padded to {seconds} s: {report['results'][list(report['results'])[-1]]}", flush=True)
    SPEECH_SCREEN_FILE.write_text(json.dumps(report, indent=1) + "\n")
    return report


def print_report(report: dict) -> None:
    print("| variant | RAVDESS (fold mean) | SAVEE (fold mean) |\n|---|---|---|")
    for name, result in report["results"].items():
        print(f"| {name} | {result['ravdess']:.1%} | {result['savee']:.1%} |")
    for what, pick in report["blind_picks"].items():
        for name, blind in ([(what, pick)] if "folds" in pick else pick.items()):
            print(f"blind pick of {name}: RAVDESS {blind['ravdess']:.1%}, SAVEE {blind['savee']:.1%} "
                  f"({'; '.join(p['pick'] for p in blind['folds'])})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["screen", "attentive", "context", "report"])
    parser.add_argument("--data-dir", help="folder holding ravdess/ and savee/ (default: $AVEMO_DATA or ../shared/data)")
    args = parser.parse_args(argv)
    if args.stage == "screen":
        report = run(data_dir(args.data_dir))
    elif args.stage == "attentive":
        report = run_attentive(data_dir(args.data_dir))
    elif args.stage == "context":
        report = run_context(data_dir(args.data_dir))
    else:
        report = json.loads(SPEECH_SCREEN_FILE.read_text())
    print_report(report)


if __name__ == "__main__":
    main()
