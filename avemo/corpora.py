"""Readers for the emotion corpora as released: RAVDESS (speech audio and video), SAVEE and EmoDB.

Each reader yields `Clip`s (path, emotion, speaker, corpus). Files whose names do not parse
are counted in a `ScanReport`, never silently dropped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from avemo.config import EMOTIONS

RAVDESS_EMOTION_CODES = {f"{i + 1:02d}": name for i, name in enumerate(EMOTIONS)}
SAVEE_EMOTION_CODES = {
    "a": "angry", "d": "disgust", "f": "fearful", "h": "happy",
    "n": "neutral", "sa": "sad", "su": "surprised",
}
SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")
# EmoDB's emotion letters (German initials). Boredom (L, Langeweile) has no counterpart among the product's
# eight emotions: it is not a training class, and the readers skip it unless asked (the audio card reports
# what the voice model says of those clips instead).
EMODB_EMOTION_CODES = {
    "W": "angry", "E": "disgust", "A": "fearful", "F": "happy", "T": "sad", "N": "neutral", "L": "boredom",
}
EMODB_UNMAPPED = "boredom"
EMODB_MALE_SPEAKERS = frozenset({"03", "10", "11", "12", "15"})  # the other five (08, 09, 13, 14, 16) are women
# The corpora's languages, as the page and the model card name them.
CORPUS_LANGUAGES = {"ravdess": "English", "savee": "English", "emodb": "German"}

# modality-channel-emotion-intensity-statement-repetition-actor
_RAVDESS_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
_SAVEE_NAME = re.compile(r"^(DC|JE|JK|KL)_(sa|su|a|d|f|h|n)(\d{2})$")
# speaker (2 digits), text (a letter and 2 digits), emotion letter, version letter: "03a01Fa"
_EMODB_NAME = re.compile(r"^(\d{2})([ab]\d{2})([WLEAFTN])([a-z])$")


class CorpusError(RuntimeError):
    """A corpus folder is missing, empty or unusable; the message says what to do."""


@dataclass(frozen=True)
class Clip:
    path: Path
    emotion: str
    speaker: str   # globally unique: "ravdess-01", "savee-DC", "emodb-03"
    corpus: str    # "ravdess", "savee" or "emodb"

    @property
    def label(self) -> int:
        return EMOTIONS.index(self.emotion)


@dataclass
class ScanReport:
    corpus: str
    folder: Path
    clips: list[Clip] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.corpus}: {len(self.clips)} clips from {self.folder}"
        if self.skipped:
            text += f", {len(self.skipped)} files skipped (first: {self.skipped[0][0].name}: {self.skipped[0][1]})"
        return text


def parse_ravdess_name(stem: str) -> dict | None:
    """Fields of a RAVDESS file name such as '03-01-05-02-01-01-12', or None if it does not parse."""
    match = _RAVDESS_NAME.match(stem)
    if not match:
        return None
    modality, channel, emotion, intensity, statement, repetition, actor = match.groups()
    if emotion not in RAVDESS_EMOTION_CODES:
        return None
    return {
        "modality": modality, "channel": channel, "emotion": RAVDESS_EMOTION_CODES[emotion],
        "intensity": intensity, "statement": statement, "repetition": repetition, "actor": int(actor),
    }


def parse_savee_name(stem: str) -> dict | None:
    """Fields of a SAVEE file name such as 'DC_sa03', or None if it does not parse."""
    match = _SAVEE_NAME.match(stem)
    if not match:
        return None
    speaker, code, number = match.groups()
    return {"speaker": speaker, "emotion": SAVEE_EMOTION_CODES[code], "number": int(number)}


def parse_emodb_name(stem: str) -> dict | None:
    """Fields of an EmoDB file name such as '03a01Fa', or None if it does not parse."""
    match = _EMODB_NAME.match(stem)
    if not match:
        return None
    speaker, text, code, version = match.groups()
    return {"speaker": speaker, "text": text, "emotion": EMODB_EMOTION_CODES[code], "version": version}


def _require_folder(folder: Path, corpus: str) -> None:
    if not folder.is_dir():
        raise CorpusError(
            f"{corpus} folder not found: {folder}. Point --data-dir (or AVEMO_DATA) at the folder "
            f"that holds ravdess/, savee/ and emodb/ (see ../shared/data/README.md)."
        )


def _scan(folder: Path, corpus: str, pattern: str, make_clip) -> ScanReport:
    _require_folder(folder, corpus)
    report = ScanReport(corpus, folder)
    for path in sorted(folder.glob(pattern)):
        if not path.is_file():
            continue
        clip = make_clip(path)
        if isinstance(clip, Clip):
            report.clips.append(clip)
        else:
            report.skipped.append((path, clip))
    if not report.clips:
        raise CorpusError(f"no {corpus} clips found under {folder} (looked for {pattern}).")
    return report


def scan_ravdess(root: Path, modality: str = "audio") -> ScanReport:
    """RAVDESS speech clips under `root/ravdess/<modality>/Actor_XX/`.

    modality "audio" reads 03-01-* (audio-only speech); "video" reads 01-01-* (audio-video)
    and 02-01-* (video-only) mp4 files, laid out as in the official Video_Speech_Actor_XX zips.
    """
    wanted = {"audio": {"03"}, "video": {"01", "02"}}[modality]
    suffixes = {"audio": (".flac", ".wav"), "video": (".mp4",)}[modality]

    def make_clip(path: Path):
        if path.suffix.lower() not in suffixes:
            return f"not a {'/'.join(suffixes)} file"
        fields = parse_ravdess_name(path.stem)
        if fields is None:
            return "name does not follow the RAVDESS convention"
        if fields["modality"] not in wanted or fields["channel"] != "01":
            return f"modality {fields['modality']}-{fields['channel']} is not {modality} speech"
        return Clip(path, fields["emotion"], f"ravdess-{fields['actor']:02d}", "ravdess")

    return _scan(Path(root) / "ravdess" / modality, "RAVDESS " + modality, "Actor_*/*", make_clip)


def scan_savee(root: Path) -> ScanReport:
    """SAVEE audio clips under `root/savee/audio/`."""

    def make_clip(path: Path):
        if path.suffix.lower() not in (".flac", ".wav"):
            return "not a .flac/.wav file"
        fields = parse_savee_name(path.stem)
        if fields is None:
            return "name does not follow the SAVEE convention"
        return Clip(path, fields["emotion"], f"savee-{fields['speaker']}", "savee")

    return _scan(Path(root) / "savee" / "audio", "SAVEE", "*", make_clip)


def scan_emodb(root: Path, include_boredom: bool = False) -> ScanReport:
    """EmoDB clips under `root/emodb/audio/`. Boredom clips are skipped (counted in the report) unless
    `include_boredom`: their `emotion` is then EMODB_UNMAPPED, which has no label among EMOTIONS."""

    def make_clip(path: Path):
        if path.suffix.lower() not in (".flac", ".wav"):
            return "not a .flac/.wav file"
        fields = parse_emodb_name(path.stem)
        if fields is None:
            return "name does not follow the EmoDB convention"
        if fields["emotion"] == EMODB_UNMAPPED and not include_boredom:
            return "boredom has no counterpart among avemo's emotions"
        return Clip(path, fields["emotion"], f"emodb-{fields['speaker']}", "emodb")

    return _scan(Path(root) / "emodb" / "audio", "EmoDB", "*", make_clip)


def speaker_sex(speaker: str) -> str | None:
    """'male' / 'female' where the corpus says so (RAVDESS: odd actors are male; SAVEE: all male; EmoDB: its
    documentation's list)."""
    corpus, _, ident = speaker.partition("-")
    if corpus == "ravdess":
        return "male" if int(ident) % 2 else "female"
    if corpus == "savee":
        return "male"
    if corpus == "emodb":
        return "male" if ident in EMODB_MALE_SPEAKERS else "female"
    return None


def speaker_folds(clips: list[Clip], n_folds: int) -> list[int]:
    """Assign every clip a fold so that whole speakers are held out together.

    Within each corpus, speakers are ordered by sex and then name and dealt round-robin to the
    folds, so every fold holds out men *and* women (a fold of one sex only is harder and widens
    the spread between folds: measured 42% vs 47% for the same SVM on RAVDESS) and, with 4
    folds, exactly one SAVEE speaker: one set of trainings gives RAVDESS grouped k-fold and
    SAVEE leave-one-speaker-out at once.
    """
    fold_of_speaker: dict[str, int] = {}
    for corpus in sorted({c.corpus for c in clips}):
        speakers = sorted({c.speaker for c in clips if c.corpus == corpus},
                          key=lambda s: (speaker_sex(s) or "", s))
        for i, speaker in enumerate(speakers):
            fold_of_speaker[speaker] = i % n_folds
    return [fold_of_speaker[c.speaker] for c in clips]


# The speaker-independent folds of Luna-Jiménez et al. (2022), "A Proposal for Multimodal Emotion
# Recognition Using Aural Transformers and Action Units on RAVDESS Dataset" (Applied Sciences 12(1):327):
# RAVDESS actors per fold. Actors 21 and 22 are not on the project's machines; their folds are smaller here.
LUNA_JIMENEZ_2022_FOLDS: tuple[frozenset[int], ...] = (
    frozenset({2, 5, 14, 15, 16}), frozenset({3, 6, 7, 13, 18}), frozenset({10, 11, 12, 19, 20}),
    frozenset({8, 17, 21, 23, 24}), frozenset({1, 4, 9, 22}),
)
ALWAYS_TRAINED = -1  # the fold of a speaker that no fold of a protocol holds out


def ravdess_actor(speaker: str) -> int | None:
    """The RAVDESS actor number of a speaker id such as 'ravdess-08', else None."""
    corpus, _, ident = speaker.partition("-")
    return int(ident) if corpus == "ravdess" else None


def published_ravdess_folds(clips: list[Clip], folds=LUNA_JIMENEZ_2022_FOLDS) -> list[int]:
    """Each clip's fold under a published list of RAVDESS actor folds. Clips of other corpora
    (SAVEE) are never held out: they get ALWAYS_TRAINED, so every fold trains on them."""
    fold_of_actor = {actor: i for i, actors in enumerate(folds) for actor in actors}
    assigned = []
    for clip in clips:
        actor = ravdess_actor(clip.speaker)
        if actor is not None and actor not in fold_of_actor:
            raise ValueError(f"RAVDESS actor {actor} is in none of the published folds")
        assigned.append(ALWAYS_TRAINED if actor is None else fold_of_actor[actor])
    return assigned
