"""``harness recipes``, ``harness tasks`` and ``harness cases``: what a project declares."""

from __future__ import annotations

import argparse

from harness.cli.options import Parents
from harness.project import Project
from harness.tables import markdown_table


def add_parser(commands, parents: Parents) -> None:
    commands.add_parser("recipes", parents=[parents.listing], help="list the named recipes (built-in and the project's)"
                        ).set_defaults(handler=recipes)
    commands.add_parser("tasks", parents=[parents.listing], help="list the tasks (built-in and the project's [tool.harness.tasks])"
                        ).set_defaults(handler=tasks)
    commands.add_parser("cases", parents=[parents.gated], help="list the project's cases ([tool.harness.cases]) and their baselines "
                        "(those of the device and precision given)").set_defaults(handler=cases)


def cases(args: argparse.Namespace, project: Project) -> int:
    from harness.cases import describe_recipe
    from harness.quality.regression import name_for
    from harness.session import HarnessSession

    cases = project.cases
    if not len(cases):
        print(f"no cases in {project.pyproject}; declare one under [tool.harness.cases.NAME] (see `harness cases --help`)")
        return 0
    session = HarnessSession(project)
    policy = project.policy
    rows = []
    for case in cases:
        config = session.case_config(case)
        data = (", ".join(f"{split}={path}" for split, path in case.data_files) if case.data_files
                else str(config.data_dir) if config.data_dir else "the task's Hub dataset")
        name = name_for(config)
        path = session.store.path(name)
        baseline = session.store.load(name) if path.is_file() else None
        rows.append([case.name, case.task.name, describe_recipe(case), config.model_spec, data,
                     ", ".join(case.policy(policy).metrics),
                     f"{path} ({len(baseline.seeds)} seeds)" if baseline else f"none: {path} (`harness record-baseline --case {case.name}`)"])
    print(markdown_table(["case", "task", "recipe", "model", "data", "gated metrics", "baseline"], rows))
    return 0


def tasks(args: argparse.Namespace, project: Project) -> int:
    rows = [[t.name, " + ".join(t.text_columns), "score (regression)" if t.is_regression else ", ".join(t.label_names),
             ", ".join(t.metrics), ", ".join(t.evaluation_splits), t.description or "-"] for t in project.tasks]
    print(markdown_table(["task", "text", "labels", "metrics", "evaluated on", "what"], rows))
    return 0


def recipes(args: argparse.Namespace, project: Project) -> int:
    def other(r) -> str:
        settings = [f"{k}={v}" for k, v in (("reinit_top_layers", r.reinit_top_layers), ("weight_average", r.weight_average)) if v]
        return ", ".join(settings + [f"{k}={v}" for k, v in r.training_args]) or "-"

    rows = [[r.name, r.model, f"{r.epochs:g}", str(r.batch_size), f"{r.learning_rate:g}", other(r), r.description]
            for r in project.recipes]
    print(markdown_table(["recipe", "model", "epochs", "batch", "lr", "other settings (and TrainingArguments overrides)", "what"], rows))
    return 0
