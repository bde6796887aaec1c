"""The README's figures and their sources: docs/figures.md's registry, read and checked.

The registry is the Markdown table between `<!-- figures:begin -->` and `<!-- figures:end -->` in
docs/figures.md; each row ties one number, as written in README.md, to a field of a committed JSON
file. docs/figures.md explains the columns and the rules.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from functools import cache
from typing import Any

from app.config import REPO_ROOT

README = REPO_ROOT / "README.md"
REGISTRY = REPO_ROOT / "docs" / "figures.md"
BEGIN, END = "<!-- figures:begin -->", "<!-- figures:end -->"
RESULTS_HEADING = "## Results at a glance"
RESULTS_COLUMN = "figure"
# A number as the README writes one ("94.21", "10,000", "0.990"); not part of a word ("v1", "F1"), a
# time of day ("15:42") or a longer number.
NUMBER = re.compile(r"(?<![\w.])(?<!\d[:,])\d+(?:,\d{3})*(?:\.\d+)?(?!\w|[.,:]\d)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")  # `python -m training ... --seed 42`: a command, not a figure
OPERATIONS = {"min": min, "max": max, "len": len, "sum": sum}


@dataclass(frozen=True)
class Figure:
    """One registry row: `figure`, inside the README text `snippet`, is `field` of `source` times `scale`."""

    snippet: str
    figure: str
    source: str
    field: str
    scale: float
    line: int  # in docs/figures.md, for messages

    def __str__(self) -> str:
        return f"docs/figures.md:{self.line}: {self.figure} in {self.snippet!r} ({self.source} {self.field})"


def unquote(cell: str) -> str:
    """A table cell's text without its code-span backticks and with `\\|` as `|`."""
    cell = cell.strip().replace("\\|", "|")
    quoted = re.fullmatch(r"(`+)\s?(.*?)\s?\1", cell)
    return quoted[2] if quoted else cell


def split_row(line: str) -> list[str]:
    """The cells of one Markdown table line (`\\|` is a pipe inside a cell)."""
    return re.split(r"(?<!\\)\|", line.strip().strip("|"))


def table_body(lines: list[tuple[int, str]]) -> list[tuple[int, list[str]]]:
    """(line number, cells) of a Markdown table's body rows: the header and the |---| line are left out."""
    rows = [(number, split_row(line)) for number, line in lines if line.lstrip().startswith("|")]
    return rows[2:]


def parse_scale(text: str) -> float:
    """'100', '1/60' or '1/1e6' as a number."""
    numerator, _, denominator = text.strip().partition("/")
    return float(numerator) / float(denominator or 1)


@cache
def registry() -> tuple[Figure, ...]:
    """Every row of docs/figures.md's registry table."""
    lines = REGISTRY.read_text(encoding="utf-8").splitlines()
    marks = [i for i, line in enumerate(lines) if line.strip() in (BEGIN, END)]
    assert len(marks) == 2, f"{REGISTRY} needs one table between {BEGIN} and {END}"
    numbered = list(enumerate(lines, start=1))[marks[0] + 1 : marks[1]]
    figures = []
    for number, cells in table_body(numbered):
        assert len(cells) == 5, f"docs/figures.md:{number}: a row has 5 cells, not {len(cells)}"
        snippet, figure, source, field, scale = (unquote(cell) for cell in cells)
        figures.append(Figure(snippet, figure, source, field, parse_scale(scale), number))
    return tuple(figures)


@cache
def load_json(source: str) -> Any:
    return json.loads((REPO_ROOT / source).read_text(encoding="utf-8"))


def select(value: Any, key: str) -> Any:
    """One step of a field path: an object's key; a list's index, or `k=v`: the item whose `k` is `v`."""
    if not isinstance(value, list):
        return value[key]
    if "=" not in key:
        return value[int(key)]
    name, _, wanted = key.partition("=")
    matches = [item for item in value if isinstance(item, dict) and str(item.get(name)) == wanted]
    if len(matches) != 1:
        raise KeyError(f"{len(matches)} items have {name} = {wanted}")
    return matches[0]


def field_value(document: Any, field: str) -> float:
    """`a.b.0.c` or `a.name=x.c`, optionally followed by `|min`, `|max`, `|len` or `|sum` (of a list)."""
    path, *operations = field.split("|")
    value = document
    for key in path.split("."):
        value = select(value, key)
    for operation in operations:
        value = OPERATIONS[operation.strip()](value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{field} is {value!r}, not a number")
    return float(value)


def as_written(figure: str) -> tuple[float, float]:
    """The figure's value and the rounding it was written with (half its last digit's unit)."""
    digits = figure.replace(",", "")
    decimals = len(digits.partition(".")[2])
    return float(digits), 0.5 * 10.0**-decimals


def is_committed(source: str) -> bool:
    """Tracked by git (a file only on one machine, or ignored, is no source); outside git: it exists."""
    if not (REPO_ROOT / ".git").exists():
        return (REPO_ROOT / source).is_file()
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", source], cwd=REPO_ROOT, capture_output=True, check=False
    )
    return tracked.returncode == 0


def problems(figure: Figure, readme: str) -> list[str]:
    """What is wrong with one registry row: an empty list when README, registry and source agree."""
    found: list[str] = []
    if figure.snippet not in readme:
        found.append("the README text is not in README.md")
    if figure.figure not in [m[0] for m in NUMBER.finditer(figure.snippet)]:
        found.append(f"{figure.figure} is not a number of the README text")
    if not is_committed(figure.source):
        return [*found, f"{figure.source} is not a committed file"]
    try:
        measured = field_value(load_json(figure.source), figure.field) * figure.scale
    except (KeyError, IndexError, TypeError, ValueError) as error:
        return [*found, f"{figure.field} cannot be read from {figure.source}: {error!r}"]
    written, half_unit = as_written(figure.figure)
    if abs(measured - written) > half_unit * (1 + 1e-9):
        found.append(f"the source says {measured:.6g}, which is not {figure.figure} when rounded")
    return found


def results_table_cells(readme: str) -> list[str]:
    """The `figure` cells of the README's "Results at a glance" table (the section up to the next heading)."""
    assert RESULTS_HEADING in readme, f"README.md has no {RESULTS_HEADING!r} section"
    section = readme.split(RESULTS_HEADING, 1)[1]
    section = re.split(r"^#{1,2} ", section, maxsplit=1, flags=re.M)[0]
    lines = [line for line in section.splitlines() if line.lstrip().startswith("|")]
    assert lines, f"the {RESULTS_HEADING!r} section has no table"
    header = [cell.strip() for cell in split_row(lines[0])]
    assert RESULTS_COLUMN in header, f"the results table has no {RESULTS_COLUMN!r} column: {header}"
    column = header.index(RESULTS_COLUMN)
    return [cells[column].strip() for _, cells in table_body(list(enumerate(lines)))]


def unregistered_numbers(cell: str, figures: tuple[Figure, ...]) -> list[str]:
    """The numbers of a results-table cell that no registry row covers (code spans are commands)."""
    covered: set[int] = set()
    for figure in figures:
        for snippet in re.finditer(re.escape(figure.snippet), cell):
            covered.update(
                snippet.start() + m.start() for m in NUMBER.finditer(figure.snippet) if m[0] == figure.figure
            )
    code = [span.span() for span in CODE_SPAN.finditer(cell)]
    return [
        number[0]
        for number in NUMBER.finditer(cell)
        if number.start() not in covered and not any(a <= number.start() < b for a, b in code)
    ]
