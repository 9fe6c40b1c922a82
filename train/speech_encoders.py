"""Screen the pretrained speech encoders for the audio model's speech expert, on the audio evaluation's folds.

    python -m train.speech_encoders screen [--data-dir DIR]   # every variant, fold by fold (cached in runs/)
    python -m train.speech_encoders report                    # the table, from what is cached

The speech expert is a logistic regression on statistics over time of a frozen Whisper encoder's hidden
states (avemo.audio.speech_encoder). What is screened, each on the same speaker folds as `train.audio
evaluate` (RAVDESS 4 folds by actor, SAVEE leave one speaker out, in one set of trainings):
- the encoder: Whisper tiny.en (shipped so far) against Whisper base;
- which hidden states: every layer, each layer alone, the upper half;
- the pooling: mean and standard deviation over time, or the mean alone;
- the regression's inverse L2 strength C;
- the speed copies (0.9x / 1.1x) as extra training examples or not;
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
from train.audio import RUNS_DIR, fold_count, fold_file, load_corpus, protocol_folds

SCREEN_DIR = RUNS_DIR / "speech-screen"
ENCODER_NAMES = ("whisper-tiny.en", "whisper-base")
SPEEDS = (1.0, 0.9, 1.1)  # as AudioTrainingConfig.speeds
C_GRID = (0.01, 0.03, 0.1)
WEIGHT_GRID = (1.0, 2.0, 3.0, 4.0, 6.0)


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
        self.features, self.n_states = {}, {}
        for name in encoders:
            self.features[name] = extract_speech_cached([c.path for c in clips], SpeechEncoderConfig(encoder=name),
                                                        replace(AUDIO_FEATURES, kind="mfcc"), SPEEDS)
            self.n_states[name] = load_encoder(name).n_layers + 2

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
    # 2. Which states (as recorded only: the speed copies triple the cost), and the pooling.
    for encoder in ENCODER_NAMES:
        for layer in range(screen.n_states[encoder]):
            measure(Variant(encoder, layers=(layer,), speed_copies=False))
        upper = tuple(range(screen.n_states[encoder] // 2, screen.n_states[encoder]))
        measure(Variant(encoder, layers=upper))
        measure(Variant(encoder, statistics="mean"))
        measure(Variant(encoder, speed_copies=False))
    best_c = {encoder: max(C_GRID, key=lambda c: score(results[Variant(encoder, c=c).name]["folds"]))
              for encoder in ENCODER_NAMES}
    picks = {"C": {encoder: blind_pick({Variant(encoder, c=c).name: results[Variant(encoder, c=c).name]["folds"]
                                        for c in C_GRID}) for encoder in ENCODER_NAMES}}
    # 3. Beside the shipped model's other experts: the weight, and both encoders together.
    others = shipped_experts(screen)
    combinations = {}
    if others is not None:
        speech = {encoder: screen.out_of_fold(Variant(encoder, c=best_c[encoder])) for encoder in ENCODER_NAMES}
        base_weights = {"frames": 1.0, "functionals": 1.0, "descriptors": 0.5}

        def combined(name: str, speech_parts: dict[str, float], drop: tuple[str, ...] = ()):
            parts = [(others[n], w) for n, w in base_weights.items() if n not in drop]
            parts += [(speech[e], w) for e, w in speech_parts.items()]
            logits = combine_logits(*(p for p, _ in parts), weights=[w for _, w in parts])
            combinations[name] = screen.fold_scores(logits)

        for weight in WEIGHT_GRID:
            for encoder in ENCODER_NAMES:
                combined(f"shipped experts + {encoder} (weight {weight:g})", {encoder: weight})
            combined(f"shipped experts + both encoders (weight {weight:g} each)",
                     {e: weight for e in ENCODER_NAMES})
            combined(f"shipped experts without descriptors + whisper-base (weight {weight:g})",
                     {"whisper-base": weight}, drop=("descriptors",))
        for name, scores in combinations.items():
            results[name] = {"folds": scores, **{c: float(np.mean([s[c] for s in scores])) for c in ("ravdess", "savee")}}
        picks["combination"] = blind_pick(combinations)
    report = {"results": results, "best_c": best_c, "blind_picks": picks}
    (SCREEN_DIR / "screen.json").write_text(json.dumps(report, indent=1) + "\n")
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
    parser.add_argument("stage", choices=["screen", "report"])
    parser.add_argument("--data-dir", help="folder holding ravdess/ and savee/ (default: $AVEMO_DATA or ../shared/data)")
    args = parser.parse_args(argv)
    if args.stage == "screen":
        report = run(data_dir(args.data_dir))
    else:
        report = json.loads((SCREEN_DIR / "screen.json").read_text())
    print_report(report)


if __name__ == "__main__":
    main()
