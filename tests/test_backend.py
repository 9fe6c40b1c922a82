"""The native-log filter the CLI and the app install: C++ logger lines dropped, everything else kept."""
from __future__ import annotations

import subprocess
from pathlib import Path
import sys

from avemo.config import REPO_ROOT

NATIVE = [
    b"W0000 00:00:1796182476.902374    3642 landmark_projection_calculator.cc:186] Using NORM_RECT without"
    b" IMAGE_DIMENSIONS is only supported for the square ROI.",
    b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    b"2026-12-02 04:53:50.123456: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on.",
    b"E0000 00:00:1796182476.1 3641 cuda_executor.cc:1228] failed call to cuInit: UNKNOWN ERROR (303)",
]
KEPT = [
    b"a native line in no logger's format",
    b"F0000 00:00:1796182476.9 3641 calculator_graph.cc:1] Check failed: the reason the process dies",
]


def test_native_log_lines_are_dropped_and_everything_else_reaches_the_terminal():
    writes = "".join(f"os.write(2, {line!r} + b'\\n')\n" for line in NATIVE + KEPT)
    program = (
        "import os, sys\n"
        "from avemo.backend import filter_native_logs\n"
        "filter_native_logs()\n"
        f"{writes}"
        "print('avemo: said by Python', file=sys.stderr)\n"
        "os.write(2, b'the last native words, without a newline')\n"
    )
    proc = subprocess.run([sys.executable, "-c", program], cwd=REPO_ROOT, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    # Python's lines come straight to the terminal and the native ones through the pipe, so only the
    # set of lines is fixed, not their interleaving.
    assert sorted(proc.stderr.splitlines()) == sorted(
        [*KEPT, b"avemo: said by Python", b"the last native words, without a newline"])


def test_the_filter_can_be_turned_off_to_see_what_the_native_libraries_say():
    line = NATIVE[0]
    program = f"import os\nfrom avemo.backend import filter_native_logs\nfilter_native_logs()\nos.write(2, {line!r})\n"
    proc = subprocess.run([sys.executable, "-c", program], cwd=REPO_ROOT, capture_output=True, timeout=60,
                          env={"AVEMO_NATIVE_LOGS": "1", "PATH": "/usr/bin:/bin"})
    assert proc.stderr == line


def test_the_python_api_keeps_mediapipe_s_notices_off_standard_error():
    """A face analysed through avemo.predict.Predictor prints no native line, and Python's own warnings still show."""
    program = (
        "import sys, warnings\n"
        "from avemo.predict import Predictor\n"
        "result = Predictor().predict('examples/ravdess-actor01-angry.mp4')\n"
        "assert result['video']['faces_found'] > 0, result\n"
        "warnings.warn('avemo: a Python warning')\n"
    )
    proc = subprocess.run([sys.executable, "-c", program], cwd=REPO_ROOT, capture_output=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "AVEMO_OFFLINE": "1", "HOME": str(Path.home())})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert b"landmark_projection" not in proc.stderr and b"W0000" not in proc.stderr, proc.stderr[-2000:]
    assert b"avemo: a Python warning" in proc.stderr
