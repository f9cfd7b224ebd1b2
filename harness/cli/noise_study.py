"""``harness noise-study``: compare the seed spread of recipes' baselines."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.arguments import output_file
from harness.cli.options import Parents, recipe_names, report_path, task_option
from harness.run.config import RunConfig
from harness.project import Project
from harness.settings import DATA_DIR_VAR


def add_parser(commands, parents: Parents) -> None:
    noise = commands.add_parser("noise-study", parents=[parents.gated], help="compare the seed-to-seed spread of recipes' measured baselines "
                                "(a reference and its variance-reduction variants) and recommend one")
    noise.add_argument("--recipes", type=recipe_names, default=("minilm-cpu", "minilm-cpu-ema", "minilm-cpu-reinit"),
                       metavar="NAME,NAME,...", help="the reference recipe, then its variants "
                       "(default: minilm-cpu,minilm-cpu-ema,minilm-cpu-reinit)")
    task_option(noise)
    noise.add_argument("--data-dir", type=Path, help=f"the data folder the suggested record-baseline commands name "
                       f"(default: ${DATA_DIR_VAR})")
    noise.add_argument("--output", type=output_file,
                       help="Markdown report (default: noise-study.md in the project's reports folder)")
    noise.set_defaults(handler=command)


def command(args: argparse.Namespace, project: Project) -> int:
    output = report_path(args, project, "noise-study.md")
    from harness.files import atomic_write_text
    from harness.quality.baselines import BaselineStore
    from harness.quality.noise_study import noise_study_markdown, study_baselines

    configs = [RunConfig.from_recipe(name, recipes=project.recipes, tasks=project.tasks, metrics=project.metrics, task=args.task,
                                     device=project.device, precision=project.precision,
                                     data_dir=args.data_dir or project.settings.data_dir)
               for name in args.recipes]
    baselines, notes = study_baselines(configs, BaselineStore(project.baselines_dir, metrics=project.metrics))
    policy = project.policy.for_task(configs[0].task)
    text = noise_study_markdown(baselines, policy.metrics, max_runs=policy.max_runs, notes=notes,
                                registry=project.metrics)
    print(text)
    print(f"wrote {atomic_write_text(output, text)}")
    return 0
