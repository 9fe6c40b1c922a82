"""The real page in a real headless Chromium (Debian's /usr/bin/chromium, `make browser`), driven by Playwright.

Uploads a real clip, presses the button, waits for the three charts and the summary, and saves
screenshots under tests/artifacts/ for a person to look at: on a desktop in light mode, on a phone
(390 px wide) in dark mode.
"""
from __future__ import annotations

import base64
import json
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
def page_with_fake_devices(playwright, permissions: list[str], files: tuple[str, ...] = ()):
    """A page in a Chromium whose camera shows a test pattern and whose microphone beeps, or with `files`
    (--use-file-for-fake-video-capture=..., --use-file-for-fake-audio-capture=...) what those files hold."""
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                         args=CHROMIUM_ARGS + ["--use-fake-device-for-media-stream",
                                                               "--use-fake-ui-for-media-stream", *files])
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


def downloaded_result(page) -> dict:
    """The result JSON behind the page's download link (its data is in the link itself)."""
    href = page.locator("#result-json a").first.get_attribute("href")
    assert href.startswith("data:application/json;base64,"), href[:60]
    return json.loads(base64.b64decode(href.split(",", 1)[1]))


# Records, while an analysis runs, the stages the page shows (Gradio's progress text over the summary).
WATCH_STAGES = """() => {
    window.stagesSeen = new Set();
    new MutationObserver(() => {
        for (const level of document.querySelectorAll(".progress-level-inner")) {
            const text = level.textContent.trim();
            if (text) window.stagesSeen.add(text.replace(/ - [\\d.]+%$/, ""));
        }
    }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


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
    assert "The voice model learnt from acted speech in English" in body  # read from its config.json
    assert "never stored on the server" in body  # the footer's policy on what the app derives
    for label in ("Video (face + voice)", "Voice only", "Analyse the video"):
        assert label in body
    # Before an analysis there is nothing to chart: no wall of empty frames, no empty download box.
    assert page.locator(".js-plotly-plot").count() == 0 and page.locator("#charts").count() == 0
    assert not page.locator("#result-json").is_visible() and not page.locator("#frames").is_visible()
    # The examples say what they are (they come in after the page's first paint).
    for caption in ("angry voice, still face (RAVDESS actor 1)", "face made to smile (synthetic"):
        page.get_by_text(caption).first.wait_for(timeout=20_000)


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
    page.evaluate(WATCH_STAGES)
    page.locator("#analyse-video").click()
    # The button is off while its analysis runs (and so is the voice tab's): it cannot be pressed twice.
    page.wait_for_function("document.querySelector('#analyse-video').disabled", timeout=20_000)

    summary = page.locator("#summary")
    summary.filter(has_text="browser-smile.mp4").wait_for(timeout=90_000)
    page.wait_for_function("!document.querySelector('#analyse-video').disabled", timeout=20_000)
    stages = set(page.evaluate("[...window.stagesSeen]"))
    assert {"Decoding the file", "Listening to the voice", "Looking at the face"} <= stages, stages
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
    assert "right" in page.locator("#plot-video .gtitle").text_content()  # its measured accuracy
    assert page.locator("#plot-fused .gtitle").text_content().startswith("Both together")
    assert page.locator("#plot-contributions .gtitle").text_content().startswith("How the voice and the face voted")
    assert "Why:" in text and " over " in text and "Votes between the two" in text  # the reason, in words
    assert page.locator("#result-json a").get_attribute("download") == "avemo-browser-smile.json"
    assert downloaded_result(page)["path"] == "browser-smile.mp4"
    # The face strip: the frames the face model used, each with its time, verdict and what the face showed,
    # every caption whole (none cut off at the thumbnail's edge).
    captions = page.locator("#frames figcaption")
    assert captions.count() == 4
    for i in range(captions.count()):
        caption = captions.nth(i)
        assert re.match(r"\d\.\d s: (" + "|".join(EMOTIONS) + r") \d+%", caption.inner_text()), caption.inner_text()
        assert caption.evaluate("e => e.scrollWidth <= e.clientWidth && e.scrollHeight <= e.clientHeight + 1")
    assert "smiling" in page.locator("#frames").inner_text()
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


LABEL_WHOLE_AND_CLEAR = """(label) => {
    const box = label.getBoundingClientRect(), block = label.closest(".block") || label.parentElement;
    const overlaps = [...block.querySelectorAll("button")].filter((b) => b.offsetParent && !label.contains(b))
        .map((b) => b.getBoundingClientRect())
        .filter((b) => b.left < box.right && box.left < b.right && b.top < box.bottom && box.top < b.bottom);
    return label.scrollWidth <= label.clientWidth && overlaps.length === 0;
}"""


def test_a_phone_in_dark_mode_gets_whole_titles_and_charts_in_the_theme(playwright, app_server):
    """390 px wide, dark mode: no chart title cut at the edge or run into its legend, no label cut, nothing
    wider than the screen, and the charts' text in the theme's colour on a see-through background."""
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(app_server.url)
        page.locator("#analyse-video").wait_for()
        page.get_by_text("angry voice, still face").click()
        page.locator("#summary").filter(has_text="ravdess-actor01-angry.mp4").wait_for(timeout=90_000)
        plots = ["#plot-audio", "#plot-video", "#plot-fused", "#plot-timeline", "#plot-contributions"]
        for plot in plots:
            page.locator(f"{plot} .gtitle").wait_for()
        page.wait_for_timeout(500)  # let plotly finish drawing for the screenshot
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "app-phone-dark.png"), full_page=True)

        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        for plot in plots:
            chart = page.locator(f"{plot} .main-svg").first.bounding_box()
            texts = page.locator(f"{plot} .gtitle, {plot} .xtitle, {plot} [class$=title] text, {plot} .ytitle")
            for i in range(texts.count()):
                box = texts.nth(i).bounding_box()
                assert box["x"] >= chart["x"] - 1 and box["x"] + box["width"] <= chart["x"] + chart["width"] + 1, \
                    (plot, texts.nth(i).text_content())
            title = page.locator(f"{plot} .gtitle").bounding_box()
            legend = page.locator(f"{plot} .legend")
            if legend.count():
                box = legend.first.bounding_box()
                assert box["y"] >= title["y"] + title["height"] or box["y"] + box["height"] <= title["y"], plot
            # Dark mode: light text on the page's own dark background.
            fill = page.locator(f"{plot} .gtitle").evaluate("e => getComputedStyle(e).fill")
            assert min(int(v) for v in re.findall(r"\d+", fill)[:3]) > 180, (plot, fill)
            assert page.locator(f"{plot} .main-svg").first.evaluate("e => getComputedStyle(e).backgroundColor") \
                == "rgba(0, 0, 0, 0)"
        # Every box's label whole, and clear of the buttons in its box (the video player's).
        labels = page.locator("[data-testid=block-label]")
        for i in range(labels.count()):
            if labels.nth(i).is_visible():
                assert labels.nth(i).evaluate(LABEL_WHOLE_AND_CLEAR), labels.nth(i).inner_text()
    finally:
        context.close()
        browser.close()


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
    assert page.locator(".js-plotly-plot").count() == 0
    assert page.locator("body").inner_text().count("not a readable") == 1


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
        result = downloaded_result(page)
        summary = page.locator("#summary").inner_text()
    # The fake camera shows a test pattern, not a face, and the fake microphone beeps, not a voice: the page
    # says so, once, and gives neither an emotion.
    assert_recording_was_analysed_with_sound(result)
    assert result["path"].endswith(".webm")
    reasons = " ".join([result["error"] or "", *result["unavailable"].values()])
    assert "no speech detected" in reasons and "no face" in reasons, result
    assert "no speech detected" in summary and result["fused"] is None


def test_examples_run_in_one_click_and_stay_available(page, app_server):
    """Clicking an example (by its caption) analyses it; it can be clicked again after uploads were cleaned up.
    The voice tab shows the voice alone: no face panel, no "both together", no votes."""
    page.goto(app_server.url)
    page.locator("#analyse-video").wait_for()
    summary = page.locator("#summary")
    page.get_by_text("angry voice, still face").click()
    summary.filter(has_text="ravdess-actor01-angry.mp4").wait_for(timeout=90_000)
    assert "What the face showed, the same in every sampled frame" in summary.inner_text()  # a still photo
    page.get_by_text("face made to smile").click()  # the face that moves: what it did is said in words
    summary.filter(has_text="synthetic-smile.mp4").wait_for(timeout=90_000)
    assert "What the face did:" in summary.inner_text()
    page.wait_for_timeout(3000)  # longer than the server's upload grace period: the janitor has run
    page.get_by_text("angry voice, still face").click()
    summary.filter(has_text="ravdess-actor01-angry.mp4").wait_for(timeout=90_000)
    assert "Could not analyse" not in summary.inner_text()

    page.get_by_role("tab", name="Voice only").click()
    page.get_by_text("surprised voice (SAVEE speaker KL)").click()
    summary.filter(has_text="savee-KL-surprised.flac").wait_for(timeout=90_000)
    page.locator("#plot-audio .gtitle").wait_for()
    text = summary.inner_text()
    assert "Could not analyse" not in text and "from voice" in text and "video track" not in text
    for plot in ("#plot-video", "#plot-fused", "#plot-contributions"):
        assert page.locator(f"{plot} .js-plotly-plot").count() == 0, plot
    assert not page.locator("#frames").is_visible()


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
        result = downloaded_result(page)
    assert_recording_was_analysed_with_sound(result)
