"""Where model folders come from: the Hugging Face Hub when reachable, else the bundled weights/.

    source = resolve_weights()          # WeightsSource(folders={"audio": Path, ...}, origin="...")

The Hub repository (`AVEMO_HUB_REPO`, default `HUB_REPO`) holds one folder per model (`audio/`,
`video/`, `fusion/`), each as written by `avemo.models.save_model_folder` plus its model card, at a
pinned revision (`AVEMO_HUB_REVISION`, default `HUB_REVISION`: the tag `train/push.py` creates).
Files land in the normal Hugging Face cache (`HF_HOME` / `HF_HUB_CACHE`), so a second start reads
them from disk.

The bundled `weights/` are used instead, and the reason goes into `origin` and the log, when:
`AVEMO_OFFLINE=1` or `HF_HUB_OFFLINE=1`; the Hub does not answer within `AVEMO_HUB_TIMEOUT` seconds
(default 3) or the whole download takes longer than `AVEMO_HUB_DEADLINE` (default 20); the repo or
revision does not exist; or a downloaded folder fails `check_model_folder` (a file missing, a JSON
file that does not parse, a `model.keras` that is not a sound Keras archive or has no ONNX export beside it). Models are taken all
from the Hub or all from `weights/`, never mixed: the fusion is calibrated on one audio/video pair.
Pickle files (`UNSAFE_PATTERNS`) are never downloaded; a trained fusion comes as trained.skops, which
loads scikit-learn types only (avemo.fusion.rule.load_trained).
Nothing here raises: a failure of any kind ends in the bundled weights.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from avemo.config import MODEL_NAMES, WEIGHTS_DIR

log = logging.getLogger(__name__)

HUB_REPO = "avemo/avemo-models"
# A tag made by train/push.py (v0.2.0: the audio model gained functionals.keras; v0.3.0: its quantile
# layer and descriptors.keras; v0.4.0: the audio models retrained, the CNN without augmentation;
# v0.5.0: the audio model.keras is the CNN alone, without the statistics head; v0.6.0: speech.keras, the
# expert on Whisper tiny.en's encoder states; v0.7.0: face_aus/, the expert on OpenFace action units, and
# a fusion folder measured on paired takes; v0.8.0: video/ gains facex, the Face Landmarker and the
# expression head trained on labelled faces; audio/ gains silero_vad.onnx, the speech gate; v0.9.0: audio/'s
# speech.keras reads Whisper tiny.en and base side by side; v0.10.0: audio/ trained on RAVDESS, SAVEE and EmoDB,
# its verdict the speech expert's (Whisper's middle layers, each clip standardised) and the functionals', without
# the frame CNN and the descriptor expert).
HUB_REVISION = "v0.10.0"
HUB_TIMEOUT_SECONDS = 3.0
HUB_DEADLINE_SECONDS = 20.0

# What a model folder must hold to be loadable (avemo.models.load_model_folder, avemo.fusion.rule.load_fusion).
# Inference reads the ONNX exports; each of the audio folder's experts (the frame CNN, functionals, descriptors,
# speech) is optional but one must be there (ONE_OF_FILES), and a .keras file needs its export beside it.
REQUIRED_FILES: dict[str, tuple[str, ...]] = {
    "audio": ("labels.json", "config.json", "silero_vad.onnx"),
    "video": ("model.onnx", "labels.json", "config.json", "face_landmarker.task", "facex.tflite",
              "expression_head.json"),
    "face_aus": ("model.skops", "config.json"),
    "fusion": ("config.json",),
}
ONE_OF_FILES: dict[str, tuple[str, ...]] = {
    "audio": ("model.onnx", "speech.onnx", "functionals.onnx", "descriptors.onnx"),
}
# Never downloaded: unpickling runs arbitrary code, and Hub files are not ours until checked.
# (Keras archives load in safe mode; a trained fuser is a skops file that builds scikit-learn types only.)
UNSAFE_PATTERNS = ("*.joblib", "*.pkl", "*.pickle")


@dataclass(frozen=True)
class WeightsSource:
    folders: dict[str, Path]  # model name -> folder holding model.keras / config.json / README.md
    origin: str               # one line for the log and the app footer, e.g. "bundled weights/ (Hub unreachable)"
    missing: dict[str, str] = field(default_factory=dict)  # model name -> why it is not in `folders`


class HubUnavailable(Exception):
    """The Hub could not give a complete, valid set of model folders. The message says why."""


def hub_repo() -> str:
    return os.environ.get("AVEMO_HUB_REPO") or HUB_REPO


def hub_revision() -> str:
    return os.environ.get("AVEMO_HUB_REVISION") or HUB_REVISION


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def offline_reason() -> str | None:
    """Why the Hub must not be asked at all, or None."""
    for name in ("AVEMO_OFFLINE", "HF_HUB_OFFLINE"):
        if _truthy(name):
            return f"{name}=1"
    return None


# -- validation --------------------------------------------------------------------------------
def check_keras_archive(path: Path) -> None:
    """Raise ValueError unless `path` is a complete Keras 3 archive (zip with config + weights, CRCs sound)."""
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path.name} is not a Keras archive")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "config.json" not in names or not any(n.startswith("model.weights") for n in names):
                raise ValueError(f"{path.name} lacks the model config or weights")
            bad = archive.testzip()
            if bad is not None:
                raise ValueError(f"{path.name} is corrupt ({bad} fails its checksum)")
            json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, OSError, json.JSONDecodeError, EOFError) as error:
        raise ValueError(f"{path.name} is corrupt ({type(error).__name__})") from None


def check_model_folder(folder: Path, name: str) -> None:
    """Raise ValueError with a one-line reason unless `folder` holds a loadable model folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{name}: no folder")
    for required in REQUIRED_FILES.get(name, ("config.json",)):
        if not (folder / required).is_file():
            raise ValueError(f"{name}: {required} is missing")
    if name in ONE_OF_FILES and not any((folder / file).is_file() for file in ONE_OF_FILES[name]):
        raise ValueError(f"{name}: no model (none of {', '.join(ONE_OF_FILES[name])})")
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        if path.suffix == ".json":
            try:
                json.loads(path.read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                raise ValueError(f"{name}: {path.name} does not parse") from None
        elif path.suffix == ".keras":
            try:
                check_keras_archive(path)
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
            if not path.with_suffix(".onnx").is_file():
                raise ValueError(f"{name}: {path.with_suffix('.onnx').name} is missing (the export of {path.name})")
        elif path.suffix == ".onnx" and path.read_bytes()[:1] != b"\x08":  # an ONNX file opens with its IR version
            raise ValueError(f"{name}: {path.name} is not an ONNX model")
        elif path.suffix in (".skops", ".task") and not zipfile.is_zipfile(path):  # (both are zip archives)
            raise ValueError(f"{name}: {path.name} is not a {path.suffix[1:]} archive")
        elif path.suffix == ".tflite" and path.read_bytes()[4:8] != b"TFL3":  # the TensorFlow Lite file mark
            raise ValueError(f"{name}: {path.name} is not a TensorFlow Lite model")


# -- the two sources ---------------------------------------------------------------------------
def bundled_weights(names: tuple[str, ...] = MODEL_NAMES, reason: str = "") -> WeightsSource:
    """The folders under WEIGHTS_DIR that pass `check_model_folder`; the others are reported missing."""
    folders: dict[str, Path] = {}
    missing: dict[str, str] = {}
    for name in names:
        try:
            check_model_folder(WEIGHTS_DIR / name, name)
            folders[name] = WEIGHTS_DIR / name
        except ValueError as error:
            missing[name] = str(error)
    origin = f"bundled {WEIGHTS_DIR.name}/" + (f" ({reason})" if reason else "")
    not_installed = sorted(set(missing) - {"fusion"})  # without its folder the fusion uses its default rule
    if not_installed:
        origin += "; not installed: " + ", ".join(not_installed)
    return WeightsSource(folders, origin, missing)


def _download(repo: str, revision: str, names: tuple[str, ...], timeout: float) -> tuple[Path, str]:
    """Snapshot of the model folders `names` at `revision`; returns (local folder, commit id)."""
    import httpx2
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    # Read at call time (huggingface_hub reads them once, at import), so a test can point them elsewhere.
    endpoint = os.environ.get("HF_ENDPOINT") or None
    cache_dir = os.environ.get("HF_HUB_CACHE") or (
        str(Path(os.environ["HF_HOME"]) / "hub") if os.environ.get("HF_HOME") else None)
    try:
        # One quick call first: it fails fast when the Hub is unreachable and pins the commit.
        info = HfApi(endpoint=endpoint).model_info(repo, revision=revision, timeout=timeout)
        commit = info.sha
        local = snapshot_download(
            repo, revision=commit, allow_patterns=[f"{name}/*" for name in names],
            ignore_patterns=[f"*/{pattern}" for pattern in UNSAFE_PATTERNS],
            endpoint=endpoint, cache_dir=cache_dir, etag_timeout=timeout, max_workers=4,
        )
    except (httpx2.HTTPError, HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as error:
        raise HubUnavailable(_describe(error)) from None
    return Path(local), commit


def _describe(error: Exception) -> str:
    """A short reason for the log and the footer (no URLs, no stack)."""
    from huggingface_hub.errors import (
        HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError,
    )

    if isinstance(error, RepositoryNotFoundError):
        return "repository not found"
    if isinstance(error, RevisionNotFoundError):
        return "revision not found"
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code}"
    name = type(error).__name__
    if "Connect" in name or "Timeout" in name or "offline" in str(error).lower():
        return f"Hub unreachable ({name})"
    return f"download failed ({name})"


def hub_weights(names: tuple[str, ...] = MODEL_NAMES, repo: str | None = None,
                revision: str | None = None) -> WeightsSource:
    """Model folders from the Hub, validated. Raises HubUnavailable with the reason."""
    repo, revision = repo or hub_repo(), revision or hub_revision()
    timeout = _env_float("AVEMO_HUB_TIMEOUT", HUB_TIMEOUT_SECONDS)
    deadline = _env_float("AVEMO_HUB_DEADLINE", HUB_DEADLINE_SECONDS)

    outcome: dict = {}

    def work():
        try:
            outcome["value"] = _download(repo, revision, names, timeout)
        except HubUnavailable as error:
            outcome["error"] = error
        except Exception as error:  # anything else from the client library must not take the app down
            outcome["error"] = HubUnavailable(f"download failed ({type(error).__name__})")

    # A daemon thread with a deadline: no DNS stall or slow server can hold the app's start-up.
    worker = threading.Thread(target=work, name="avemo-hub-download", daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        raise HubUnavailable(f"Hub too slow (no answer within {deadline:.0f} s)")
    if "error" in outcome:
        raise outcome["error"]
    local, commit = outcome["value"]

    folders: dict[str, Path] = {}
    for name in names:
        if not (local / name).exists():
            continue
        try:
            check_model_folder(local / name, name)
        except ValueError as error:
            raise HubUnavailable(f"Hub download invalid: {error}") from None
        folders[name] = local / name
    if not folders:
        raise HubUnavailable("no model folders in the Hub repository")
    return WeightsSource(folders, f"Hugging Face Hub {repo}@{revision} (commit {commit[:7]})")


def resolve_weights(names: tuple[str, ...] = MODEL_NAMES) -> WeightsSource:
    """Model folders for `names`: from the Hub if it gives a complete valid set, else bundled.

    Never raises; the returned `origin` says which source was used and why.
    """
    reason = offline_reason()
    if reason is None:
        try:
            source = hub_weights(names)
        except HubUnavailable as error:
            reason = str(error)
        else:
            bundled_only = set(bundled_weights(names).folders) - set(source.folders)
            if not bundled_only:
                log.info("model weights: %s", source.origin)
                return source
            reason = "Hub repository lacks " + ", ".join(sorted(bundled_only))
    source = bundled_weights(names, reason)
    log.info("model weights: %s", source.origin)
    return source
