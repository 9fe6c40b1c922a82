"""Faces in video frames: mediapipe face mesh, eye-levelled crops for the two expression CNNs (64x64 grey
for the FER mini-Xception, 200x200 RGB for facex), a per-frame quality weight, and the face's outline
drawn over a frame for the app's preview.

    with face_mesh() as mesh:                 # one per thread: FaceMesh objects are not thread-safe
        face = find_face(mesh, frame_rgb)     # FrameFace | None (the largest face of the frame)
    face.crop                                 # (64, 64) float32 in [-1, 1], eyes level
    face.expression_crop                      # (200, 200, 3) uint8 RGB, framed for facex
    draw_mesh(frame_rgb, face.landmarks)      # RGB copy with the face's outline drawn

Pure array code apart from mediapipe itself; nothing here opens a file.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avemo.backend import import_mediapipe, native_stderr_silenced
from avemo.config import VIDEO_FEATURES, VideoFeatureConfig

# Face-mesh landmark indices of the eye corners (image left = the subject's right eye).
RIGHT_EYE_CORNERS = (33, 133)
LEFT_EYE_CORNERS = (362, 263)

# Frames whose longer side exceeds this are downscaled before the face mesh (which works on a
# 192x192 input anyway); crops are still cut from the full-resolution frame.
MESH_MAX_SIDE = 640
# A face box smaller than this (pixels, shorter side) is upsampled into the crop: its weight drops.
SMALL_FACE_PIXELS = 64
# Mean grey level (0-255) of the face below which a frame counts as dark.
DARK_LEVEL = 50.0


@dataclass(frozen=True)
class FrameFace:
    """The face analysed in one frame (the largest one when several are visible)."""

    crop: np.ndarray          # (crop_size, crop_size) float32 in [-1, 1], eyes level: the FER CNN's input
    expression_crop: np.ndarray  # (expression_crop_size,)*2 x 3 uint8 RGB, eyes level: the facex CNN's input
    landmarks: np.ndarray     # (468, 2) float32 pixel coordinates (x, y) in the frame
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 of the landmarks, pixels
    n_faces: int              # faces the mesh found in this frame
    brightness: float         # mean grey level of the face box before any correction, 0-255
    quality: float            # weight of this frame in (0, 1]: lower for small or dark faces

    @property
    def size(self) -> float:
        """The shorter side of the landmark box, in pixels."""
        return float(min(self.box[2] - self.box[0], self.box[3] - self.box[1]))

    @property
    def is_small(self) -> bool:
        return self.size < SMALL_FACE_PIXELS

    @property
    def is_dark(self) -> bool:
        return self.brightness < DARK_LEVEL


def face_mesh(cfg: VideoFeatureConfig = VIDEO_FEATURES, stills: bool = False):
    """A new mediapipe FaceMesh, in video (tracking) mode unless `stills` (unrelated images).

    Use one per thread and per clip (FaceMesh objects are not thread-safe and carry the track of
    the previous frame), and close it, or use it as a context manager.
    """
    mp = import_mediapipe()  # quietly, and without TensorFlow (see avemo.backend)
    mesh = mp.solutions.face_mesh.FaceMesh(
        static_image_mode=stills, max_num_faces=cfg.max_faces, refine_landmarks=False,
        min_detection_confidence=0.5,
    )
    # A new mesh logs its native start-up notices on its first frame: give it a blank one (no face,
    # so no track is started) while they are silenced.
    with native_stderr_silenced():
        mesh.process(np.zeros((32, 32, 3), dtype=np.uint8))
    return mesh


def to_gray(frame_rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2GRAY)


def brighten(image: np.ndarray) -> np.ndarray:
    """Stretch a dark uint8 image (grey or RGB) so that its 99th percentile becomes white."""
    top = float(np.percentile(image, 99))
    if top <= 0:
        return image
    gain = min(255.0 / top, 8.0)
    return np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def detect_faces(mesh, frame_rgb: np.ndarray) -> list[np.ndarray]:
    """Landmarks (468, 2) in frame pixels of every face the mesh finds, largest face first.

    Big frames are downscaled for the mesh; a dark frame is brightened first (the detector
    misses faces in frames that are nearly black but still hold a visible face).
    """
    import cv2

    height, width = frame_rgb.shape[:2]
    scale = min(1.0, MESH_MAX_SIDE / max(height, width))
    small = frame_rgb if scale == 1.0 else cv2.resize(
        frame_rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    if float(small.mean()) < DARK_LEVEL:
        small = brighten(small)
    found = mesh.process(np.ascontiguousarray(small)).multi_face_landmarks or []
    faces = [
        np.array([(p.x * width, p.y * height) for p in face.landmark], dtype=np.float32) for face in found
    ]
    return sorted(faces, key=lambda pts: -float(np.prod(pts.max(axis=0) - pts.min(axis=0))))


def eye_angle(landmarks: np.ndarray) -> float:
    """Angle (degrees) of the line through the two eye centres; 0 when the eyes are level."""
    right = landmarks[list(RIGHT_EYE_CORNERS)].mean(axis=0)
    left = landmarks[list(LEFT_EYE_CORNERS)].mean(axis=0)
    dx, dy = left - right
    return float(np.degrees(np.arctan2(dy, dx)))


def aligned_crop(image: np.ndarray, landmarks: np.ndarray, size: int, margin: float, shift: float = 0.0) -> np.ndarray:
    """The face rotated so the eyes are level, as a square size x size crop of `image` (grey or RGB).

    The square is centred on the (rotated) landmark box, moved down by `shift` times its side
    (negative: up); its side is the box's longer side times (1 + margin). Parts outside the frame
    are filled by replicating the border.
    """
    import cv2

    angle = eye_angle(landmarks)
    centre = landmarks.mean(axis=0)
    rotation = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, 1.0)
    rotated = landmarks @ rotation[:, :2].T + rotation[:, 2]
    lo, hi = rotated.min(axis=0), rotated.max(axis=0)
    side = max(float(max(hi - lo)) * (1.0 + margin), 1.0)
    box_centre = (lo + hi) / 2 + np.array([0.0, shift * side])
    # Map the square [box_centre - side/2, box_centre + side/2] of the rotated frame to the crop.
    scale = size / side
    to_crop = np.array([[scale, 0, size / 2 - scale * box_centre[0]],
                        [0, scale, size / 2 - scale * box_centre[1]]])
    affine = to_crop @ np.vstack([rotation, [0, 0, 1]])
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(image, affine, (size, size), flags=interpolation, borderMode=cv2.BORDER_REPLICATE)


def to_model_range(crop: np.ndarray) -> np.ndarray:
    """uint8 grey crop -> float32 in [-1, 1], as the FER2013 backbone was trained."""
    return crop.astype(np.float32) / 127.5 - 1.0


def frame_quality(box_size: float, brightness: float) -> float:
    """A frame's weight in (0, 1]: 1 for a face at least SMALL_FACE_PIXELS wide in normal light."""
    size_factor = min(1.0, box_size / SMALL_FACE_PIXELS)
    light_factor = min(1.0, brightness / DARK_LEVEL)
    return float(max(0.05, size_factor * light_factor))


