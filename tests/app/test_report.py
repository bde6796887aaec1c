"""GET /model-report: the version's report.md as HTML, its figures, and nothing else of the directory."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.markdown import markdown_to_html
from app.model import resolve_version_dir
from tests.helpers import running_server


def test_report_is_html_whose_figures_load(client: TestClient) -> None:
    page = client.get("/model-report")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<h1>fashion-mnist version" in page.text and "<pre><code>" in page.text
    sources = re.findall(r'<img src="([^"]+)"', page.text)
    assert "model-report/confusion_matrix.png" in sources and len(sources) >= 3
    for source in sources:
        figure = client.get(f"/{source}")
        assert figure.status_code == 200 and figure.headers["content-type"] == "image/png"
        assert figure.content.startswith(b"\x89PNG")


def test_report_markdown_is_served_as_text(client: TestClient) -> None:
    response = client.get("/model-report/report.md")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/markdown")
    assert response.text.startswith("# fashion-mnist version")


@pytest.mark.parametrize(
    "path",
    [
        "/model-report/metadata.json",
        "/model-report/model.tflite",
        "/model-report/..%2Fmetadata.json",
        "/model-report/..%2F..%2F..%2Fpyproject.toml",
        "/model-report/%2e%2e",
        "/model-report/../../README.md",
        "/model-report/confusion_matrix.png%00.md",
    ],
)
def test_only_report_files_are_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, response.text[:200]


def test_model_info_links_the_report(client: TestClient) -> None:
    assert client.get("/model-info").json()["report"] == "/model-report"


def test_markdown_renders_and_escapes() -> None:
    html = markdown_to_html(
        "# Title <b>\n\nSome `code` and **bold**,\ncontinued.\n\n```\n<raw> & text\n```\n"
        "- one\n- two\n\n![plot](plot.png) [site](javascript:alert(1)) <script>alert(1)</script>\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n",
        asset_prefix="files/",
    )
    assert "<h1>Title &lt;b&gt;</h1>" in html
    assert "<p>Some <code>code</code> and <strong>bold</strong>,\ncontinued.</p>" in html
    assert "<pre><code>&lt;raw&gt; &amp; text\n</code></pre>" in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert '<img src="files/plot.png" alt="plot" />' in html
    assert "<script>" not in html and "&lt;script&gt;" in html  # raw HTML is text
    assert 'href="javascript' not in html
    assert "<td>1</td>" in html  # tables, as report.md files may grow them


@pytest.fixture(scope="module")
def planted_version(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped highest version whose directory also holds what must never be served:
    symlinks to a secret outside it and to a file of its own, a FIFO, a hidden file, and report.md
    itself as a symlink to a regular copy beside it."""
    root = tmp_path_factory.mktemp("models")
    source = resolve_version_dir(Settings().model_dir)
    version = root / source.name
    shutil.copytree(source, version)
    secret = root / "secret.txt"
    secret.write_text("SECRET outside the version directory\n")
    (version / "leak.png").symlink_to(secret)
    (version / "passwd.png").symlink_to("/etc/passwd")
    (version / "samples-link.png").symlink_to("samples.png")  # inside, but still a symlink
    os.mkfifo(version / "pipe.png")  # would block a plain open() forever
    (version / ".hidden.png").write_bytes((version / "samples.png").read_bytes())
    (version / "report.md").rename(root / "report-original.md")
    (version / "report.md").symlink_to(root / "report-original.md")
    return version


@pytest.fixture(scope="module")
def planted_server(planted_version: Path) -> Iterator[str]:
    with running_server(env={"MODEL_DIR": str(planted_version.parent)}) as url:
        yield url


@pytest.mark.parametrize(
    "name", ["leak.png", "passwd.png", "samples-link.png", "pipe.png", ".hidden.png", "report.md"]
)
def test_symlinks_and_special_files_in_the_version_directory_are_not_served(
    planted_server: str, name: str
) -> None:
    response = httpx.get(f"{planted_server}/model-report/{name}", timeout=10)
    assert response.status_code == 404, response.text[:200]
    assert "SECRET" not in response.text and "root:" not in response.text


def test_a_symlinked_report_is_not_rendered_but_regular_figures_are_served(planted_server: str) -> None:
    assert httpx.get(f"{planted_server}/model-report", timeout=10).status_code == 404
    figure = httpx.get(f"{planted_server}/model-report/samples.png", timeout=10)
    assert figure.status_code == 200 and figure.headers["content-type"] == "image/png"
    assert figure.content.startswith(b"\x89PNG")
