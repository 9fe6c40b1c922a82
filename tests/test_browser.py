"""The real page in a real headless Chromium (Debian's /usr/bin/chromium, `make browser`), driven by Playwright.

Uploads a real clip, presses the button, waits for the three charts and the summary, and saves a
screenshot under tests/artifacts/ for a person to look at.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import pytest

from avemo.config import EMOTIONS

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
EMOTION_PATTERN = re.compile(r"\b(" + "|".join(EMOTIONS) + r")\b")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: run `make browser` to install it"),
]


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def page(playwright, app_server):
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()
    browser.close()


@contextmanager
def page_with_fake_devices(playwright, permissions: list[str]):
    """A page in a Chromium whose camera shows a test pattern and whose microphone beeps."""
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                         args=CHROMIUM_ARGS + ["--use-fake-device-for-media-stream",
                                                               "--use-fake-ui-for-media-stream"])
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=permissions)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()
        browser.close()


def wait_until_playable(page, selector: str) -> None:
    """Wait until the browser has finished a recording and can read it back (its metadata loaded).
    A fixed pause was not always enough on a loaded CPU: one run analysed an unreadable recording."""
    page.wait_for_function("""(selector) => {
        const media = document.querySelector(selector);
        return media !== null && media.readyState >= 1;
    }""", arg=selector)


def assert_recording_was_analysed_with_sound(result: dict) -> None:
    """What matters for a recording: it was read, with its sound, and the result says what was found."""
    assert not result["error"] or "not a readable" not in result["error"], result
    assert result["unavailable"].get("audio") != "the file has no audio track", result


def test_page_explains_itself(page, app_server):
    page.goto(app_server.url)
    page.get_by_role("heading", name=re.compile("which emotion do you hear")).wait_for()
    page.locator("#analyse-video").wait_for()
    assert page.title().startswith("avemo")
    body = page.locator("body").inner_text()
    assert "from the voice alone, from the face alone, and from both together" in body
    assert "Models loaded from" in body
    for label in ("Video (face + voice)", "Voice only", "Analyse the video"):
        assert label in body


def test_upload_analyse_and_show_results(page, app_server, tmp_path):
    """The bundled clip whose face moves (a synthetic smile under happy speech), uploaded as a user would:
    this run's screenshot is the README's picture (make screenshot)."""
    import shutil

    from avemo.app.page import EXAMPLES_DIR

    clip = tmp_path / "browser-smile.mp4"
    shutil.copyfile(EXAMPLES_DIR / "ravdess-actor03-happy-synthetic-smile.mp4", clip)
    page.goto(app_server.url)
    page.locator("#analyse-video").wait_for()
    page.locator("#video-input input[type=file]").set_input_files(str(clip))
    page.locator("#video-input video").first.wait_for()  # the upload is shown
    page.locator("#analyse-video").click()

    summary = page.locator("#summary")
    summary.filter(has_text="browser-smile.mp4").wait_for(timeout=90_000)
    for plot in ("#plot-audio", "#plot-video", "#plot-fused", "#plot-timeline", "#plot-contributions"):
        page.locator(f"{plot} .js-plotly-plot").first.wait_for()
    page.wait_for_timeout(500)  # let plotly finish drawing for the screenshot
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app-video.png"), full_page=True)

    text = summary.inner_text()
    assert EMOTION_PATTERN.search(text), text
    assert "Could not analyse" not in text
    # The charts say voice / face / both in their titles, and the JSON result can be downloaded.
    assert page.locator("#plot-audio .gtitle").text_content().startswith("Voice")
    assert page.locator("#plot-video .gtitle").text_content().startswith("Face")
    assert "this face model is right" in page.locator("#plot-video .gtitle").text_content()  # its measured accuracy
    assert page.locator("#plot-fused .gtitle").text_content().startswith("Both together")
    assert page.locator("#plot-contributions .gtitle").text_content().startswith("What pushed the verdict")
    assert "Why:" in text and " over " in text  # the fused verdict's reason, in words
    links = [page.locator("#result-json a").nth(i).get_attribute("href") or ""
             for i in range(page.locator("#result-json a").count())]
    assert any(link.endswith("avemo-browser-smile.json") for link in links), links
    # The face strip: the frames the face model used, each with its time, verdict and what the face did.
    captions = page.locator("#frames").inner_text()
    assert re.search(r"\d\.\d s: (" + "|".join(EMOTIONS) + r") \d+%", captions), captions
    assert "What the face did:" in text
    # Plotly's toolbar never covers a chart's title, even under the mouse.
    for plot in ("#plot-audio", "#plot-video", "#plot-fused", "#plot-contributions"):
        page.locator(f"{plot} .js-plotly-plot").first.hover()
        title = page.locator(f"{plot} .gtitle").bounding_box()
        bars = page.locator(f"{plot} .modebar-container")
        box = bars.bounding_box() if bars.count() and bars.is_visible() else None
        assert box is None or box["y"] > title["y"] + title["height"] or box["x"] > title["x"] + title["width"], plot
    # The other tab clears the results: they belong to this clip, not to the next one.
    page.get_by_role("tab", name="Voice only").click()
    summary.filter(has_text="Results appear here").wait_for(timeout=10_000)
    assert page.locator("#plot-fused .js-plotly-plot").count() == 0


DROP_FILE = """async ([selector, name, type, b64]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const moved = new DataTransfer();
    moved.items.add(new File([bytes], name, {type}));
    const target = document.querySelector(selector);
    target.dispatchEvent(new DragEvent("drop", {dataTransfer: moved, bubbles: true, cancelable: true}));
}"""


def test_a_file_dropped_on_the_other_tab_s_box_is_handed_to_the_right_one(page, app_server):
    """An audio file on the video box lands in the voice tab, and a video on the voice box in the video tab:
    no toast listing MIME types, and the file is there to analyse."""
    import base64

    from avemo.app.page import EXAMPLES_DIR

    page.goto(app_server.url)
    page.locator("#analyse-video").wait_for()
    flac = EXAMPLES_DIR / "savee-KL-surprised.flac"
    page.evaluate(DROP_FILE, ["#video-input button, #video-input div", "my-voice.flac", "audio/flac",
                              base64.b64encode(flac.read_bytes()).decode()])
    page.locator("#audio-input a[data-testid=download-link][href*='my-voice.flac']").wait_for(timeout=20_000)
    assert page.get_by_role("tab", name="Voice only").get_attribute("aria-selected") == "true"
    assert page.locator(".toast-body").count() == 0
    page.locator("#analyse-voice").click()
    page.locator("#summary").filter(has_text="my-voice.flac").wait_for(timeout=90_000)
    assert "Could not analyse" not in page.locator("#summary").inner_text()

    mp4 = EXAMPLES_DIR / "ravdess-actor01-angry.mp4"
    page.evaluate(DROP_FILE, ["#audio-input button, #audio-input div", "my-clip.mp4", "video/mp4",
                              base64.b64encode(mp4.read_bytes()).decode()])
    page.locator("#video-input video").first.wait_for(timeout=20_000)
    assert page.get_by_role("tab", name="Video (face + voice)").get_attribute("aria-selected") == "true"
    assert page.locator(".toast-body").count() == 0


def test_the_video_box_shows_its_upload_and_webcam_buttons_whole(page, app_server):
    page.goto(app_server.url)
    page.locator("#analyse-video").wait_for()
    box = page.locator("#video-input").bounding_box()
    buttons = page.locator("#video-input button[aria-label]")
    shown = [buttons.nth(i).bounding_box() for i in range(buttons.count()) if buttons.nth(i).is_visible()]
    assert len(shown) >= 2  # upload, webcam
    for b in shown:
        assert b["y"] >= box["y"] and b["y"] + b["height"] <= box["y"] + box["height"] + 0.5, (b, box)


def test_refused_file_shows_the_message(page, app_server, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video\n" * 50)
    page.goto(app_server.url)
    page.locator("#analyse-video").wait_for()
    page.locator("#video-input input[type=file]").set_input_files(str(bad))
    page.locator("#analyse-video").click()
    summary = page.locator("#summary")
    summary.filter(has_text="Could not analyse").wait_for(timeout=60_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app-refused.png"), full_page=True)
    assert "not a readable audio or video file" in summary.inner_text()
    assert "Traceback" not in page.locator("body").inner_text()
    # Said once, where the eye goes: no toast, and no chart panel repeating it.
    page.wait_for_timeout(500)
    toasts = [page.locator(".toast-body").nth(i).inner_text() for i in range(page.locator(".toast-body").count())]
    assert not toasts, toasts  # neither ours nor the video player's "Video not playable"
    for plot in ("#plot-audio", "#plot-video", "#plot-fused", "#plot-timeline", "#plot-contributions"):
        assert "not a readable" not in page.locator(plot).inner_text()


def test_webcam_recording_with_sound(playwright, app_server):
    """Chromium's fake camera and microphone: record, analyse; the recording keeps its sound track."""
    with page_with_fake_devices(playwright, ["camera", "microphone"]) as page:
        page.goto(app_server.url)
        page.locator("#analyse-video").wait_for()
        page.get_by_label("Capture from camera").click()
        page.get_by_text("Click to Access Webcam").click()
        page.locator("#video-input button.capture-button").click()  # start recording
        page.wait_for_timeout(2500)
        page.locator("#video-input button.capture-button").click()  # stop
        wait_until_playable(page, "#video-input video")
        page.locator("#analyse-video").click()
        page.locator("#result-json a").first.wait_for(timeout=90_000)
        page.wait_for_timeout(500)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "app-webcam.png"), full_page=True)
        result = page.request.get(page.locator("#result-json a").first.get_attribute("href")).json()
        summary = page.locator("#summary").inner_text()
    # The fake camera shows a test pattern, not a face, and the fake microphone beeps, not a voice: the page
    # says so, once, and gives neither an emotion.
    assert_recording_was_analysed_with_sound(result)
    assert result["path"].endswith(".webm")
    reasons = " ".join([result["error"] or "", *result["unavailable"].values()])
    assert "no speech detected" in reasons and "no face" in reasons, result
    assert "no speech detected" in summary and result["fused"] is None


