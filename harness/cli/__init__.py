"""``harness``: fine-tune and evaluate from the command line.

    harness run --recipe minilm-cpu --data-dir ../shared/data/glue/MRPC
    harness run --recipe smoke --task sst2 --data-dir glue_data/SST-2
    harness run --recipe smoke --task reviews --data-files train=train.csv,validation=dev.csv
    harness recipes
    harness tasks
    harness cases
    harness record-baseline --case reviews --seeds 5
    harness noise-study --recipes minilm-cpu,minilm-cpu-ema,minilm-cpu-reinit --device cpu
    harness history --last 30
"""


from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.cli import convert_ledger, history, listing, measure_fault, noise_study, record_baseline, run, simulate_gate
from harness.cli.options import Parents, project_parent
from harness.run.config import ConfigError
from harness.run.data import DataError
from harness.run.models import ModelError
from harness.history.store import HistoryError
from harness.project import Project, ProjectFlags
from harness.quality.baselines import BaselineError
from harness.settings import Settings
from harness.tasks import TaskError

USER_ERRORS = (ConfigError, DataError, ModelError, TaskError)
# One module per command, each adding its parser (in this order, the order of `harness --help`).
COMMANDS = (run, listing, simulate_gate, noise_study, record_baseline, measure_fault, convert_ledger, history)
__all__ = ["USER_ERRORS", "build_parser", "main", "project_for", "project_parent"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    parents = Parents.build()
    for command in COMMANDS:
        command.add_parser(commands, parents)
    return parser


def project_for(args: argparse.Namespace, environment: Settings | None = None) -> Project:
    """The command's :class:`~harness.project.Project`: its flags, then ``--pyproject``'s [tool.harness],
    then the environment (``environment``: a :class:`Settings` standing in for it), then the defaults."""
    flags = ProjectFlags(device=getattr(args, "device", None), precision=getattr(args, "precision", None),
                         baselines_dir=getattr(args, "baselines_dir", None), history=getattr(args, "history", None))
    pyproject = Path("pyproject.toml") if args.pyproject is None else args.pyproject
    if args.pyproject is not None and not pyproject.is_file():  # a typo must not fall back to no settings at all
        raise ConfigError(f"--pyproject {pyproject}: {'is not a file' if pyproject.exists() else 'no such file'}; "
                          "name the project's pyproject.toml, or leave --pyproject out to read ./pyproject.toml if any")
    return Project.load(pyproject, flags=flags, environment=environment)


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    """Run one command. ``settings`` stands in for the environment (tests); None reads ``os.environ``."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="harness: %(message)s")
    try:
        if args.command == "convert-ledger":  # reads no project: a ledger names its own
            return args.handler(args)
        return args.handler(args, project_for(args, settings))
    except USER_ERRORS + (BaselineError, HistoryError) as error:
        print(f"harness: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
