"""``docs/options.md``, generated from the parsers themselves: the pytest plugin's ``--harness-*``
options (``harness.plugin.pytest_addoption``), its markers, and every ``harness`` subcommand
(``harness.cli.build_parser``). ``tests/test_options_reference.py`` fails when the committed file
differs from what this writes.

    python -m harness.options_reference > docs/options.md
"""

from __future__ import annotations

import argparse
import sys

REGENERATE = "python -m harness.options_reference > docs/options.md"


class _Group:
    """What ``parser.getgroup(...)`` returns: records each ``addoption`` call."""

    def __init__(self, name: str, description: str) -> None:
        self.name, self.description, self.options = name, description, []

    def addoption(self, *names: str, **attrs) -> None:
        self.options.append((names, attrs))


class _RecordingParser:
    """Stands in for pytest's parser so the plugin's options can be read without starting pytest."""

    def __init__(self) -> None:
        self.groups: dict[str, _Group] = {}

    def getgroup(self, name: str, description: str = "") -> _Group:
        return self.groups.setdefault(name, _Group(name, description))

    def addoption(self, *names: str, **attrs) -> None:
        self.getgroup("general").addoption(*names, **attrs)

    def addini(self, *args, **kwargs) -> None:  # an ini value is not a flag
        pass


def _cell(text: object) -> str:
    """One table cell, as ``--help`` prints the text: argparse's ``%%`` is one ``%``."""
    return " ".join(str(text).split()).replace("%%", "%").replace("|", "\\|")


def _value_name(kind: object) -> str:
    """PATH, X (a number) or N (a whole number): pytest's own metavar would read like an environment variable."""
    name = getattr(kind, "__name__", "")
    return "PATH" if name == "Path" else "X" if "float" in name else "N" if kind else "VALUE"


def _pytest_rows() -> list[str]:
    from harness.plugin import pytest_addoption

    parser = _RecordingParser()
    pytest_addoption(parser)
    rows = ["| option | value | help |", "| --- | --- | --- |"]
    for group in parser.groups.values():
        for names, attrs in group.options:
            if attrs.get("action") in ("store_true", "store_false"):
                value = "(flag)"
            elif attrs.get("choices"):
                value = "{" + ",".join(map(str, attrs["choices"])) + "}"
            else:
                value = attrs.get("metavar") or _value_name(attrs.get("type"))
            if attrs.get("action") == "append":
                value += " (repeatable)"
            rows.append(f"| `{', '.join(names)}` | `{value}` | {_cell(attrs.get('help', ''))} |")
    return rows


def _argument(action: argparse.Action) -> str:
    if not action.option_strings:
        return action.metavar or action.dest
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    if action.choices:
        value = "{" + ",".join(map(str, action.choices)) + "}"
    else:
        value = action.metavar or action.dest.upper()
    return f"{', '.join(action.option_strings)} {value}"


def _command_rows(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for group in parser._action_groups:  # argparse keeps its groups here and nowhere public
        actions = [a for a in group._group_actions if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]
        if not actions:
            continue
        if group.title not in ("options", "optional arguments", "positional arguments"):
            rows.append(f"\n*{group.title}*\n")
        rows += ["| argument | help |", "| --- | --- |"]
        for action in actions:
            required = " (required)" if action.required and action.option_strings else ""
            rows.append(f"| `{_argument(action)}` | {_cell(action.help or '')}{required} |")
    return rows


def _cli_sections() -> list[str]:
    from harness.cli import build_parser

    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {choice.dest: choice.help for choice in commands._choices_actions}
    lines = []
    for name, sub in commands.choices.items():
        lines += ["", f"### `harness {name}`", "", _cell(helps.get(name, "")), ""]
        lines += _command_rows(sub)
    return lines


def render() -> str:
    """The whole reference as Markdown; deterministic for a given checkout."""
    from harness.plugin import MARKERS

    lines = [
        "# Options reference",
        "",
        f"Generated from the parsers by `{REGENERATE}`; do not edit by hand "
        "(`tests/test_options_reference.py` checks it).",
        "",
        "## pytest options (`pytest --help`, group \"harness\")",
        "",
        *_pytest_rows(),
        "",
        "## Markers",
        "",
        "| marker | meaning |",
        "| --- | --- |",
        *(f"| `{name}` | {_cell(text)} |" for name, text in MARKERS.items()),
        "",
        "## `harness` commands (`harness COMMAND --help`; `python -m harness` is the same)",
        *_cli_sections(),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
