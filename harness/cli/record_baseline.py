"""``harness record-baseline``: measure a baseline from several seeds and write it."""

from __future__ import annotations

import argparse
import sys

from harness.arguments import baseline_seeds, seed_value
from harness.cli.options import Parents, data_fields, data_options, recipe_options
from harness.run.config import DEFAULT_TASK, ConfigError
from harness.project import Project


def add_parser(commands, parents: Parents) -> None:
    record = commands.add_parser("record-baseline", parents=[parents.gated], help="measure a baseline from several seeds and write it to baselines/")
    recipe_options(record)
    record.add_argument("--case", metavar="NAME", help="record one of the project's cases ([tool.harness.cases.NAME]), "
                        "with its own task, data, model and recipe (default: none; --recipe, --task and the data options)")
    record.add_argument("--seeds", type=baseline_seeds, default=5, help="number of seeds, from --seed on (default: 5)")
    record.add_argument("--seed", type=seed_value, default=42, help="first seed (default: 42)")
    data_options(record)
    record.add_argument("--quiet", action="store_true", help="no progress bars")
    record.set_defaults(handler=command)


def command(args: argparse.Namespace, project: Project) -> int:
    from harness.quality.baselines import check_recordable
    from harness.quality.regression import baseline_diff, name_for, record_baseline
    from harness.quality.seed_ledger import SeedLedger
    from harness.session import HarnessSession

    session = HarnessSession(project, show_progress=not args.quiet)
    if args.case:
        given = [flag for flag, value in (("--task", args.task != DEFAULT_TASK), ("--data-dir", args.data_dir),
                                          ("--data-files", args.data_files), ("--columns", args.columns)) if value]
        if given:
            raise ConfigError(f"--case {args.case} brings its own task and data; drop {', '.join(given)}")
        config = session.case_config(project.cases.get(args.case), seed=args.seed)
    else:
        config = session.config(args.recipe, task=args.task, seed=args.seed, **data_fields(args, project))
    check_recordable(config)
    config.replace(seed=config.seed + args.seeds - 1)  # the last seed, refused now if out of range, not after hours
    name = name_for(config)
    old, unreadable = session.store.load_for_replacement(name)
    if unreadable:
        print(f"harness: {unreadable}", file=sys.stderr)
    with SeedLedger.recording(session.store.partial_path(name)) as ledger:
        print(f"harness: recording {name} from {args.seeds} seeds ({args.seed}..{args.seed + args.seeds - 1}); "
              f"each finished seed is kept in {ledger.path}, so the same command resumes after an interruption", file=sys.stderr)
        baseline = record_baseline(config, session.fine_tune, seeds=args.seeds, ledger=ledger, hub_offline=project.settings.hub_offline,
                                   progress=lambda line: print(f"harness: {line}", file=sys.stderr, flush=True))
        path = session.store.save(baseline)
        kept = ledger.finish(baseline.seeds)
    print(baseline_diff(old, baseline))
    print(f"wrote {path}")
    if kept:
        print(f"harness: {kept}", file=sys.stderr)
    return 0