def test_examples_run_in_one_click_and_stay_available(page, app_server):
    """Clicking an example analyses it; it can be clicked again after uploads were cleaned up."""
    from avemo.app.page import example_files

    page.goto(app_server.url)
    page.locator("#analyse-video").wait_for()
    summary = page.locator("#summary")
    examples = page.locator("#video-input").locator("xpath=ancestor::div[contains(@class,'tabitem')][1]") \
        .locator("button.gallery-item")
    order = [p.name for p in example_files()["video"]]  # video examples show as thumbnails, in this order
    angry, smiling = order.index("ravdess-actor01-angry.mp4"), order.index("ravdess-actor03-happy-synthetic-smile.mp4")
    examples.nth(angry).click()
    summary.filter(has_text="ravdess-actor01-angry.mp4").wait_for(timeout=90_000)
    examples.nth(smiling).click()  # the face that moves: what it did is said in words
    summary.filter(has_text="synthetic-smile.mp4").wait_for(timeout=90_000)
    assert "What the face did:" in summary.inner_text()
    page.wait_for_timeout(3000)  # longer than the server's upload grace period: the janitor has run
    examples.nth(angry).click()
    summary.filter(has_text="ravdess-actor01-angry.mp4").wait_for(timeout=90_000)
    assert "Could not analyse" not in summary.inner_text()

    page.get_by_role("tab", name="Voice only").click()
    page.locator("button.gallery-item", has_text="savee-KL-surprised.flac").click()
    summary.filter(has_text="savee-KL-surprised.flac").wait_for(timeout=90_000)
    assert "Could not analyse" not in summary.inner_text() or "no audio model" in summary.inner_text()


def test_microphone_recording(playwright, app_server):
    """Chromium's fake microphone (a beep) in the Voice tab: the recording reaches the analysis."""
    with page_with_fake_devices(playwright, ["microphone"]) as page:
        page.goto(app_server.url)
        page.locator("#analyse-video").wait_for()
        page.get_by_role("tab", name="Voice only").click()
        page.locator("#audio-input").get_by_label("Record audio").click()
        page.locator("#audio-input button.record-button").click()
        page.wait_for_timeout(2000)
        page.locator("#audio-input button.stop-button").click()
        page.locator("#audio-input audio").first.wait_for(state="attached")  # hidden: never loads metadata
        page.wait_for_timeout(1000)
        page.locator("#analyse-voice").click()
        page.locator("#result-json a").first.wait_for(timeout=90_000)
        result = page.request.get(page.locator("#result-json a").first.get_attribute("href")).json()
    assert_recording_was_analysed_with_sound(result)
