"""docs/errors.md's error policy table is the code's: one row per rule of
:mod:`rerankit.backends._error_policy`, in its order, with the same error, retried, counted and
falls-back cells."""

from __future__ import annotations

from pathlib import Path

from rerankit.backends._error_policy import RULES, ErrorRule

PAGE = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
HEADER = ["answer or fault", "raised", "retried", "counted by the breaker", "falls back"]


def documented_rows() -> list[list[str]]:
    """The cells of the table under ``## What is retried`` whose header is :data:`HEADER`."""
    lines = PAGE.read_text(encoding="utf-8").split("## What is retried", 1)[1].splitlines()
    rows: list[list[str]] = []
    in_table = False
    for line in lines:
        if not line.startswith("|"):
            if in_table:
                break
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not in_table:
            assert cells == HEADER, f"the policy table's header is {cells}, expected {HEADER}"
            in_table = True
        elif not all(set(cell) <= {"-", ":"} for cell in cells):
            rows.append(cells)
    return rows


def expected_row(rule: ErrorRule) -> list[str]:
    def yes(value: bool) -> str:
        return "yes" if value else "no"

    return [
        rule.answer,
        f"`{rule.error.__name__}`",
        yes(rule.retried),
        yes(rule.counted),
        yes(rule.falls_back),
    ]


def test_the_docs_table_is_the_error_policy() -> None:
    documented = documented_rows()
    for position, rule in enumerate(RULES):
        assert position < len(documented), f"docs/errors.md lacks the row {expected_row(rule)}"
        assert documented[position] == expected_row(rule), (
            f"row {position + 1} of docs/errors.md's policy table is {documented[position]}, "
            f"the policy says {expected_row(rule)}"
        )
    assert len(documented) == len(RULES), (
        f"docs/errors.md has rows the policy lacks: {documented[len(RULES) :]}"
    )
