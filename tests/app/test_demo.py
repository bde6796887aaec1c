"""The demo page at / and the training report, in real headless Chromium against a real server.

Chromium is Debian's (/usr/bin/chromium), driven by Playwright for Python; a missing browser is
a failure, not a skip. The upload test saves test-artifacts/demo.png; the README's docs/demo.png is
never written by a test (`scripts/demo_screenshot.py` refreshes it, and a test runs that command
with another output file).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, expect, sync_playwright

from app.config import REPO_ROOT
from app.routes.demo import STATIC_DIR
from scripts.demo_screenshot import (
    README_SCREENSHOT,
    TIMEOUT_MS,
    VIEWPORT,
    classify_upload,
    launch_chromium,
)
from tests.helpers import image_bytes, running_server

SCREENSHOT = REPO_ROOT / "test-artifacts" / "demo.png"
SAMPLES = {s["file"]: s["label"] for s in json.loads((STATIC_DIR / "samples" / "samples.json").read_text())}
expect.set_options(timeout=TIMEOUT_MS)


def file_digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.fixture(scope="module", autouse=True)
def readme_screenshot_is_left_alone() -> Iterator[None]:
    """No test of this module may change the tracked docs/demo.png (it once copied its screenshot there)."""
    before = file_digest(README_SCREENSHOT)
    yield
    assert file_digest(README_SCREENSHOT) == before, f"a test rewrote {README_SCREENSHOT}"


def test_demo_page_is_served_with_a_strict_content_security_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text and "https://" not in page.text  # nothing from other sites
    assert 'src="static/demo.js"' in page.text and 'href="static/demo.css"' in page.text
    for asset in ("demo.js", "demo.css", "samples/samples.json"):
        assert client.get(f"/static/{asset}").status_code == 200


def test_every_listed_sample_is_a_28x28_image_classified_as_its_label(client: TestClient) -> None:
    assert len(SAMPLES) >= 6
    for name, label in SAMPLES.items():
        response = client.post(
            "/predict", files={"file": (name, (STATIC_DIR / "samples" / name).read_bytes())}
        )
        assert response.status_code == 200 and response.json()["preprocess"] == "raw"
        assert response.json()["label"] == label, name


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with running_server() as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, server_url: str) -> Iterator[Page]:
    """The demo page, loaded; fails the test on a script or CSP error, a failed page resource, or
    any request off this server."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        # The browser also logs each 4xx answer here; the API refusing a bad upload is expected
        # (the test of that checks the message shown), failed page resources are caught below.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(f"console: {message.text}")

    def response(answer: Response) -> None:
        if answer.request.method == "GET" and answer.status >= 400:
            problems.append(f"{answer.status} for {answer.url}")

    page.on("console", console)
    page.on("response", response)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    local = (server_url, f"blob:{server_url}", "data:")
    page.on("request", lambda r: None if r.url.startswith(local) else problems.append(f"off-site: {r.url}"))
    page.goto(f"{server_url}/")
    page.wait_for_selector("#samples button")  # samples.json and model-info loaded
    yield page
    context.close()
    assert problems == []


@pytest.mark.browser
def test_upload_shows_label_confidence_bars_and_the_model_input(page: Page, tmp_path: Path, dataset) -> None:
    boot = tmp_path / "ankle-boot.png"
    boot.write_bytes(image_bytes(dataset.x_test[0]))  # the test set's first image, an ankle boot
    classify_upload(page, boot)
    assert page.inner_text("#label") == "Ankle boot"
    assert "% confident" in page.inner_text("#confidence")  # v3 adds " · garment score N %"
    bars = page.locator("#bars li")
    assert bars.count() == 10
    names = [bars.nth(i).locator(".name").inner_text() for i in range(10)]
    assert names[9] == "Ankle boot" and names[0] == "T-shirt/top"
    assert page.locator("#bars li.top .name").inner_text() == "Ankle boot"
    widths = [
        float(bars.nth(i).locator(".fill").evaluate("e => e.style.width").rstrip("%")) for i in range(10)
    ]
    assert abs(sum(widths) - 100) < 0.5 and max(widths) == widths[9]
    model_input = page.locator("#model-input")
    assert (model_input.get_attribute("src") or "").startswith("data:image/png;base64,")
    assert model_input.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [28, 28]
    assert page.inner_text("#mode") == "raw"

    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)


@pytest.mark.browser
def test_a_rejected_file_shows_the_apis_detail(page: Page, tmp_path: Path) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("this is not a picture")
    page.get_by_label("Image file").set_input_files(fake)
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert "HTTP 400" in error.inner_text() and "not a supported image" in error.inner_text()
    assert page.locator("#result").is_hidden()


