"""Upload the bundled model folders (weights/audio, video, face_aus, fusion) with their model
cards to the Hugging Face Hub, in one commit, and tag that commit with the revision the app pins.

    python -m train.push --dry-run                 # list what would be sent, send nothing
    HF_TOKEN=hf_... python -m train.push           # create the repo if needed, commit, tag

The repository is `AVEMO_HUB_REPO` (default avemo.hub.HUB_REPO); the tag defaults to
avemo.hub.HUB_REVISION, the revision the app downloads. A folder that fails
avemo.hub.check_model_folder (a file missing or corrupt) is refused before anything is sent;
pickle files (avemo.hub.UNSAFE_PATTERNS) are left out, as the app would not download them.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

from avemo.config import MODEL_NAMES, WEIGHTS_DIR
from avemo.hub import HUB_REVISION, UNSAFE_PATTERNS, check_model_folder, hub_repo

REPO_CARD = """---
license: cc-by-nc-sa-4.0
library_name: keras
tags: [emotion-recognition, speech-emotion-recognition, facial-expression-recognition, audio-visual]
datasets: [RAVDESS, SAVEE, JAFFE, SFEW]
---

# avemo models

The models of avemo (audio-visual emotion recognition), one folder each:
{folders}

Each folder holds its model (`model.keras`: Keras 3, loads in safe mode, with `model.onnx`, its ONNX export,
which avemo runs; `model.skops` / `trained.skops`: scikit-learn, loads without pickle), `config.json` (feature parameters and calibration) and its model
card `README.md` with the data, the speaker-independent evaluation protocol and the measured results.
Other projects' model files travel beside them, each under its own licence as its card says: Silero VAD
(`audio/silero_vad.onnx`, MIT), facex's CNN (`video/facex.tflite`, MIT) and MediaPipe's Face Landmarker
(`video/face_landmarker.task`, Apache-2.0). The video folder's head was trained on JAFFE and SFEW 2.0
(non-commercial and academic use).

Trained on RAVDESS (Livingstone & Russo (2018), PLoS ONE 13(5): e0196391, CC BY-NC-SA 4.0) and
SAVEE (Haq & Jackson, University of Surrey, free for research use): non-commercial research use only.
"""


def files_to_push(weights: Path = WEIGHTS_DIR, names: tuple[str, ...] = MODEL_NAMES) -> list[tuple[str, Path]]:
    """(path in the repo, local file) for every file of every model folder present; checks each folder."""
    files: list[tuple[str, Path]] = []
    for name in names:
        folder = weights / name
        if not folder.is_dir():
            print(f"skip {name}: no folder {folder}", file=sys.stderr)
            continue
        check_model_folder(folder, name)  # raises ValueError with the reason
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            if any(path.match(pattern) for pattern in UNSAFE_PATTERNS):
                print(f"skip {name}/{path.name}: pickle files are never loaded from the Hub", file=sys.stderr)
                continue
            files.append((f"{name}/{path.relative_to(folder).as_posix()}", path))
    return files


def repo_card(files: list[tuple[str, Path]]) -> str:
    folders = sorted({path.split("/")[0] for path, _ in files})
    return REPO_CARD.format(folders="\n".join(f"- [`{f}/`]({f}/README.md)" for f in folders))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.push", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", default=hub_repo(), help="Hub repository (default: %(default)s)")
    parser.add_argument("--tag", default=HUB_REVISION, help="tag for the new commit (default: %(default)s)")
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR, help="folder of model folders")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--dry-run", action="store_true", help="list what would be sent and stop")
    args = parser.parse_args(argv)

    try:
        files = files_to_push(args.weights)
    except ValueError as error:
        print(f"refusing to push: {error}", file=sys.stderr)
        return 2
    if not files:
        print(f"nothing to push: no model folders under {args.weights}", file=sys.stderr)
        return 2

    total = sum(p.stat().st_size for _, p in files)
    print(f"{'would send' if args.dry_run else 'sending'} {len(files) + 1} files "
          f"({total / 2**20:.1f} MB) to {args.repo}, tag {args.tag}:")
    print(f"  README.md  (repository card, {len(repo_card(files))} bytes)")
    for path_in_repo, local in files:
        digest = hashlib.sha256(local.read_bytes()).hexdigest()[:12]
        print(f"  {path_in_repo}  ({local.stat().st_size} bytes, sha256 {digest}...)")
    if args.dry_run:
        return 0

    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    token = os.environ.get("HF_TOKEN")
    if not token:
        print("set HF_TOKEN to a token with write access to push", file=sys.stderr)
        return 2
    api = HfApi(token=token)
    try:
        api.create_repo(args.repo, repo_type="model", private=args.private, exist_ok=True)
        operations = [CommitOperationAdd("README.md", repo_card(files).encode())]
        operations += [CommitOperationAdd(path_in_repo, str(local)) for path_in_repo, local in files]
        commit = api.create_commit(args.repo, operations, commit_message=f"avemo models {args.tag}")
        api.create_tag(args.repo, tag=args.tag, revision=commit.oid,
                       tag_message=f"avemo models {args.tag}")
    except HfHubHTTPError as error:
        print(f"push failed: {error}", file=sys.stderr)
        if error.response is not None and error.response.status_code == 409:
            print(f"the tag {args.tag} exists already: pass a new --tag and set HUB_REVISION in avemo/hub.py "
                  "(or AVEMO_HUB_REVISION) to it", file=sys.stderr)
        return 1
    print(f"pushed {commit.oid[:7]} and tagged it {args.tag}: {commit.commit_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
