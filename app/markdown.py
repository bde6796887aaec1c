"""The small Markdown subset our training reports use, as HTML: headings, paragraphs, lists,
fenced code, images, links, inline code and bold. Everything else is shown as escaped text.
"""

from __future__ import annotations

import re
from html import escape

HEADING = re.compile(r"(#{1,6})\s+(.*)")
LIST_ITEM = re.compile(r"[-*]\s+(.*)")
INLINE = re.compile(
    r"`(?P<code>[^`]+)`"
    r"|!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)"
    r"|\[(?P<text>[^\]]+)\]\((?P<href>[^)\s]+)\)"
    r"|\*\*(?P<bold>[^*]+)\*\*"
)
FILE_NAME = re.compile(r"[\w.-]+")


def resolve_url(url: str, asset_prefix: str) -> str:
    """A bare file name is a file beside the report (-> asset_prefix + name); http(s) and /paths pass."""
    if FILE_NAME.fullmatch(url) and not url.startswith("."):
        return asset_prefix + url
    if url.startswith(("http://", "https://", "/", "#")):
        return url
    return "#"  # no javascript: or other schemes


def render_inline(text: str, asset_prefix: str) -> str:
    """Escape text, turning inline code, images, links and bold into their tags."""
    parts: list[str] = []
    position = 0
    for match in INLINE.finditer(text):
        parts.append(escape(text[position : match.start()]))
        position = match.end()
        if match["code"] is not None:
            parts.append(f"<code>{escape(match['code'])}</code>")
        elif match["src"] is not None:
            src = escape(resolve_url(match["src"], asset_prefix))
            parts.append(f'<img src="{src}" alt="{escape(match["alt"])}">')
        elif match["href"] is not None:
            href = escape(resolve_url(match["href"], asset_prefix))
            parts.append(f'<a href="{href}">{escape(match["text"])}</a>')
        else:
            parts.append(f"<strong>{escape(match['bold'])}</strong>")
    parts.append(escape(text[position:]))
    return "".join(parts)


def markdown_to_html(text: str, asset_prefix: str = "") -> str:
    """HTML body for the Markdown subset; relative file names get `asset_prefix`."""
    html: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    code: list[str] | None = None

    def flush() -> None:
        if paragraph:
            html.append(f"<p>{render_inline(' '.join(paragraph), asset_prefix)}</p>")
            paragraph.clear()
        if items:
            html.append(
                "<ul>" + "".join(f"<li>{render_inline(i, asset_prefix)}</li>" for i in items) + "</ul>"
            )
            items.clear()

    for line in text.splitlines():
        if code is not None:
            if line.strip().startswith("```"):
                html.append(f"<pre><code>{escape(chr(10).join(code))}</code></pre>")
                code = None
            else:
                code.append(line)
            continue
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            code = []
        elif not stripped:
            flush()
        elif heading := HEADING.fullmatch(stripped):
            flush()
            level = len(heading[1])
            html.append(f"<h{level}>{render_inline(heading[2], asset_prefix)}</h{level}>")
        elif item := LIST_ITEM.fullmatch(stripped):
            if paragraph:
                flush()
            items.append(item[1])
        else:
            if items:
                flush()
            paragraph.append(stripped)
    if code is not None:  # an unclosed fence still shows its text
        html.append(f"<pre><code>{escape(chr(10).join(code))}</code></pre>")
    flush()
    return "\n".join(html)
