"""The real app server: one for the whole test session (tests/test_app.py and tests/test_browser.py share it),
and `running_app` for a test that needs its own (one it stops, say)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_UPLOAD_LIMIT = 5 * 2**20  # the server under test refuses uploads over 5 MB (AVEMO_MAX_UPLOAD_BYTES)
UPLOAD_GRACE_SECONDS = 1.0     # and deletes an upload 1 s after its analysis (AVEMO_UPLOAD_GRACE_SECONDS)


@dataclass
class AppServer:
    url: str
    temp_dir: Path      # GRADIO_TEMP_DIR: where uploads land (and must not stay)
    log: Path
    process: subprocess.Popen
    start_seconds: float

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, as a Space or a container stops the app, then its exit status (killed after 30 s)."""
        self.process.terminate()
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_app(root: Path, **env_overrides: str):
    """`python app.py` on a free port of 127.0.0.1, with the bundled weights (no Hub), ready to serve; stopped
    (SIGTERM, as a Space stops it) when the block ends. Its files go under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_TEMP_DIR": str(root / "gradio"), "GRADIO_ANALYTICS_ENABLED": "False",
           "AVEMO_OFFLINE": "1", "AVEMO_MAX_UPLOAD_BYTES": str(TEST_UPLOAD_LIMIT),
           "AVEMO_UPLOAD_GRACE_SECONDS": str(UPLOAD_GRACE_SECONDS),
           "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", **env_overrides}
    log = root / "app.log"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=REPO_ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    server = AppServer(url, root / "gradio", log, process, 0.0)
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"the app exited with {process.returncode}:\n{server.log_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the app did not answer within 180 s:\n{server.log_text()[-3000:]}")
            time.sleep(0.5)
        server.start_seconds = time.monotonic() - started
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory) -> AppServer:
    """The app, shared by every test of the session."""
    with running_app(tmp_path_factory.mktemp("app")) as server:
        yield server
