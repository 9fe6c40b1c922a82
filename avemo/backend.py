"""TensorFlow and mediapipe, started without their native start-up noise, and mediapipe without TensorFlow.

The pinned TensorFlow wheel logs from C++, straight to the process's standard error and before
Python's logging exists: CUDA plugins "registered twice", a failed cuInit on a machine without a
GPU, the CPU features it was built for. mediapipe adds an XNNPACK notice and two feedback-manager
warnings for every new face mesh. No environment variable silences them all, and they drowned the
CLI's table. So the moments they speak run with file descriptor 2 pointed at /dev/null. A Python
error raised meanwhile still propagates, and is reported once standard error is back.

Silencing moments is best effort: mediapipe's graph runs on threads of its own, and on a faster
machine some of its first-frame notices (XNNPACK, the feedback manager, landmark projection) land
after the moment is over. So the programs (the CLI, the app) also call `filter_native_logs()` once
at start: from then on descriptor 2 is a pipe that drops lines in the native loggers' formats and
passes everything else on, while Python's own sys.stderr writes to the terminal directly.
"""
from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import importlib.abc
import os
import re
import sys
import threading

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # what TensorFlow's own logger still prints
os.environ.setdefault("GLOG_minloglevel", "2")

# One redirection at a time: two threads swapping descriptor 2 could leave it pointing at /dev/null.
_redirect_lock = threading.Lock()
_tensorflow_ready = False


@contextlib.contextmanager
def descriptor_2_to_devnull():
    """Point file descriptor 2 at /dev/null for the duration, and back (no lock: see native_stderr_silenced)."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at /dev/null for the duration (all threads: keep it short)."""
    with _redirect_lock:
        sys.stderr.flush()
        with descriptor_2_to_devnull():
            yield


# What the native loggers write: glog/absl lines ("W0000 00:00:1796182476.880272 3641 file.cc:114] ..."),
# TensorFlow's own ("2026-12-02 04:53:50.123456: I tensorflow/... ]"), TFLite's INFO lines, absl's
# pre-initialisation warning and the continuation of TensorFlow's CPU-features notice. A fatal line
# (F...) is kept: it says why the process is about to die.
NATIVE_LOG_LINE = re.compile(
    rb"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]"
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] \S+:\d+\]"
    rb"|INFO: Created TensorFlow Lite"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|To enable the following instructions:.*rebuild TensorFlow)"
)
_filter_installed = False


def is_native_log_line(line: bytes) -> bool:
    return bool(NATIVE_LOG_LINE.match(line))


def _forward_lines(source: int, destination: int) -> None:
    with os.fdopen(source, "rb", buffering=0) as pipe:
        pending = b""
        while chunk := pipe.read(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            kept = [line for line in lines if not is_native_log_line(line)]
            if kept:
                os.write(destination, b"".join(line + b"\n" for line in kept))
        if pending and not is_native_log_line(pending):
            os.write(destination, pending)


def filter_native_logs() -> None:
    """Keep native log lines off standard error for the rest of the process (once; idempotent).

    Descriptor 2 becomes a pipe read by a daemon thread that passes on all but native log lines;
    sys.stderr gets its own copy of the original descriptor, so Python's messages, tracebacks and
    progress bars arrive directly and in order, even in the last moment before exit.
    AVEMO_NATIVE_LOGS=1 leaves standard error alone, to see what the native libraries say.
    """
    global _filter_installed
    if _filter_installed or os.environ.get("AVEMO_NATIVE_LOGS") == "1":
        return
    sys.stderr.flush()
    try:
        terminal = os.dup(2)
    except OSError:  # no standard error at all (a detached process): nothing to keep clean
        return
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    sys.stderr = open(terminal, "w", buffering=1, encoding=sys.stderr.encoding or "utf-8",
                      errors="backslashreplace", closefd=False)
    forwarder = threading.Thread(target=_forward_lines, args=(read_end, terminal), name="native-log-filter",
                                 daemon=True)
    forwarder.start()

    def drain_at_exit() -> None:
        # Give descriptor 2 back to the terminal: that closes the pipe's last write end, so the
        # forwarder reads to the end and passes on what was still in the pipe before the process ends.
        os.dup2(terminal, 2)
        forwarder.join(timeout=2)

    atexit.register(drain_at_exit)
    _filter_installed = True


def import_tensorflow():
    """Import TensorFlow and probe its devices (where cuInit speaks) once, quietly; return the module."""
    global _tensorflow_ready
    if not _tensorflow_ready:
        with native_stderr_silenced():
            import tensorflow

            tensorflow.config.list_physical_devices()
        _tensorflow_ready = True
    return sys.modules["tensorflow"]


class _TensorFlowRefused(importlib.abc.MetaPathFinder):
    """An import hook that makes `import tensorflow` fail as if it were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ModuleNotFoundError(f"No module named {name!r} (kept out of inference)", name=name)
        return None


_mediapipe_lock = threading.Lock()


def import_mediapipe():
    """Import mediapipe (and its tasks API) quietly and without TensorFlow; return the module.

    mediapipe 0.10.21 imports TensorFlow whenever it is installed (as it is where training runs):
    mediapipe/tasks/python/core/optional_dependencies.py tries `from tensorflow.tools.docs import doc_controls`,
    only for documentation decorators, and falls back to no-ops without it. That import alone took 7-11 s and
    about 1 GB here, for nothing inference uses. So while mediapipe imports, `import tensorflow` is refused,
    and mediapipe takes its fallback. A process that has already imported TensorFlow (training) keeps it."""
    with _mediapipe_lock:
        if "mediapipe.tasks.python" in sys.modules:
            return sys.modules["mediapipe"]
        refuse = "tensorflow" not in sys.modules
        hook = _TensorFlowRefused()
        if refuse:
            sys.meta_path.insert(0, hook)
        try:
            with native_stderr_silenced():
                import mediapipe
                import mediapipe.tasks.python  # noqa: F401  (the module that would import TensorFlow)
        finally:
            if refuse:
                sys.meta_path.remove(hook)
        return mediapipe


def release_freed_memory() -> None:
    """Give the memory freed since the last call back to the system (glibc's malloc_trim; a no-op elsewhere).

    A long-lived process that analyses on many threads (the app: Gradio runs each request on a worker thread,
    and makes new ones as old ones idle out) otherwise keeps what each thread's native allocations freed in that
    thread's malloc arena. Measured here, 40 analyses of a 4 s 720p clip, each on a new thread: RSS grew 6.8%
    without it, 2.1% with it, and sat some 100 MB lower. A call costs well under a millisecond."""
    if _libc is not None:
        _libc.malloc_trim(0)


def _glibc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_libc = _glibc()

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Let glibc's malloc keep at most `arenas` arenas, as MALLOC_ARENA_MAX does; call it before threads start.

    By default each thread that allocates may get an arena of its own (up to 8 per core), and memory freed in one
    stays mapped there. A live session reads with two threads for minutes while the app answers on others: the
    server grew by 450 MB over 60 s of live mode with the default, 200 MB with 2 arenas (bench/live.py). Does
    nothing where the C library is not glibc."""
    if _libc is not None and hasattr(_libc, "mallopt"):
        _libc.mallopt(M_ARENA_MAX, arenas)
