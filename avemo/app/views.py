"""What the page shows for one result (see avemo.predict): pure functions from the result dict to text,
charts and HTML, so each can be tested without a server.

    view = result_view(result, "clip.mp4", modality="both", frames=preview)
    view.summary      # Markdown: the verdict, how voice and face relate, why, what the face showed, notes
    view.charts       # {"audio", "video", "fused", "timeline", "contributions"} -> plotly figure, or None: hidden
    view.frames       # HTML: the face frames the model looked at, captions whole, images inline
    view.download     # HTML: a link that downloads the full result as JSON, inline

Nothing here writes a file: the face frames and the JSON travel to the browser inside the page, so nothing
derived from a visitor's clip is left on the server's disk to be cleaned up.
"""
from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from avemo.config import ACTION_UNITS_SOURCE, EMOTIONS, MODALITIES, SPEECH_CORPORA

MODALITY_NAMES = {"audio": "Voice", "video": "Face", "fused": "Both together"}
CHARTS = ("audio", "video", "fused", "timeline", "contributions")
WAITING = "Results appear here: pick an example or give a clip, then press **Analyse**."
NO_CLIP = "**No clip yet:** upload or record one (or click an example), then press **Analyse**."
FRAMES_TITLE = "What the face model looked at: sampled frames, the crop it saw (corner), its verdict on each"
# The weights of the fusion are worth a word only when the two modalities counted unequally by this much.
UNEQUAL_WEIGHTS = 0.05
# A face whose per-frame readings all stay within this of each other (for every emotion) kept one expression.
STEADY_FACE_RANGE = 0.15
# Why a modality counts for less in the fusion (its `reliability`, see avemo.predict and avemo.face.video).
LESS_RELIABLE_BECAUSE = {"audio": "there is little speech", "video": "a clear face was seen in few of the frames"}
FRAME_PIXELS = 360  # the longer side of a face frame as sent to the browser


@dataclass
class PageView:
    summary: str
    charts: dict = field(default_factory=dict)   # CHARTS -> figure; missing or None: the chart is hidden
    timeline_notes: list[str] = field(default_factory=list)
    frames: str = ""
    download: str = ""


# -- the summary ------------------------------------------------------------------------------------
def summary_markdown(result: dict, name: str) -> str:
    """One line saying what avemo found (or why it could not), then why, what the face showed, any notes."""
    if result.get("error"):
        return f"**Could not analyse {name}:** {result['error']}"
    fused = result.get("fused") or {}
    used = [m for m in (fused.get("modalities") or MODALITIES) if result.get(m)]
    label = fused.get("label") or max(fused["probs"], key=fused["probs"].get)
    confidence = fused.get("confidence", fused["probs"][label])
    parts = [f"**{name} → {label}** ({confidence:.0%}) from " + " and ".join(MODALITY_NAMES[m].lower() for m in used)]
    if len(used) > 1:
        parts.append(", ".join(f"{MODALITY_NAMES[m].lower()}: {result[m]['label']} "
                               f"({max(result[m]['probs'].values()):.0%})" for m in used))
        if (fused.get("agreement") or {}).get("message"):
            parts.append(fused["agreement"]["message"])
    lines = [" · ".join(parts)]  # e.g. "**clip.mp4 → angry** (72%) from voice and face · voice: angry (98%), ..."
    if len(used) > 1:
        lines.append(f"- Why: {fused['reason']}" if fused.get("reason") else None)
        lines.append(_weights_line(fused.get("weights") or {}))
    lines.append(_face_line(result.get("video")))
    for modality, reason in (result.get("unavailable") or {}).items():
        lines.append(f"- {MODALITY_NAMES.get(modality, modality)} not analysed: {reason}")
    lines += [f"- Note: {note}" for note in result.get("notes") or []]
    return "\n".join(line for line in lines if line)


def _weights_line(weights: dict[str, float]) -> str | None:
    """The fusion's weights, said only where the two modalities counted unequally, with why."""
    if len(weights) < 2 or abs(weights["audio"] - weights["video"]) < UNEQUAL_WEIGHTS:
        return None
    lighter, heavier = sorted(MODALITIES, key=weights.get)
    return (f"- The {MODALITY_NAMES[lighter].lower()} counted for less ({weights[lighter]:.0%} of the weight, the "
            f"{MODALITY_NAMES[heavier].lower()} {weights[heavier]:.0%}): {LESS_RELIABLE_BECAUSE[lighter]}")


