"""``harness simulate-gate``: the sequential gate's error rates and run counts, by simulation."""

from __future__ import annotations

import argparse

from harness.arguments import bounded_int, output_file, simulation_trials
from harness.cli.options import Parents, recipe_options, report_path, task_option
from harness.run.config import RunConfig
from harness.project import Project
from harness.quality.baselines import BaselineError


def add_parser(commands, parents: Parents) -> None:
    simulate = commands.add_parser("simulate-gate", parents=[parents.gated], help="the sequential gate's false-alarm rate, power and run counts "
                                   "for a recorded baseline, by simulation")
    recipe_options(simulate)
    task_option(simulate)
    simulate.add_argument("--trials", type=simulation_trials, default=20_000, help="simulated gate runs per row over fresh baselines (default: 20000)")
    simulate.add_argument("--truths", type=bounded_int(10, 10_000), default=1_000,
                          help="truths drawn from the committed baseline's posterior per row (default: 1000; 200 left the 90%% bound noisy)")
    simulate.add_argument("--truth-trials", type=bounded_int(100, 1_000_000), default=1_000,
                          help="simulated gate runs per drawn truth (default: 1000)")
    simulate.add_argument("--output", type=output_file,
                          help="Markdown report (default: gate-simulation.md in the project's reports folder)")
    simulate.set_defaults(handler=command)


def command(args: argparse.Namespace, project: Project) -> int:
    import dataclasses

    from harness.files import atomic_write_text
    from harness.quality.baselines import BaselineStore
    from harness.quality.gate_simulation import operating_grid, pessimistic_power, report
    from harness.quality.regression import GatePlan, name_for, procedure_for, record_command

    output = report_path(args, project, "gate-simulation.md")

    config = RunConfig.from_recipe(args.recipe, recipes=project.recipes, tasks=project.tasks, metrics=project.metrics, task=args.task,
                                   precision=project.precision, device=project.device)
    name = name_for(config)
    store = BaselineStore(project.baselines_dir, metrics=project.metrics)
    baseline = store.load(name)
    if baseline is None:
        raise BaselineError(f"no baseline at {store.path(name)}; record one with `{record_command(config)}`")
    # "sequential": a baseline too small for the policy is an error naming the seeds it needs.
    plan = GatePlan.of(config, dataclasses.replace(project.policy, procedure="sequential"))
    gate = procedure_for(plan, baseline, store)
    if gate.note:
        print(gate.note)
    sizes = {"trials": args.trials, "truths": args.truths, "truth_trials": args.truth_trials}
    rows = operating_grid(gate.designs, **sizes, progress=lambda row: print(
        f"  {row.change} x{row.sd_ratio:g} {row.mode}: P(fail) {row.fail_rate:.2%} (this baseline {row.baseline_fail_rate:.2%}, "
        f"bound {row.baseline_fail_bound:.2%}), {row.expected_runs:.2f} runs", flush=True))
    text = report(name, gate.designs, rows, pessimistic_power(gate.designs, truths=args.truths, truth_trials=args.truth_trials),
                  **sizes)
    print(text)
    print(f"wrote {atomic_write_text(output, text)}")
    return 0
