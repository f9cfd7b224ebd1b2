"""The options the commands share, defined once: the project options (one parent parser, see
:func:`project_parent`), a recipe, a task and the data options, and the config's data fields."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NamedTuple

from harness.arguments import column_mapping, output_file, split_files
from harness.run.config import DEFAULT_TASK, DEVICES, PRECISIONS, RECIPES, ConfigError
from harness.run.precision import AUTO_PRECISION
from harness.project import Project
from harness.settings import DATA_DIR_VAR
from harness.tasks import builtin_tasks

def recipe_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipe", default="minilm-cpu", metavar="NAME",
                        help=f"a built-in recipe ({', '.join(sorted(RECIPES))}) or one in [tool.harness.recipes] (default: minilm-cpu)")


PRECISION_CHOICES = (*PRECISIONS, AUTO_PRECISION)


def project_parent(*, hardware: bool, baselines: bool) -> argparse.ArgumentParser:
    """The options every command shares, defined once: where the project is and, for the commands that
    train or name a baseline, its device, precision and baselines folder. Each defaults to None, so
    :class:`~harness.project.Project` decides: the flag, else ``[tool.harness]``, else the default.
    A command gets only the options it uses: a flag a command ignores reads as obeyed."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--pyproject", type=Path, default=None,
                        help="where [tool.harness] (settings, recipes, tasks, cases, gate) is read; given, the file must "
                             "exist (default: pyproject.toml in the working folder, if there is one)")
    if hardware:
        parent.add_argument("--device", default=None, choices=DEVICES,
                            help="default: [tool.harness] device, else auto (cuda, then mps, then cpu)")
        parent.add_argument("--precision", default=None, choices=PRECISION_CHOICES,
                            help="part of a baseline's name. Default: [tool.harness] precision, else fp32; auto: bf16 where "
                                 "the device multiplies bf16 natively (AVX512-BF16/AMX CPUs, Ampere+ GPUs), else fp32")
    if baselines:
        parent.add_argument("--baselines-dir", type=Path, default=None,
                            help="default: [tool.harness] baselines_dir, else baselines/ beside pyproject.toml")
    return parent


def recipe_names(text: str) -> tuple[str, ...]:
    """``minilm-cpu,minilm-cpu-ema`` as ``("minilm-cpu", "minilm-cpu-ema")``: two or more different names."""
    names = tuple(name.strip() for name in text.split(","))
    if any(not name for name in names):
        raise argparse.ArgumentTypeError(f"expected recipe names separated by commas, e.g. minilm-cpu,minilm-cpu-ema; got {text!r}")
    if len(names) < 2 or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"expected two or more different recipes (the reference first, then its variants), got {text!r}")
    return names


def task_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default=DEFAULT_TASK, metavar="NAME",
                        help=f"a built-in task ({', '.join(builtin_tasks().names())}) or one in [tool.harness.tasks] "
                             f"(default: {DEFAULT_TASK})")


def data_options(parser: argparse.ArgumentParser) -> None:
    task_option(parser)
    data = parser.add_argument_group("data (one of: a GLUE folder, your own files, or the task's Hub dataset)")
    data.add_argument("--data-dir", type=Path, help=f"a local folder with the task's files in GLUE's format, e.g. "
                      f"glue_data/MRPC (default: ${DATA_DIR_VAR} when no --data-files, else the task's Hub dataset)")
    data.add_argument("--data-files", type=split_files, metavar="SPLIT=PATH,...",
                      help="your own files, one per split: train and each evaluation split of the task, e.g. "
                           "train=train.csv,validation=dev.csv; CSV, TSV, JSON, JSON Lines or Parquet, by suffix "
                           "(default: none)")
    data.add_argument("--columns", type=column_mapping, metavar="TASK_COLUMN=FILE_COLUMN,...",
                      help="read the task's columns from these columns of --data-files, e.g. sentence=review,label=stars "
                           "(default: the task's own column names)")



class Parents(NamedTuple):
    """The parent parsers a command picks from: a command gets only the options it uses."""

    listing: argparse.ArgumentParser  # --pyproject
    training: argparse.ArgumentParser  # and --device, --precision
    gated: argparse.ArgumentParser  # and --baselines-dir

    @classmethod
    def build(cls) -> Parents:
        return cls(project_parent(hardware=False, baselines=False), project_parent(hardware=True, baselines=False),
                   project_parent(hardware=True, baselines=True))


def data_fields(args: argparse.Namespace, project: Project) -> dict:
    """The config's data fields from the command line: files, or a folder (the project's by default)."""
    if args.data_files:
        return {"data_files": args.data_files, "columns": args.columns or {}, "data_dir": args.data_dir}
    return {"data_dir": args.data_dir or project.settings.data_dir, "columns": args.columns or {}}


def report_path(args: argparse.Namespace, project: Project, name: str) -> Path:
    """Where a command writes its report: ``--output``, else ``name`` in the project's reports folder
    ([tool.harness] reports_dir, else $HARNESS_REPORTS_DIR, else reports/), checked writable
    before any work, so a report that cannot be written costs no training."""
    if args.output is not None:
        return args.output
    try:
        return output_file(str(project.settings.reports_dir / name))
    except argparse.ArgumentTypeError as error:
        raise ConfigError(f"the reports folder: {error}; set [tool.harness] reports_dir or pass --output") from None
