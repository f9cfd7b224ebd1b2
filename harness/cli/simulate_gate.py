"""``harness simulate-gate``: the sequential gate's error rates and run counts, by simulation."""

from __future__ import annotations

import argparse

from harness.arguments import output_file, simulation_trials
from harness.cli.options import Parents, recipe_options, report_path, task_option
from harness.run.config import RunConfig
from harness.project import Project
from harness.quality.baselines import BaselineError
from harness.tables import markdown_table


def add_parser(commands, parents: Parents) -> None:
    simulate = commands.add_parser("simulate-gate", parents=[parents.gated], help="the sequential gate's false-alarm rate, power and run counts "
                                   "for a recorded baseline, by simulation")
    recipe_options(simulate)
    task_option(simulate)
    simulate.add_argument("--trials", type=simulation_trials, default=20_000, help="simulated gate runs per row (default: 20000)")
    simulate.add_argument("--output", type=output_file,
                          help="Markdown report (default: gate-simulation.md in the project's reports folder)")
    simulate.set_defaults(handler=command)


SD_RATIOS = (0.7, 1.0, 1.3, 1.5)


def command(args: argparse.Namespace, project: Project) -> int:
    import dataclasses

    from harness.quality.baselines import BaselineStore
    from harness.files import atomic_write_text
    from harness.quality.regression import GatePlan, name_for, procedure_for, record_command
    from harness.quality.sequential_check import simulate_check

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
    designs, policy = procedure_for(plan, baseline, store).designs, plan.policy
    changes = [(f"every metric {points:+d} points", {m: points / 100 for m in designs}) for points in (0, -1, -2, -3)]
    if "f1" in designs:
        changes += [(f"f1 {points:+d} points", {"f1": points / 100}) for points in (-1, -2, -3)]
    rows, spread_rows = [], []
    for label, shifts in changes:
        for mode in ("resample", "normal"):
            r = simulate_check(designs, shifts, mode=mode, trials=args.trials)
            rows.append([label, mode, f"{r.fail_rate:.4f} ± {r.fail_rate_se:.4f}", f"{r.expected_runs:.2f}", str(r.worst_case_runs)])
    for points in (0, -2):  # the statistic assumes a change leaves the seed spread alone: what if it does not
        for ratio in SD_RATIOS:
            for mode in ("resample", "normal"):
                r = simulate_check(designs, {m: points / 100 for m in designs}, mode=mode, trials=args.trials, sd_ratio=ratio)
                spread_rows.append([f"every metric {points:+d} points", f"{ratio:g}", mode,
                                    f"{r.fail_rate:.4f} ± {r.fail_rate_se:.4f}", f"{r.expected_runs:.2f}"])
    lines = [f"# Sequential gate: {name}", "",
             f"{next(iter(designs.values())).n_reference} reference seeds; alpha {policy.alpha:g} over "
             f"{len(designs)} metric(s), power {policy.power:g}, at most {policy.max_runs} candidate runs; "
             f"{args.trials} simulated gate runs per row (resample: whole seeds drawn from the recorded ones; "
             "normal: normal draws, the metrics correlated as the recorded seeds are).", ""]
    lines += [design.explain() + "\n" for design in designs.values()]
    lines += [markdown_table(["true change", "simulation", "P(fail)", "expected runs", "worst-case runs"], rows), ""]
    lines += ["When the candidate's seed-to-seed spread differs from the baseline's (sd ratio: candidate sd / "
              "baseline sd; the gate's statistic assumes 1):", "",
              markdown_table(["true change", "sd ratio", "simulation", "P(fail)", "expected runs"], spread_rows), ""]
    text = "\n".join(lines)
    print(text)
    print(f"wrote {atomic_write_text(output, text)}")
    return 0