def face_kept_one_expression(video: dict) -> bool | None:
    """Whether the face held one expression through the clip, judged by the face model's readings of each
    sampled frame (or else of each window): they stay alike on a face that does not move. None with a single
    reading, which cannot tell."""
    readings = ([frame["probs"] for frame in video.get("frame_timeline") or []]
                or [window["probs"] for window in video.get("timeline") or []])
    if len(readings) < 2:
        return None
    spread = max(max(r[e] for r in readings) - min(r[e] for r in readings) for e in EMOTIONS)
    return spread <= STEADY_FACE_RANGE


def _face_line(video: dict | None) -> str | None:
    """The face's blendshapes in words (e.g. "smiling, cheeks raised"): what it did where its expression changed,
    what it showed where it held one (a still photo, say), never movement the frames do not show."""
    movements = (video or {}).get("face_movements")
    if not movements:
        return None
    said = ", ".join(str(m) for m in movements)
    steady = face_kept_one_expression(video)
    if steady is None:
        return f"- What the face showed: {said}"
    if steady:
        return f"- What the face showed, the same in every sampled frame: {said}"
    return f"- What the face did: {said}"


# -- the charts ---------------------------------------------------------------------------------------
def figures(result: dict, modality: str = "both") -> dict:
    """The page's charts for one result, None where a chart would say nothing: for the voice tab (modality
    "audio") the voice's bars and timeline only; "both together" and the votes only where both were fused."""
    from avemo.app.plots import contribution_bars, probability_bars, probability_timeline

    if result.get("error"):
        return dict.fromkeys(CHARTS)
    wanted = MODALITIES if modality == "both" else (modality,)
    unavailable = result.get("unavailable") or {}
    fused = result.get("fused") or {}
    both = len(fused.get("modalities") or []) > 1
    charts = {}
    for key in MODALITIES:
        part = result.get(key)
        charts[key] = (probability_bars(part["probs"] if part else None, MODALITY_NAMES[key],
                                        unavailable.get(key, "not analysed"), subtitle=_accuracy(part))
                       if key in wanted else None)
    charts["fused"] = probability_bars(fused["probs"], MODALITY_NAMES["fused"]) if both else None
    charts["timeline"] = probability_timeline(result, wanted, names=MODALITY_NAMES)
    charts["contributions"] = contribution_bars(fused, MODALITY_NAMES) if both and fused.get("contributions") else None
    return charts


def _accuracy(face: dict | None) -> str | None:
    """The face model is far less sure than its bars look: say how often it is right."""
    if not face or not isinstance(face.get("measured_accuracy"), float):
        return None
    where = "on held-out actors" if face.get("source") == ACTION_UNITS_SOURCE else "on labelled faces"
    return f"right {face['measured_accuracy']:.0%} of the time {where}"


