"""Every figure the README publishes matches the committed results file it comes from (docs/figures.md)."""

from __future__ import annotations

import pytest

from tests.docs.figures import (
    README,
    Figure,
    problems,
    registry,
    results_table_cells,
    unregistered_numbers,
)


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


def test_the_registry_has_figures() -> None:
    assert len(registry()) >= 20


@pytest.mark.parametrize("figure", registry(), ids=lambda f: f"line{f.line}-{f.figure}")
def test_registered_figure_matches_its_source(figure: Figure, readme: str) -> None:
    assert problems(figure, readme) == [], str(figure)


def test_every_figure_in_the_results_table_is_registered(readme: str) -> None:
    missing = {
        cell: numbers
        for cell in results_table_cells(readme)
        if (numbers := unregistered_numbers(cell, registry()))
    }
    assert not missing, (
        "README figures without a registered, committed source (docs/figures.md says how to add one):\n"
        + "\n".join(f"  {numbers} in {cell!r}" for cell, numbers in missing.items())
    )


def test_the_checks_catch_a_changed_figure() -> None:
    """The check itself, on a README made of one registered figure: edited by one hundredth, it fails."""
    accuracy = next(f for f in registry() if f.field == "metrics.test.accuracy")
    assert problems(accuracy, accuracy.snippet) == []
    edited_figure = f"{float(accuracy.figure) + 0.01:.2f}"
    edited_snippet = accuracy.snippet.replace(accuracy.figure, edited_figure)
    assert problems(accuracy, edited_snippet) == ["the README text is not in README.md"]
    moved = Figure(
        edited_snippet, edited_figure, accuracy.source, accuracy.field, accuracy.scale, accuracy.line
    )
    assert any(
        problem.endswith(f"not {edited_figure} when rounded") for problem in problems(moved, edited_snippet)
    )
    assert unregistered_numbers(f"{edited_figure} %", registry()) == [edited_figure]
