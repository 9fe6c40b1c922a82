"""TensorFlow and mediapipe, started without their native start-up noise.

The pinned TensorFlow wheel logs from C++, straight to the process's standard error and before
Python's logging exists: CUDA plugins "registered twice", a failed cuInit on a machine without a
GPU, the CPU features it was built for. mediapipe adds an XNNPACK notice and two feedback-manager
warnings for every new face mesh. No environment variable silences them all, and they drowned the
CLI's table. So the moments they speak run with file descriptor 2 pointed at /dev/null. A Python
error raised meanwhile still propagates, and is reported once standard error is back.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # what TensorFlow's own logger still prints
os.environ.setdefault("GLOG_minloglevel", "2")

# One redirection at a time: two threads swapping descriptor 2 could leave it pointing at /dev/null.
_redirect_lock = threading.Lock()
_tensorflow_ready = False


@contextlib.contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at /dev/null for the duration (all threads: keep it short)."""
    with _redirect_lock:
        sys.stderr.flush()
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def import_tensorflow():
    """Import TensorFlow and probe its devices (where cuInit speaks) once, quietly; return the module."""
    global _tensorflow_ready
    if not _tensorflow_ready:
        with native_stderr_silenced():
            import tensorflow

            tensorflow.config.list_physical_devices()
        _tensorflow_ready = True
    return sys.modules["tensorflow"]
