"""Refresh the README's picture of the demo page: a screenshot after classifying the ankle-boot sample.

    .venv/bin/python scripts/demo_screenshot.py                 # -> docs/demo.png
    .venv/bin/python scripts/demo_screenshot.py --out /tmp/x.png

Starts the real service with uvicorn (the highest shipped version, or MODEL_VERSION), opens the page
in Debian's headless Chromium (`apt-get install chromium`; never `playwright install`) and saves a
full-page screenshot. The tests never write docs/demo.png; this command is how it changes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a plain script from any directory

from playwright.sync_api import Browser, Page, Playwright, ViewportSize, sync_playwright  # noqa: E402

from app.routes.demo import STATIC_DIR  # noqa: E402
from benchmarks.uvicorn_process import free_port, running_uvicorn  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT: ViewportSize = {"width": 900, "height": 1100}
TIMEOUT_MS = 30_000  # a first inference on a busy 2-core machine can take a while
README_SCREENSHOT = REPO_ROOT / "docs" / "demo.png"
SAMPLE = STATIC_DIR / "samples" / "ankle-boot.png"  # the test set's first image


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless; a missing browser is an error that says how to install it."""
    if not CHROMIUM.is_file():
        raise FileNotFoundError(f"{CHROMIUM} is missing: apt-get install -y chromium")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def classify_upload(page: Page, image: Path) -> None:
    """Choose `image` in the page's file input and wait until its result is shown."""
    page.get_by_label("Image file").set_input_files(image)
    page.wait_for_selector("#result:not([hidden])")


def screenshot_demo(url: str, out: Path, image: Path = SAMPLE) -> None:
    """Open the demo page at `url`, classify `image`, save a full-page screenshot to `out`."""
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{url}/")
            page.wait_for_selector("#samples button")  # samples.json and model-info loaded
            classify_upload(page, image)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=README_SCREENSHOT, help="where to save (docs/demo.png)")
    args = parser.parse_args()
    port = free_port()
    with tempfile.NamedTemporaryFile(prefix="uvicorn-", suffix=".log") as log:
        with running_uvicorn("app.main:app", port, Path(log.name), dict(os.environ), (), timeout_s=120):
            screenshot_demo(f"http://127.0.0.1:{port}", args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
