"""GET /model-report: the served version's training report as HTML, and its figures."""

from __future__ import annotations

import os
import stat
from html import escape
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import HTMLResponse, Response

from app.deps import get_classifier
from app.markdown import markdown_to_html
from app.model import Classifier
from app.model_version import REPORT_FILE

router = APIRouter(tags=["service"])

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


MEDIA_TYPES = {
    ".md": "text/markdown; charset=utf-8",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}
# Opening never follows a symlink (O_NOFOLLOW) and never waits on a FIFO or device (O_NONBLOCK); what
# was opened is then checked to be a regular file, so nothing can be swapped in between check and read.
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def is_report_file_name(name: str) -> bool:
    """report.md, or a PNG/JPEG figure: a plain name, no directory part, not hidden."""
    plain = "/" not in name and "\\" not in name and "\0" not in name and not name.startswith(".")
    return plain and (name == REPORT_FILE or Path(name).suffix.lower() in FIGURE_SUFFIXES)


def read_report_file(directory: Path, name: str) -> bytes | None:
    """The bytes of a report file that is a regular file directly in `directory`; None for anything else
    (a missing file, another kind of file, a directory, or a symlink, wherever it points)."""
    if not is_report_file_name(name):
        return None
    try:
        directory_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        file_fd = os.open(name, OPEN_FLAGS, dir_fd=directory_fd)
    except OSError:  # ELOOP for a symlink, ENOENT, EACCES, ...
        return None
    finally:
        os.close(directory_fd)
    with os.fdopen(file_fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read()


@router.get("/model-report", response_class=HTMLResponse, responses={404: {"description": "no report"}})
def model_report(classifier: Annotated[Classifier, Depends(get_classifier)]) -> HTMLResponse:
    """The training report of the served version (report.md rendered as HTML, figures included)."""
    report = read_report_file(classifier.directory, REPORT_FILE)
    if report is None:
        raise HTTPException(404, f"model version {classifier.version} has no {REPORT_FILE}")
    body = markdown_to_html(report.decode("utf-8", errors="replace"), asset_prefix="model-report/")
    title = escape(f"{classifier.name} version {classifier.version}: training report")
    return HTMLResponse(PAGE.format(title=title, body=body), headers={"Content-Security-Policy": REPORT_CSP})


FILE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "the figure or report.md",
        "content": {media_type: {} for media_type in sorted(set(MEDIA_TYPES.values()))},
    },
    404: {"description": "no such file"},
}


@router.get("/model-report/{name}", response_class=Response, responses=FILE_RESPONSES)
def model_report_file(name: str, classifier: Annotated[Classifier, Depends(get_classifier)]) -> Response:
    """A figure of the report (or report.md itself), by file name within the version directory."""
    content = read_report_file(classifier.directory, name)
    if content is None:
        raise HTTPException(404, f"model version {classifier.version} has no report file {name!r}")
    return Response(content, media_type=MEDIA_TYPES[Path(name).suffix.lower()])
