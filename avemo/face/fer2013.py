"""FER2013 as the project's frame CNN trains on it: every face found and aligned by the same face mesh and
crop as a video frame (avemo.face.mesh), so that the CNN learns the framing it will see in the product.

    images = read_fer2013(root)                  # Fer2013(images (n, 48, 48) uint8, labels, names)
    faces = fer2013_crops(images)                # FerCrops: (n, 64, 64) uint8 crops, found (cached)
    train, held_out = held_out_split(images.labels, share=0.1, seed=1234)

`DIR/faces/fer2013/fer2013_48x48.npz` (see ../shared/data/README.md) holds all 35,887 images, 48x48 grey,
with the classes angry, disgust, fear, happy, neutral, sad, surprise; the original Training / PublicTest /
PrivateTest split is lost in that copy, and FER2013 has no subject ids, so a held-out part is a random one
(the same person may appear on both sides).

Finding the face: the mesh misses many of these tiny, tightly framed faces (89% found at any upscaling
from 2x to 6x on 400 random images). With a grey border of PAD_PIXELS around the image before upscaling it
finds 96% (a border replicating the edge: 94%), since its detector wants some room around a face. The face
is then cut from the upscaled image *without* the border (parts outside the picture replicate its edge, as
for a video frame), by the product's own code (avemo.face.mesh.face_from_landmarks).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemo.config import VIDEO_FEATURES, VideoFeatureConfig, cache_dir

FER2013_FILE = Path("faces") / "fer2013" / "fer2013_48x48.npz"
UPSCALE = 4          # 48 -> 192 pixels: the mesh's detector runs at 128-192 pixels
PAD_PIXELS = 8       # grey border (at 48x48) around the face while the mesh searches it
PAD_GREY = 128


@dataclass
class Fer2013:
    images: np.ndarray   # (n, 48, 48) uint8 grey
    labels: np.ndarray   # (n,) index into avemo.face.video.FER_CLASSES (the frame CNN's output order)
    names: np.ndarray    # (n,) file names of the release ("0.png", ...)


def fer2013_path(root: Path) -> Path:
    return Path(root) / FER2013_FILE


def read_fer2013(root: Path) -> Fer2013:
    """All of FER2013 under `root` (FileNotFoundError if absent)."""
    from avemo.face.video import FER_CLASSES  # the file spells the classes as FER2013 does, as these

    with np.load(fer2013_path(root)) as data:
        images, names = data["images"], data["names"]
        labels = np.array([FER_CLASSES.index(str(name)) for name in data["labels"]], np.int64)
    return Fer2013(images, labels, names)


def held_out_split(labels: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (training, held out): a random `share` of each class held out, reproducible by `seed`."""
    rng = np.random.default_rng(seed)
    held = np.concatenate([rng.permutation(np.flatnonzero(labels == k))[:round(share * np.sum(labels == k))]
                           for k in np.unique(labels)])
    mask = np.zeros(len(labels), bool)
    mask[held] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


@dataclass
class FerCrops:
    crops: np.ndarray   # (n, crop_size, crop_size) uint8: the aligned face, or the plain resized image if not found
    found: np.ndarray   # (n,) bool: the mesh found the face

    def model_input(self, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """The crops of `rows` as the frame CNN reads them: (n, size, size, 1) float32 in [-1, 1]."""
        from avemo.face.mesh import to_model_range

        return to_model_range(self.crops[rows])[..., None]


def whole_images(fer: Fer2013, size: int) -> np.ndarray:
    """Every image whole, resized to the frame CNN's input (n, size, size, 1) in [-1, 1]: FER2013's own framing."""
    import cv2

    from avemo.face.mesh import to_model_range

    resized = np.stack([cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC) for image in fer.images])
    return to_model_range(resized)[..., None]


def upscaled(image: np.ndarray, pad: int = 0) -> np.ndarray:
    """A 48x48 grey image as the RGB frame the mesh reads: `pad` grey pixels around it, UPSCALE times larger."""
    import cv2

    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=PAD_GREY)
    big = cv2.resize(image, (image.shape[1] * UPSCALE, image.shape[0] * UPSCALE), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(big, cv2.COLOR_GRAY2RGB)


def aligned_face(mesh, image: np.ndarray, cfg: VideoFeatureConfig = VIDEO_FEATURES):
    """The FrameFace of one 48x48 FER2013 image (found in a padded copy, cut from the unpadded one), or None."""
    from avemo.face.mesh import detect_faces, face_from_landmarks

    faces = detect_faces(mesh, upscaled(image, PAD_PIXELS))
    if not faces:
        return None
    landmarks = faces[0] - PAD_PIXELS * UPSCALE  # into the unpadded image's pixels
    return face_from_landmarks(upscaled(image), landmarks, len(faces), cfg)


def _crop_cache(fer: Fer2013, cfg: VideoFeatureConfig) -> Path:
    from avemo.face import mesh

    digest = hashlib.sha256(json.dumps({"features": cfg.to_dict(), "upscale": UPSCALE, "pad": PAD_PIXELS,
                                        "grey": PAD_GREY, "n": len(fer.images)}, sort_keys=True).encode())
    digest.update(Path(mesh.__file__).read_bytes())  # a change of face finding or framing invalidates the crops
    digest.update(fer.images[:: max(1, len(fer.images) // 64)].tobytes())
    return cache_dir() / "face-crops" / f"fer2013-{digest.hexdigest()[:16]}.npz"


def fer2013_crops(fer: Fer2013, cfg: VideoFeatureConfig = VIDEO_FEATURES, progress: bool = True,
                  cache: bool = True) -> FerCrops:
    """Every image's aligned face crop at the frame CNN's framing (`cfg`), with the mesh in still-image mode.
    Cached under avemo.config.cache_dir()/face-crops (some 3 ms an image on one core, about two minutes)."""
    import cv2
    from tqdm import tqdm

    from avemo.face.mesh import face_mesh

    path = _crop_cache(fer, cfg)
    if cache and path.is_file():
        with np.load(path) as saved:
            return FerCrops(saved["crops"], saved["found"])
    size = cfg.crop_size
    crops = np.zeros((len(fer.images), size, size), np.uint8)
    found = np.zeros(len(fer.images), bool)
    with face_mesh(cfg, stills=True) as mesh:
        for i, image in enumerate(tqdm(fer.images, desc="FER2013: aligning faces", unit="image",
                                       disable=not progress, mininterval=5)):
            face = aligned_face(mesh, image, cfg)
            if face is None:  # kept as the plain image, for whoever wants it (not trained on by default)
                crops[i] = cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)
                continue
            crops[i] = np.clip(np.round((face.crop + 1.0) * 127.5), 0, 255).astype(np.uint8)
            found[i] = True
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, crops=crops, found=found)
    return FerCrops(crops, found)
