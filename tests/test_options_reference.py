"""docs/options.md is what the parsers say today: regenerated here from the plugin's pytest_addoption
and the CLI's build_parser, and compared with the committed file."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import options_reference
from harness.cli import build_parser

DOCS = Path(__file__).resolve().parents[1] / "docs" / "options.md"


def test_the_committed_options_reference_is_what_the_parsers_generate():
    generated = options_reference.render()
    committed = DOCS.read_text(encoding="utf-8") if DOCS.exists() else ""
    assert committed == generated, (
        f"docs/options.md is out of date with the parsers; regenerate it with `{options_reference.REGENERATE}`")


def test_every_pytest_option_and_every_cli_flag_is_in_the_reference():
    from harness.plugin import pytest_addoption

    text = options_reference.render()
    parser = options_reference._RecordingParser()
    pytest_addoption(parser)
    flags = [name for group in parser.groups.values() for names, _ in group.options for name in names]
    assert flags and all(flag.startswith("--harness-") for flag in flags)
    for flag in flags:
        assert f"`{flag}`" in text, flag
    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    for name, sub in commands.choices.items():
        section = text.split(f"### `harness {name}`", 1)[1].split("\n### ", 1)[0]
        for action in sub._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in section or f", {option}" in section, (name, option)


def test_every_cli_commands_help_renders():
    """argparse formats each help string with %: a bare "N% extra" raises when --help is asked for."""
    parser = build_parser()
    [commands] = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    for name, command in commands.choices.items():
        assert command.prog.endswith(name) and command.format_help()
    assert parser.format_help()
