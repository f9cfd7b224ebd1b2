"""``harness convert-ledger``: convert seed ledgers written by an older harness."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.options import Parents
from harness.project import Project


def add_parser(commands, parents: Parents) -> None:
    convert = commands.add_parser("convert-ledger", help="convert seed ledgers (*.partial.json, faults/*.json) written by an "
                                  "older harness, so they resume under this one's run identity")
    convert.add_argument("ledgers", nargs="+", type=Path, help="the ledger files")
    convert.set_defaults(handler=command)


def command(args: argparse.Namespace, project: Project | None = None) -> int:
    from harness.quality.seed_ledger import convert_legacy_ledger

    for path in args.ledgers:
        print(convert_legacy_ledger(path))
    return 0
