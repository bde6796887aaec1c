"""GET /model-report: the served version's training report as HTML, and its figures."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from app.deps import get_classifier
from app.markdown import markdown_to_html
from app.model import Classifier

router = APIRouter(tags=["service"])

REPORT_FILE = "report.md"
FIGURE_SUFFIXES = (".png", ".jpg", ".jpeg")  # no SVG: it could carry script
# The page is generated from our own files, but it is HTML built from text: allow nothing to run.
REPORT_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'"
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
  line-height: 1.5; color: #1a1a1a; }}
pre {{ background: #f4f4f4; padding: 1rem; overflow-x: auto; }}
img {{ max-width: 100%; height: auto; }}
</style>
</head>
<body>
<nav><a href="./">Demo</a> · <a href="model-info">model-info</a> ·
<a href="model-report/report.md">report.md</a></nav>
<main>
{body}
</main>
</body>
</html>
"""


def report_files(directory: Path) -> dict[str, Path]:
    """The files of a version directory the report may link to, by name (nothing else is served)."""
    return {
        path.name: path
        for path in directory.iterdir()
        if path.is_file() and (path.suffix.lower() in FIGURE_SUFFIXES or path.name == REPORT_FILE)
    }


@router.get("/model-report", response_class=HTMLResponse, responses={404: {"description": "no report"}})
def model_report(classifier: Annotated[Classifier, Depends(get_classifier)]) -> HTMLResponse:
    """The training report of the served version (report.md rendered as HTML, figures included)."""
    path = classifier.directory / REPORT_FILE
    if not path.is_file():
        raise HTTPException(404, f"model version {classifier.version} has no {REPORT_FILE}")
    body = markdown_to_html(path.read_text(encoding="utf-8"), asset_prefix="model-report/")
    title = escape(f"{classifier.name} version {classifier.version}: training report")
    return HTMLResponse(PAGE.format(title=title, body=body), headers={"Content-Security-Policy": REPORT_CSP})


@router.get(
    "/model-report/{name}", response_class=FileResponse, responses={404: {"description": "no such file"}}
)
def model_report_file(name: str, classifier: Annotated[Classifier, Depends(get_classifier)]) -> FileResponse:
    """A figure of the report (or report.md itself), by file name within the version directory."""
    path = report_files(classifier.directory).get(name)
    if path is None:
        raise HTTPException(404, f"model version {classifier.version} has no report file {name!r}")
    media_type = "text/markdown; charset=utf-8" if name == REPORT_FILE else None
    return FileResponse(path, media_type=media_type)