@pytest.mark.browser
def test_samples_work_from_the_keyboard(page: Page) -> None:
    button = page.get_by_role("button", name="Trouser")
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#result:not([hidden])")
    expect(page.locator("#status")).to_have_text(re.compile(r"^trouser\.png: Trouser, \d"))
    assert page.inner_text("#label") == SAMPLES["trouser.png"] == "Trouser"
    assert page.locator("#bars li.top .name").inner_text() == "Trouser"
    assert page.locator("#bars li").count() == 10
    page.get_by_label("Preparation").select_option("photo")
    page.get_by_role("button", name="Bag").press("Enter")
    expect(page.locator("#status")).to_have_text(re.compile(r"^bag\.png: Bag, \d"))
    assert page.inner_text("#label") == SAMPLES["bag.png"] == "Bag"
    assert page.inner_text("#mode") == "photo"


@pytest.mark.browser
def test_an_image_dropped_on_the_drop_zone_is_classified(page: Page) -> None:
    page.evaluate(
        """async () => {
            const blob = await (await fetch("static/samples/sandal.png")).blob();
            const data = new DataTransfer();
            data.items.add(new File([blob], "dropped.png", { type: "image/png" }));
            const zone = document.getElementById("drop-zone");
            const drop = new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true });
            zone.dispatchEvent(drop);
        }"""
    )
    expect(page.locator("#status")).to_have_text(re.compile(r"^dropped\.png: Sandal, \d"))
    assert page.inner_text("#label") == SAMPLES["sandal.png"] == "Sandal"
    assert page.locator("#bars li.top .name").inner_text() == "Sandal"
    assert page.locator("#bars li").count() == 10


@pytest.mark.browser
def test_the_training_report_shows_its_figures(browser: Browser, server_url: str) -> None:
    page = browser.new_page()
    page.goto(f"{server_url}/model-report")
    assert page.locator("h1").first.inner_text().startswith("fashion-mnist version")
    page.wait_for_load_state("load")
    images = page.locator("main img")
    assert images.count() >= 3
    for i in range(images.count()):
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0"), images.nth(
            i
        ).get_attribute("src")
    page.close()


@pytest.mark.browser
def test_screenshot_command_writes_the_demo_page_where_it_is_told(tmp_path: Path) -> None:
    out = tmp_path / "demo.png"
    finished = subprocess.run(
        [sys.executable, "scripts/demo_screenshot.py", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    with Image.open(out) as shot:
        assert shot.format == "PNG" and shot.width == VIEWPORT["width"] and shot.height >= VIEWPORT["height"]


# ---- the digit model: pick it, draw on the pad ----------------------------------------------------

# One stroke, in fractions of the pad: the bar of a "7", then its slant down to the left.
SEVEN = [(0.25, 0.22), (0.75, 0.22), (0.45, 0.82)]
ONE = [(0.52, 0.15), (0.48, 0.85)]


def pad_points(page: Page, stroke: list[tuple[float, float]]) -> list[tuple[float, float]]:
    box = page.locator("#pad").bounding_box()
    assert box is not None
    return [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]


def choose_digit_model(page: Page) -> None:
    assert page.locator("#pad-section").is_hidden()  # the default model reads garments
    expect(page.locator("h1")).to_have_text("Fashion-MNIST classifier")
    page.get_by_label("Model").select_option("mnist")
    page.locator("#pad").wait_for(state="visible")
    assert page.locator("#sample-box").is_hidden()
    expect(page.locator("h1")).to_have_text("Handwritten digit classifier")  # no garment wording
    assert "garment" not in page.inner_text("header").lower()


@pytest.mark.browser
def test_a_seven_drawn_with_the_mouse_is_classified_as_7(page: Page) -> None:
    choose_digit_model(page)
    (x, y), *rest = pad_points(page, SEVEN)
    page.mouse.move(x, y)
    page.mouse.down()
    for x, y in rest:
        page.mouse.move(x, y, steps=12)
    page.mouse.up()  # lifting the pen sends the drawing
    expect(page.locator("#status")).to_have_text(re.compile(r"^drawing\.png: 7, \d"))
    assert page.inner_text("#label") == "7"
    bars = page.locator("#bars li .name")
    assert [bars.nth(i).inner_text() for i in range(10)] == [str(d) for d in range(10)]
    model_input = page.locator("#model-input")
    assert model_input.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [28, 28]
    page.screenshot(path=str(SCREENSHOT.with_name("demo-digit.png")), full_page=True)

    page.get_by_role("button", name="Clear").click()
    page.get_by_role("button", name="Classify the drawing").click()  # nothing drawn: nothing sent
    expect(page.locator("#status")).to_have_text(re.compile(r"^drawing\.png: 7, \d"))


@pytest.mark.browser
def test_a_one_drawn_with_a_finger_is_classified_as_1(browser: Browser, server_url: str) -> None:
    context = browser.new_context(viewport=VIEWPORT, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{server_url}/")
    page.wait_for_selector("#samples button")
    choose_digit_model(page)
    touch = context.new_cdp_session(page)  # real touch input: Chromium turns it into pointer events
    (x, y), *rest = pad_points(page, ONE)
    touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for x, y in rest:
        touch.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    expect(page.locator("#status")).to_have_text(re.compile(r"^drawing\.png: 1, \d"))
    context.close()
