"""GET /model-report: the version's report.md as HTML, its figures, and nothing else of the directory."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.markdown import markdown_to_html


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


def test_markdown_subset_renders_and_escapes() -> None:
    html = markdown_to_html(
        "# Title <b>\n\nSome `code` and **bold**,\ncontinued.\n\n```\n<raw> & text\n```\n"
        "- one\n- two\n\n![plot](plot.png) [site](javascript:alert(1))\n",
        asset_prefix="files/",
    )
    assert "<h1>Title &lt;b&gt;</h1>" in html
    assert "<p>Some <code>code</code> and <strong>bold</strong>, continued.</p>" in html
    assert "<pre><code>&lt;raw&gt; &amp; text</code></pre>" in html
    assert "<ul><li>one</li><li>two</li></ul>" in html
    assert '<img src="files/plot.png" alt="plot">' in html
    assert "javascript" not in html.split("<a href=")[1].split(">")[0]
