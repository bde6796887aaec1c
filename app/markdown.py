"""Training reports (report.md) as HTML, rendered by markdown-it-py (CommonMark, tables).

Raw HTML in the Markdown is shown as text, and markdown-it's own link check refuses
javascript:, vbscript:, file: and data: URLs; a bare file name (a figure beside the report)
is pointed at the route that serves the version directory's files.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

FILE_NAME = re.compile(r"[\w-][\w.-]*")  # a file beside the report: no directories, no dot-files


@cache
def renderer() -> MarkdownIt:
    """The Markdown renderer, imported on first use: markdown-it-py takes ~60 ms to import, which
    every worker would otherwise pay at start for a page that is rarely opened."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table")


def resolve_url(url: str, asset_prefix: str) -> str:
    """A bare file name is a file beside the report (-> asset_prefix + name); anything else is kept."""
    return asset_prefix + url if FILE_NAME.fullmatch(url) else url


def point_at_assets(tokens: list[Token], asset_prefix: str) -> None:
    """Rewrite the src of images and the href of links that name a file beside the report."""
    for token in tokens:
        if token.children:
            point_at_assets(token.children, asset_prefix)
        for attribute in ("src", "href"):
            value = token.attrGet(attribute)
            if isinstance(value, str):
                token.attrSet(attribute, resolve_url(value, asset_prefix))


def markdown_to_html(text: str, asset_prefix: str = "") -> str:
    """HTML body of a Markdown document; relative file names get `asset_prefix`."""
    markdown = renderer()
    tokens = markdown.parse(text)
    point_at_assets(tokens, asset_prefix)
    return markdown.renderer.render(tokens, markdown.options, {})
