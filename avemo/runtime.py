"""The light runtimes every network runs on at inference: no TensorFlow, no Keras.

    model = OnnxModel.load(Path("weights/audio/model.onnx"))   # one session, shared by every thread
    logits = model(batch)                                        # the first output, float32
    with InstancePool(make_interpreter).taken() as interpreter:  # one per concurrent caller, reused

- ONNX Runtime runs the Keras models, exported beside each `.keras` file (avemo.onnx_export). Its sessions
  are safe to share between threads, so a process holds one copy of each model, whatever the number of
  threads that analyse at once.
- LiteRT runs facex's TensorFlow Lite CNN, as shipped: its weights are quantised to 8 bits and its kernels
  quantise activations on the fly, which no float ONNX graph reproduces; LiteRT gives exactly what
  TensorFlow Lite gave (avemo.face.expression). Its interpreters, like mediapipe's landmarkers, are not
  thread-safe: an `InstancePool` lends each caller one and takes it back, so there are as many as there
  were analyses at once (two in the app), not one per thread that ever asked.

Each session reads on one thread (Whisper's encoder on two) and does not spin waiting for work: the inputs
are small (a batch of windows, a clip's functionals), two requests at a time are the app's parallelism, and a
spinning pool steals the other request's core.
"""
from __future__ import annotations

import contextlib
import hashlib
import threading
from pathlib import Path
from typing import Callable, Generic, Iterator, TypeVar

import numpy as np

# Keys of an exported model's metadata (avemo.onnx_export writes them).
SOURCE_SHA256 = "avemo_source_sha256"   # the sha256 of the .keras file it was exported from
KERAS_NAME = "avemo_keras_name"          # the Keras model's name (the video folder's kind of model)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def onnx_session_options(threads: int = 1):
    """ONNX Runtime's options for a session: `threads` for one operator, none spinning while it waits."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def onnx_session(source: Path | bytes, threads: int = 1):
    """An ONNX Runtime session on the CPU for a model file or its bytes."""
    import onnxruntime

    return onnxruntime.InferenceSession(str(source) if isinstance(source, Path) else source,
                                        sess_options=onnx_session_options(threads), providers=["CPUExecutionProvider"])


class OnnxModel:
    """An exported model: its inputs by name, and the first output for a call with those inputs in order."""

    def __init__(self, path: Path, session):
        self.path = Path(path)
        self.session = session
        self.input_names = [i.name for i in session.get_inputs()]
        self.metadata: dict[str, str] = dict(session.get_modelmeta().custom_metadata_map)

    @classmethod
    def load(cls, path: Path) -> "OnnxModel":
        return cls(path, onnx_session(Path(path)))

    @property
    def input_shape(self) -> tuple:
        """The first input's shape as Keras states it: None for a dimension the graph leaves open."""
        return tuple(d if isinstance(d, int) else None for d in self.session.get_inputs()[0].shape)

    @property
    def name(self) -> str:
        return self.metadata.get(KERAS_NAME, self.path.stem)

    def __call__(self, *inputs: np.ndarray) -> np.ndarray:
        feeds = {name: np.ascontiguousarray(x, dtype=np.float32) for name, x in zip(self.input_names, inputs)}
        return self.session.run(None, feeds)[0]


Instance = TypeVar("Instance")


class InstancePool(Generic[Instance]):
    """Objects that one caller at a time may use (a LiteRT interpreter, a mediapipe landmarker), made on
    demand and kept for the next caller: as many exist as callers ever held one at once."""

    def __init__(self, make: Callable[[], Instance]):
        self._make = make
        self._idle: list[Instance] = []
        self._lock = threading.Lock()
        self.made = 0

    @contextlib.contextmanager
    def taken(self) -> Iterator[Instance]:
        with self._lock:
            instance = self._idle.pop() if self._idle else None
        if instance is None:
            instance = self._make()
            with self._lock:
                self.made += 1
        try:
            yield instance
        finally:
            with self._lock:
                self._idle.append(instance)