def find_face(mesh, frame_rgb: np.ndarray, cfg: VideoFeatureConfig = VIDEO_FEATURES) -> FrameFace | None:
    """The largest face of an RGB frame, aligned and cropped for the backbone; None if no face."""
    faces = detect_faces(mesh, frame_rgb)
    if not faces:
        return None
    return face_from_landmarks(frame_rgb, faces[0], len(faces), cfg)


def face_from_landmarks(frame_rgb: np.ndarray, landmarks: np.ndarray, n_faces: int = 1,
                        cfg: VideoFeatureConfig = VIDEO_FEATURES) -> FrameFace:
    """The face at `landmarks` (468, 2 pixels of `frame_rgb`), aligned and cropped for the CNNs as `find_face`
    does. Apart from find_face, used where the mesh must search another image than the one cropped (the
    FER2013 training faces are found in a padded copy: avemo.face.fer2013)."""
    gray = to_gray(frame_rgb)
    height, width = gray.shape
    x0, y0 = np.clip(landmarks.min(axis=0), 0, [width - 1, height - 1])
    x1, y1 = np.clip(landmarks.max(axis=0), 0, [width - 1, height - 1])
    region = gray[int(y0) : int(y1) + 1, int(x0) : int(x1) + 1]
    brightness = float(region.mean()) if region.size else 0.0
    crop = aligned_crop(gray, landmarks, cfg.crop_size, cfg.crop_margin, cfg.crop_shift)
    colour = aligned_crop(frame_rgb, landmarks, cfg.expression_crop_size, cfg.expression_crop_margin,
                          cfg.expression_crop_shift)
    if brightness < DARK_LEVEL:
        crop, colour = brighten(crop), brighten(colour)
    box = (float(x0), float(y0), float(x1), float(y1))
    size = min(x1 - x0, y1 - y0)
    return FrameFace(to_model_range(crop), colour, landmarks, box, n_faces, brightness,
                     frame_quality(float(size), brightness))


def draw_mesh(frame_rgb: np.ndarray, landmarks: list[np.ndarray] | np.ndarray,
              colour: tuple[int, int, int] = (80, 220, 120)) -> np.ndarray:
    """A copy of an RGB frame with each face's outline, eyes, brows and lips drawn as thin lines (the
    mesh's contours, not its full tessellation, which hides the expression under a coloured blob).

    `landmarks` is one (468, 2) array in pixels or a list of them (the first one, the analysed
    face, is drawn in `colour`; others in grey).
    """
    import cv2

    import_mediapipe()  # (before any mediapipe module: without TensorFlow)
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_CONTOURS

    faces = [landmarks] if isinstance(landmarks, np.ndarray) else list(landmarks)
    image = np.ascontiguousarray(frame_rgb.copy())
    thickness = max(1, round(max(image.shape[:2]) / 640))
    edges = np.array(sorted(FACEMESH_CONTOURS), dtype=np.int32)
    for i, points in enumerate(faces):
        lines = np.round(points[edges]).astype(np.int32)  # (n_edges, 2, 2)
        cv2.polylines(image, list(lines), isClosed=False, color=colour if i == 0 else (170, 170, 170),
                      thickness=thickness, lineType=cv2.LINE_AA)
    return image


def with_inset(frame_rgb: np.ndarray, crop: np.ndarray, share: float = 0.3) -> np.ndarray:
    """A copy of an RGB frame with the model's input crop (grey, in [-1, 1]) shown in its top-left corner,
    `share` of the frame's shorter side wide, with a white border: what the face model actually saw."""
    import cv2

    image = np.ascontiguousarray(frame_rgb.copy())
    side = max(16, int(min(image.shape[:2]) * share))
    grey = np.clip((np.asarray(crop) + 1.0) * 127.5, 0, 255).astype(np.uint8)
    inset = cv2.cvtColor(cv2.resize(grey, (side, side), interpolation=cv2.INTER_NEAREST), cv2.COLOR_GRAY2RGB)
    image[2:side + 2, 2:side + 2] = inset
    cv2.rectangle(image, (1, 1), (side + 2, side + 2), (255, 255, 255), 1)
    return image
