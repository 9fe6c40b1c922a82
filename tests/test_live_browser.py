"""The Live tab in a real headless Chromium whose camera shows a RAVDESS face and whose microphone plays a real
RAVDESS take (Chromium's fake devices, fed from files this test makes): readings for the face and the voice
appear, Stop ends the session and its summary downloads, and nothing streamed lands on the server's disk."""
from __future__ import annotations

import base64
import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

from avemo.config import EMOTIONS, LIVE

try:
    from tests import clips
    from tests.test_browser import ARTIFACTS, CHROMIUM, page_with_fake_devices, playwright  # noqa: F401 (a fixture)
except ImportError:
    import clips
    from test_browser import ARTIFACTS, CHROMIUM, page_with_fake_devices, playwright  # noqa: F401

EMOTION = re.compile(r"\*?\b(" + "|".join(EMOTIONS) + r")\b\*? \(\d+%\)")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: run `make browser` to install it"),
    pytest.mark.skipif(not clips.HAVE_DATA, reason=clips.SKIP_REASON),
]


def fake_devices(folder: Path) -> tuple[Path, Path]:
    """The camera's file (a RAVDESS face still as Y4M video, 640x360, 2 s, looped by Chromium) and the
    microphone's (a RAVDESS take with a second of silence after it, 48 kHz 16-bit WAV, looped)."""
    face, speech = folder / "face.y4m", folder / "speech.wav"
    clips.run_ffmpeg("-loop", "1", "-framerate", "10", "-i", str(clips.face_still(1)), "-t", "2",
                     "-vf", "scale=640:360,format=yuv420p", "-f", "yuv4mpegpipe", str(face))
    clips.run_ffmpeg("-i", str(clips.ravdess_clip(actor=1, emotion=5)), "-af", "apad=pad_dur=1", "-ar", "48000",
                     "-ac", "1", "-c:a", "pcm_s16le", str(speech))
    return face, speech


def upload_while_live(url: str) -> dict:
    """The page's /predict endpoint on a bundled example, as another visitor's upload."""
    from gradio_client import Client, handle_file

    from avemo.app.page import EXAMPLES_DIR

    client = Client(url, verbose=False, download_files=False)
    return client.predict(handle_file(str(EXAMPLES_DIR / "ravdess-actor01-angry.mp4")), api_name="/predict")


def files_in(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def test_live_tab_reads_face_and_voice_stops_and_keeps_its_summary(playwright, app_server, tmp_path):
    face, speech = fake_devices(tmp_path)
    files = (f"--use-file-for-fake-video-capture={face}", f"--use-file-for-fake-audio-capture={speech}")
    with page_with_fake_devices(playwright, ["camera", "microphone"], files) as page:
        page.goto(app_server.url)
        page.get_by_role("tab", name="Live").click()
        intro = page.locator("#live-intro").inner_text()
        assert f"ends by itself after {LIVE.session_seconds:.0f} s" in intro  # the page states its limit
        before = files_in(app_server.temp_dir)
        started = time.monotonic()
        page.locator("#live-start").click()

        face, voice = page.locator("#live-face"), page.locator("#live-voice")
        face.filter(has_text=EMOTION).wait_for(timeout=30_000)
        first_face = time.monotonic() - started
        voice.filter(has_text=EMOTION).wait_for(timeout=30_000)
        first_voice = time.monotonic() - started
        during = files_in(app_server.temp_dir)
        # An upload analysed meanwhile (its own queue): it gets its answer, and the live readings go on. (Its file
        # is deleted once analysed: by the end only the summary is new in the temp folder.)
        status = page.locator("#live-status")
        shown = status.inner_text()
        answer = upload_while_live(app_server.url)
        assert answer["fused"]["label"] in EMOTIONS, answer
        assert status.inner_text() != shown
        page.locator("#live-timeline .js-plotly-plot").first.wait_for(timeout=30_000)
        assert "s left of" in page.locator("#live-status").inner_text()
        page.locator("#live-fused").filter(has_text=" over ").wait_for(timeout=30_000)  # both, with its reason
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "app-live.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})  # a phone: the timeline is redrawn within a second
        page.wait_for_timeout(2000)
        page.screenshot(path=str(ARTIFACTS / "app-live-390.png"), full_page=True)
        page.set_viewport_size({"width": 1400, "height": 1000})
        page.wait_for_timeout(2000)

        rates = status.inner_text()
        page.locator("#live-stop").click()
        page.locator("#live-summary").filter(has_text="The session").wait_for(timeout=60_000)
        link = page.locator("#live-summary-json a").first
        link.wait_for(timeout=30_000)
        href = link.get_attribute("href")  # the JSON is in the link: data:application/json;base64,...
        summary = json.loads(base64.b64decode(href.split(",", 1)[1]))
        assert page.evaluate("window.avemoLive.stream === null")  # the camera and the microphone are let go
        shown = page.locator("#live-face").inner_text()
        page.wait_for_timeout(1500)
        assert page.locator("#live-face").inner_text() == shown  # no reading after Stop
        page.screenshot(path=str(ARTIFACTS / "app-live-summary.png"), full_page=True)
        after = files_in(app_server.temp_dir)

    timelines = summary["live"]["timelines"]
    made = {m: next((w["made"] for w in timelines[m] if "probs" in w), None) for m in ("video", "audio")}
    # Where a face reading's time goes: the engine (made - end: the server read the frame) and the rest of the
    # time between readings (the page's timer, the request and its answer, the browser drawing them).
    faces = timelines["video"]
    gap = float(np.median(np.diff([w["made"] for w in faces]))) if len(faces) > 1 else float("nan")
    engine = float(np.median([w["made"] - w["end"] for w in faces])) if faces else float("nan")
    (ARTIFACTS / "live-browser.txt").write_text(  # what a person would see, for the record (not a target here)
        f"first face reading on the page {first_face:.1f} s after Start (ready on the server {made['video']} s after "
        f"its session began), first voice reading {first_voice:.1f} s ({made['audio']} s); {rates}\n"
        f"face readings: {len(faces)} in {summary['live']['seconds']:.0f} s, median {gap:.2f} s apart, of which "
        f"{engine:.2f} s in the engine\n"
        f"load average {os.getloadavg()}\n")
    assert during == before, sorted(during - before)  # nothing streamed was written
    # Nor since: the summary travels inside the page. (The upload's analysis leaves an empty temp file of Gradio's
    # upload route behind: no byte of it is the user's.)
    assert not [p for p in after - before if p.stat().st_size], sorted(after - before)
    # The summary: the CLI's dict of the session as a clip, with its three timelines.
    assert summary["audio"]["label"] in EMOTIONS and summary["video"]["label"] in EMOTIONS
    assert summary["fused"]["modalities"] == ["audio", "video"]
    assert any("probs" in w for w in timelines["audio"]) and any("probs" in w for w in timelines["video"])
    assert timelines["fused"]
