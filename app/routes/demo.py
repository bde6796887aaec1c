"""GET /: the demo page (plain HTML, CSS and JS from app/static/, nothing from other sites)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

router = APIRouter(tags=["demo"])

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# Only our own scripts, styles and images, plus the data: URL of the model's input and the
# blob: URL of the user's own image preview.
DEMO_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


@router.get("/", response_class=FileResponse, include_in_schema=False)
def demo_page() -> FileResponse:
    """Upload or drop an image, or pick a sample, and see what the model says."""
    return FileResponse(STATIC_DIR / "index.html", headers={"Content-Security-Policy": DEMO_CSP})
