"""The Live tab in a real headless Chromium whose camera shows a RAVDESS face and whose microphone plays a real
RAVDESS take (Chromium's fake devices, fed from files this test makes): readings for the face and the voice
appear, Stop ends the session and its summary downloads, and nothing streamed lands in Gradio's temp folder."""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import pytest

from avemo.config import EMOTIONS, LIVE

try:
    from tests import clips
except ImportError:
    import clips

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
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


@contextmanager
def live_page(folder: Path, width: int = 1400, height: int = 1000):
    from playwright.sync_api import sync_playwright

    face, speech = fake_devices(folder)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS + ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                                  f"--use-file-for-fake-video-capture={face}",
                                  f"--use-file-for-fake-audio-capture={speech}",
                                  "--autoplay-policy=no-user-gesture-required"])
        context = browser.new_context(viewport={"width": width, "height": height}, permissions=["camera", "microphone"])
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def files_in(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def test_live_tab_reads_face_and_voice_stops_and_keeps_its_summary(app_server, tmp_path):
    with live_page(tmp_path) as page:
        page.goto(app_server.url)
        page.get_by_role("tab", name="Live").click()
        intro = page.locator("#live-intro").inner_text()
        assert f"ends by itself after {LIVE.session_seconds:.0f} s" in intro  # the page states its limit
        before = files_in(app_server.temp_dir)
        page.locator("#live-start").click()

        face, voice = page.locator("#live-face"), page.locator("#live-voice")
        face.filter(has_text=EMOTION).wait_for(timeout=30_000)
        voice.filter(has_text=EMOTION).wait_for(timeout=30_000)
        page.locator("#live-timeline .js-plotly-plot").first.wait_for(timeout=30_000)
        assert "s left of" in page.locator("#live-status").inner_text()
        page.locator("#live-fused").filter(has_text=" over ").wait_for(timeout=30_000)  # both, with its reason
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "app-live.png"), full_page=True)
        during = files_in(app_server.temp_dir)
        page.set_viewport_size({"width": 390, "height": 844})  # a phone: the timeline is redrawn within a second
        page.wait_for_timeout(2000)
        page.screenshot(path=str(ARTIFACTS / "app-live-390.png"), full_page=True)
        page.set_viewport_size({"width": 1400, "height": 1000})
        page.wait_for_timeout(2000)

        page.locator("#live-stop").click()
        page.locator("#live-summary").filter(has_text="The session").wait_for(timeout=60_000)
        link = page.locator("#live-summary-json a").first
        link.wait_for(timeout=30_000)
        href = link.get_attribute("href")
        summary = page.request.get(href).json()
        assert page.evaluate("window.avemoLive.stream === null")  # the camera and the microphone are let go
        shown = page.locator("#live-face").inner_text()
        page.wait_for_timeout(1500)
        assert page.locator("#live-face").inner_text() == shown  # no reading after Stop
        page.screenshot(path=str(ARTIFACTS / "app-live-summary.png"), full_page=True)
        after = files_in(app_server.temp_dir)

    assert during == before, sorted(during - before)  # nothing streamed was written
    assert [p.name for p in after - before] == [Path(href).name]  # only the summary
    # The summary: the CLI's dict of the session as a clip, with its three timelines.
    assert summary["audio"]["label"] in EMOTIONS and summary["video"]["label"] in EMOTIONS
    assert summary["fused"]["modalities"] == ["audio", "video"]
    timelines = summary["live"]["timelines"]
    assert any("probs" in w for w in timelines["audio"]) and any("probs" in w for w in timelines["video"])
    assert timelines["fused"]
