"""``harness measure-fault``: measure a fault's effect over the seeds the gate would run."""

from __future__ import annotations

import argparse
import sys

from harness.arguments import baseline_seeds, fault_name, output_file
from harness.cli.options import Parents, data_fields, data_options, recipe_options, report_path
from harness.project import Project
from harness.quality.baselines import BaselineError


def add_parser(commands, parents: Parents) -> None:
    fault = commands.add_parser("measure-fault", parents=[parents.gated], help="measure a fault's effect over the seeds the gate would run, "
                                "resumably, against the recorded baseline")
    recipe_options(fault)
    fault.add_argument("--fault", required=True, type=fault_name, help="the fault, e.g. label-noise-10")
    fault.add_argument("--seeds", type=baseline_seeds, default=10, help="seeds to measure, in the gate's order (default: 10)")
    data_options(fault)
    fault.add_argument("--output", type=output_file,
                       help="Markdown report (default: fault-<fault>.md in the project's reports folder)")
    fault.add_argument("--quiet", action="store_true", help="no progress bars")
    fault.set_defaults(handler=command)


def command(args: argparse.Namespace, project: Project) -> int:
    output = report_path(args, project, f"fault-{args.fault}.md")
    import dataclasses

    from harness.files import atomic_write_text
    from harness.quality.fault_effect import effect_markdown, fault_effects, fault_ledger_path, gate_replay, measure_fault
    from harness.quality.procedures import SequentialProcedure
    from harness.quality.regression import GatePlan, name_for, procedure_for, record_command
    from harness.quality.seed_ledger import SeedLedger
    from harness.session import HarnessSession

    session = HarnessSession(project, show_progress=not args.quiet)
    config = session.config(args.recipe, task=args.task, faults=(args.fault,), **data_fields(args, project))
    name = name_for(config)
    baseline = session.store.load(name)
    if baseline is None:
        raise BaselineError(f"no baseline at {session.store.path(name)} to measure the fault against; record one with "
                            f"`{record_command(config.replace(faults=()))}`")
    plan = GatePlan.of(config, dataclasses.replace(project.policy, procedure="auto"))
    procedure = procedure_for(plan, baseline, session.store)  # fail fast, before training
    designs = procedure.designs if isinstance(procedure, SequentialProcedure) else None
    why_not, policy = procedure.note, plan.policy
    with SeedLedger.recording(fault_ledger_path(project.baselines_dir, name, config.faults)) as ledger:
        print(f"harness: measuring {args.fault} on {name} over {args.seeds} seeds; each finished seed is kept in {ledger.path}, "
              "so the same command resumes after an interruption", file=sys.stderr)
        results = measure_fault(config, session.fine_tune, baseline, seeds=args.seeds, ledger=ledger, hub_offline=project.settings.hub_offline,
                                progress=lambda line: print(f"harness: {line}", file=sys.stderr, flush=True))
    replay = gate_replay(results, config, designs, baseline) if designs else None
    text = effect_markdown(name, config.faults, fault_effects(results, baseline, policy.metrics), replay=replay)
    if why_not:
        text += f"\n{why_not}\n"
    print(text)
    print(f"wrote {atomic_write_text(output, text)}")
    return 0
