"""Markdown tables are read by people in terminals and by GitHub in step summaries: both must parse them."""

from __future__ import annotations

from harness.tables import markdown_table


def test_columns_are_aligned_with_a_separator_row():
    table = markdown_table(["metric", "value"], [["accuracy", 0.5], ["f1", "0.6667"]])
    lines = table.splitlines()
    assert lines == [
        "| metric   | value  |",
        "| -------- | ------ |",
        "| accuracy | 0.5    |",
        "| f1       | 0.6667 |",
    ]


def test_a_table_without_rows_is_still_a_table():
    assert markdown_table(["a", "bb"], []).splitlines() == ["| a | bb |", "| - | -- |"]