# -- the face frames and the download, inline ------------------------------------------------------------
def jpeg_data_uri(rgb, longest_side: int = FRAME_PIXELS) -> str:
    from PIL import Image

    image = Image.fromarray(rgb)
    image.thumbnail((longest_side, longest_side))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def face_strip_html(frames: list[tuple]) -> str:
    """The sampled frames (RGB image, caption), each with its caption whole beneath it; "" for none."""
    if not frames:
        return ""
    figures_html = "".join(
        f'<figure><img src="{jpeg_data_uri(image)}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>" for image, caption in frames)
    return f'<div class="strip-title">{FRAMES_TITLE}</div><div class="face-strip">{figures_html}</div>'


def download_html(result: dict, name: str) -> str:
    """A link that saves the full result as avemo-<name>.json (the data is in the link itself)."""
    data = (json.dumps(result, indent=1) + "\n").encode()
    file_name = f"avemo-{Path(name).stem or 'clip'}.json"
    return (f'<a class="result-download" download="{html.escape(file_name)}" '
            f'href="data:application/json;base64,{base64.b64encode(data).decode()}">'
            f"Download the full result: {html.escape(file_name)} ({len(data) / 1024:.1f} KB)</a>")


def result_view(result: dict, name: str, modality: str = "both", frames: list[tuple] = ()) -> PageView:
    """Everything the page shows for one analysed clip."""
    from avemo.app.plots import timeline_notes

    if result.get("error"):  # said once, in the summary where the eye goes: no chart repeating it
        return PageView(summary_markdown(result, name), download=download_html(result, name))
    wanted = MODALITIES if modality == "both" else (modality,)
    return PageView(summary_markdown(result, name), figures(result, modality),
                    timeline_notes(result, wanted, MODALITY_NAMES), face_strip_html(list(frames)),
                    download_html(result, name))


# -- what the page says about its models and examples -------------------------------------------------
def voice_languages(audio_folder: Path | None) -> str | None:
    """Which speech the voice model learnt from, read from its folder's config.json, whose "trained_on" counts
    each corpus's clips ("<corpus>_clips": n): e.g. "English (RAVDESS, SAVEE) and German (EmoDB)". None where
    the folder does not say, so a retrained model is described as it is."""
    try:
        trained_on = json.loads((Path(audio_folder) / "config.json").read_text()).get("trained_on") or {}
    except (OSError, TypeError, ValueError):
        return None
    by_language: dict[str, dict[str, int]] = {}  # the language most of its speech was in first, then the others
    for key, clips in trained_on.items():
        if key.endswith("_clips") and clips:
            corpus, language = SPEECH_CORPORA.get(key.removesuffix("_clips"), (key.removesuffix("_clips"), "?"))
            by_language.setdefault(language, {})[corpus] = clips

    def largest_first(clips: dict[str, int]) -> list[str]:
        return sorted(clips, key=lambda name: -clips[name])

    languages = largest_first({language: sum(corpora.values()) for language, corpora in by_language.items()})
    return " and ".join(f"{language} ({', '.join(largest_first(by_language[language]))})"
                        for language in languages) or None


def voice_measured(audio_folder: Path | None) -> str | None:
    """How the voice model fared beyond the speakers it learnt from, from its folder's evaluation.json (written
    by train.audio with the model): its UAR on each corpus held out of training, and its accuracy on held-out
    actors in noise and through a browser's codec. None where the folder has no such figures."""
    try:
        report = json.loads((Path(audio_folder) / "evaluation.json").read_text())
        cross = {corpus: s["own classes"]["uar"] for corpus, s in report["cross_corpus"].items()}
        noisy = {condition: report["robustness"][condition]["pooled"]["accuracy"]
                 for condition in ("pink@10dB", "babble@10dB", "opus") if condition in report["robustness"]}
    except (OSError, TypeError, ValueError, KeyError):
        return None
    held_out = ", ".join(f"{SPEECH_CORPORA.get(c, (c,))[0]} {100 * v:.0f}%" for c, v in cross.items())
    names = {"pink@10dB": "in fan-like noise at 10 dB", "babble@10dB": "in a babble of voices at 10 dB",
             "opus": "through a browser's codec"}
    conditions = ", ".join(f"{names[c]} {100 * v:.0f}%" for c, v in noisy.items())
    return (f"Tested on a whole corpus it never heard, it got right on average {held_out} of each emotion's clips"
            + (f"; on unseen actors, {conditions}" if conditions else "") + ".")


# The bundled examples (examples/README.md says how each was made): their emotion and what they are.
EXAMPLE_CAPTIONS = {
    "ravdess-actor01-angry.mp4": "angry voice, still face (RAVDESS actor 1)",
    "ravdess-actor08-sad.mp4": "sad voice, still face (RAVDESS actor 8)",
    "ravdess-actor03-happy-synthetic-smile.mp4": "happy voice, face made to smile (synthetic; RAVDESS actor 3)",
    "ravdess-actor03-happy.flac": "happy voice (RAVDESS actor 3)",
    "savee-KL-surprised.flac": "surprised voice (SAVEE speaker KL)",
}


def example_caption(path: Path) -> str:
    return EXAMPLE_CAPTIONS.get(Path(path).name, Path(path).name)
