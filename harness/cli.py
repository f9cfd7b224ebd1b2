"""``harness``: fine-tune and evaluate from the command line.

    harness run --recipe minilm-cpu --data-dir ../shared/data/glue/MRPC
    harness run --recipe smoke --task sst2 --data-dir glue_data/SST-2
    harness run --recipe smoke --task reviews --data-files train=train.csv,validation=dev.csv
    harness recipes
    harness tasks
    harness cases
    harness record-baseline --case reviews --seeds 5
    harness noise-study --recipes minilm-cpu,minilm-cpu-ema,minilm-cpu-reinit --device cpu
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.arguments import baseline_seeds, column_mapping, fault_name, positive_int, seed_value, split_files
from harness.quality.baselines import BaselineError
from harness.config import DEFAULT_TASK, DEVICES, FAULTS, PRECISIONS, RECIPES, ConfigError, RunConfig
from harness.project import Project, ProjectFlags
from harness.data import DataError
from harness.models import ModelError
from harness.settings import DATA_DIR_VAR, Settings
from harness.tables import markdown_table
from harness.precision import AUTO_PRECISION
from harness.tasks import TaskError, builtin_tasks

USER_ERRORS = (ConfigError, DataError, ModelError, TaskError)


def _recipe_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipe", default="minilm-cpu", metavar="NAME",
                        help=f"a built-in recipe ({', '.join(sorted(RECIPES))}) or one in [tool.harness.recipes] (default: minilm-cpu)")


PRECISION_CHOICES = (*PRECISIONS, AUTO_PRECISION)


def project_parent(*, hardware: bool, baselines: bool) -> argparse.ArgumentParser:
    """The options every command shares, defined once: where the project is and, for the commands that
    train or name a baseline, its device, precision and baselines folder. Each defaults to None, so
    :class:`~harness.project.Project` decides: the flag, else ``[tool.harness]``, else the default.
    A command gets only the options it uses: a flag a command ignores reads as obeyed."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"),
                        help="where [tool.harness] (settings, recipes, tasks, cases, gate) is read (default: pyproject.toml)")
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


def _recipe_names(text: str) -> tuple[str, ...]:
    """``minilm-cpu,minilm-cpu-ema`` as ``("minilm-cpu", "minilm-cpu-ema")``: two or more different names."""
    names = tuple(name.strip() for name in text.split(","))
    if any(not name for name in names):
        raise argparse.ArgumentTypeError(f"expected recipe names separated by commas, e.g. minilm-cpu,minilm-cpu-ema; got {text!r}")
    if len(names) < 2 or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"expected two or more different recipes (the reference first, then its variants), got {text!r}")
    return names


def _task_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default=DEFAULT_TASK, metavar="NAME",
                        help=f"a built-in task ({', '.join(builtin_tasks().names())}) or one in [tool.harness.tasks] "
                             f"(default: {DEFAULT_TASK})")


def _data_options(parser: argparse.ArgumentParser) -> None:
    _task_option(parser)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    listing, training, gated = (project_parent(hardware=False, baselines=False), project_parent(hardware=True, baselines=False),
                                project_parent(hardware=True, baselines=True))

    run = commands.add_parser("run", parents=[training], help="fine-tune one config on a task (default: MRPC) and print its evaluation metrics")
    _recipe_options(run)
    run.add_argument("--model", help="model spec overriding the recipe's: Hub id, local dir, 'minilm', 'arch:NAME'")
    _data_options(run)
    run.add_argument("--seed", type=seed_value, default=42, help="default: 42")
    run.add_argument("--epochs", type=float, help="override the recipe's epochs (a fraction trains whole batches)")
    run.add_argument("--max-train-samples", type=positive_int, help="train on a seeded subset (default: all)")
    run.add_argument("--output-dir", type=Path, default=Path("runs"), help="where results are written (default: runs)")
    run.add_argument("--fault", action="append", default=[], type=fault_name, metavar="FAULT",
                     help=f"inject a deliberate regression, to see a gate fail: {', '.join(FAULTS)}, or "
                          "label-noise-N for any N from 1 to 50 (repeatable; default: none)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    ddp = run.add_argument_group("distributed training (DDP through torch's elastic launcher, as torchrun)")
    ddp.add_argument("--nproc", type=positive_int, default=1, help="training processes on this node (default: 1, no DDP)")
    ddp.add_argument("--nnodes", type=positive_int, default=1, help="nodes; run the same command on each (default: 1)")
    ddp.add_argument("--node-rank", type=int, default=0, help="this node's rank, 0 to nnodes-1; node 0 writes the result (default: 0)")
    ddp.add_argument("--master-addr", default="127.0.0.1", help="node 0's address (default: 127.0.0.1)")
    ddp.add_argument("--master-port", type=positive_int, help="node 0's rendezvous port, the same on every node "
                     "(default: a free port; required with --nnodes > 1)")
    ddp.add_argument("--threads-per-process", type=positive_int, help="torch threads per process (default: cores / nproc)")

    commands.add_parser("recipes", parents=[listing], help="list the named recipes (built-in and the project's)")
    commands.add_parser("tasks", parents=[listing], help="list the tasks (built-in and the project's [tool.harness.tasks])")
    commands.add_parser("cases", parents=[gated], help="list the project's cases ([tool.harness.cases]) and their baselines "
                        "(those of the device and precision given)")

    simulate = commands.add_parser("simulate-gate", parents=[gated], help="the sequential gate's false-alarm rate, power and run counts "
                                   "for a recorded baseline, by simulation")
    _recipe_options(simulate)
    _task_option(simulate)
    simulate.add_argument("--trials", type=positive_int, default=20_000, help="simulated gate runs per row (default: 20000)")
    simulate.add_argument("--output", type=Path, default=Path("reports") / "gate-simulation.md",
                          help="Markdown report (default: reports/gate-simulation.md)")

    noise = commands.add_parser("noise-study", parents=[gated], help="compare the seed-to-seed spread of recipes' measured baselines "
                                "(a reference and its variance-reduction variants) and recommend one")
    noise.add_argument("--recipes", type=_recipe_names, default=("minilm-cpu", "minilm-cpu-ema", "minilm-cpu-reinit"),
                       metavar="NAME,NAME,...", help="the reference recipe, then its variants "
                       "(default: minilm-cpu,minilm-cpu-ema,minilm-cpu-reinit)")
    _task_option(noise)
    noise.add_argument("--data-dir", type=Path, help=f"the data folder the suggested record-baseline commands name "
                       f"(default: ${DATA_DIR_VAR})")
    noise.add_argument("--output", type=Path, default=Path("reports") / "noise-study.md",
                       help="Markdown report (default: reports/noise-study.md)")

    record = commands.add_parser("record-baseline", parents=[gated], help="measure a baseline from several seeds and write it to baselines/")
    _recipe_options(record)
    record.add_argument("--case", metavar="NAME", help="record one of the project's cases ([tool.harness.cases.NAME]), "
                        "with its own task, data, model and recipe (default: none; --recipe, --task and the data options)")
    record.add_argument("--seeds", type=baseline_seeds, default=5, help="number of seeds, from --seed on (default: 5)")
    record.add_argument("--seed", type=seed_value, default=42, help="first seed (default: 42)")
    _data_options(record)
    record.add_argument("--quiet", action="store_true", help="no progress bars")

    fault = commands.add_parser("measure-fault", parents=[gated], help="measure a fault's effect over the seeds the gate would run, "
                                "resumably, against the recorded baseline")
    _recipe_options(fault)
    fault.add_argument("--fault", required=True, type=fault_name, help="the fault, e.g. label-noise-10")
    fault.add_argument("--seeds", type=baseline_seeds, default=10, help="seeds to measure, in the gate's order (default: 10)")
    _data_options(fault)
    fault.add_argument("--output", type=Path, help="Markdown report (default: reports/fault-<fault>.md)")
    fault.add_argument("--quiet", action="store_true", help="no progress bars")

    convert = commands.add_parser("convert-ledger", help="convert seed ledgers (*.partial.json, faults/*.json) written by an "
                                  "older harness, so they resume under this one's run identity")
    convert.add_argument("ledgers", nargs="+", type=Path, help="the ledger files")
    return parser


def _data(args: argparse.Namespace, project: Project) -> dict:
    """The config's data fields from the command line: files, or a folder (the project's by default)."""
    if args.data_files:
        return {"data_files": args.data_files, "columns": args.columns or {}, "data_dir": args.data_dir}
    return {"data_dir": args.data_dir or project.settings.data_dir, "columns": args.columns or {}}


def _run(args: argparse.Namespace, project: Project) -> int:
    from harness.distributed import Launch, launch_fine_tune
    from harness.run_identity import RunIdentity
    from harness.training import fine_tune, run_name

    launch = Launch(nproc_per_node=args.nproc, nnodes=args.nnodes, node_rank=args.node_rank, master_addr=args.master_addr,
                    master_port=args.master_port, threads_per_process=args.threads_per_process)
    overrides = {}
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    if args.max_train_samples is not None:
        overrides["max_train_samples"] = args.max_train_samples
    config = RunConfig.from_recipe(
        args.recipe,
        recipes=project.recipes,
        tasks=project.tasks,
        task=args.task,
        model=args.model,
        device=project.device,
        precision=project.precision,
        seed=args.seed,
        **_data(args, project),
        output_dir=args.output_dir,
        faults=tuple(args.fault),
        world_size=launch.world_size,
        **overrides,
    )
    print(f"harness: fine-tuning {config.model_spec} on {config.task.name} with recipe {config.recipe.name!r}, seed {config.seed}"
          + (f", {launch.world_size} processes" if launch.world_size > 1 else ""), file=sys.stderr)
    if launch.world_size > 1:
        result = launch_fine_tune(config, launch, hub_offline=project.settings.hub_offline, show_progress=not args.quiet)
        if result is None:
            print(f"harness: node {launch.node_rank} finished its share; node 0 writes the result", file=sys.stderr)
            return 0
    else:
        result = fine_tune(config, hub_offline=project.settings.hub_offline, show_progress=not args.quiet,
                           metrics=project.metrics)
    t = result.throughput
    examples = "pairs" if len(config.task.text_columns) == 2 else "texts"
    rows = [
        *([name, f"{value:.4f}"] for name, value in result.metrics.items()),
        ["train time", f"{t.train_seconds:.1f} s ({t.train_samples} {examples} trained, {t.epochs:g} epochs)"],
        ["throughput", f"{t.samples_per_second:.1f} samples/s, {t.tokens_per_second:.0f} tokens/s"],
        ["device", result.provenance["device"].get("gpu") or result.provenance["device"]["cpu"]],
        ["data sha256", result.provenance["data"]["sha256"][:16]],
        ["weights sha256", (result.provenance["model"]["weights_sha256"] or "random init")[:16]],
        ["saved to", str(config.output_dir / run_name(config, RunIdentity.of_result(result)))],
    ]
    print(markdown_table([f"{config.task.name.upper()} {config.task.evaluation_splits[0]}", "value"], rows))
    return 0


def _record_baseline(args: argparse.Namespace, project: Project) -> int:
    from harness.quality.baselines import check_recordable
    from harness.quality.regression import baseline_diff, name_for, record_baseline
    from harness.quality.seed_ledger import SeedLedger
    from harness.session import HarnessSession

    session = HarnessSession.for_project(project, show_progress=not args.quiet)
    if args.case:
        given = [flag for flag, value in (("--task", args.task != DEFAULT_TASK), ("--data-dir", args.data_dir),
                                          ("--data-files", args.data_files), ("--columns", args.columns)) if value]
        if given:
            raise ConfigError(f"--case {args.case} brings its own task and data; drop {', '.join(given)}")
        config = session.case_config(project.cases.get(args.case), seed=args.seed)
    else:
        config = session.config(args.recipe, task=args.task, seed=args.seed, **_data(args, project))
    check_recordable(config)
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


def _measure_fault(args: argparse.Namespace, project: Project) -> int:
    import dataclasses

    from harness.files import atomic_write_text
    from harness.quality.fault_effect import effect_markdown, fault_effects, fault_ledger_path, gate_replay, measure_fault
    from harness.quality.procedures import SequentialProcedure
    from harness.quality.regression import GatePlan, name_for, procedure_for, record_command
    from harness.quality.seed_ledger import SeedLedger
    from harness.session import HarnessSession

    session = HarnessSession.for_project(project, show_progress=not args.quiet)
    config = session.config(args.recipe, task=args.task, faults=(args.fault,), **_data(args, project))
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
    print(f"wrote {atomic_write_text(args.output or Path('reports') / f'fault-{args.fault}.md', text)}")
    return 0


def _simulate_gate(args: argparse.Namespace, project: Project) -> int:
    import dataclasses

    from harness.quality.baselines import BaselineStore
    from harness.files import atomic_write_text
    from harness.quality.regression import GatePlan, name_for, procedure_for, record_command
    from harness.quality.sequential_check import simulate_check

    config = RunConfig.from_recipe(args.recipe, recipes=project.recipes, tasks=project.tasks, task=args.task,
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
    rows = []
    for label, shifts in changes:
        for mode in ("resample", "normal"):
            r = simulate_check(designs, shifts, mode=mode, trials=args.trials)
            rows.append([label, mode, f"{r.fail_rate:.4f} ± {r.fail_rate_se:.4f}", f"{r.expected_runs:.2f}", str(r.worst_case_runs)])
    lines = [f"# Sequential gate: {name}", "",
             f"{next(iter(designs.values())).n_reference} reference seeds; alpha {policy.alpha:g} over "
             f"{len(designs)} metric(s), power {policy.power:g}, at most {policy.max_runs} candidate runs; "
             f"{args.trials} simulated gate runs per row (resample: whole seeds drawn from the recorded ones; "
             "normal: independent normal draws).", ""]
    lines += [design.explain() + "\n" for design in designs.values()]
    lines += [markdown_table(["true change", "simulation", "P(fail)", "expected runs", "worst-case runs"], rows), ""]
    text = "\n".join(lines)
    print(text)
    print(f"wrote {atomic_write_text(args.output, text)}")
    return 0


def _noise_study(args: argparse.Namespace, project: Project) -> int:
    from harness.files import atomic_write_text
    from harness.quality.baselines import BaselineStore
    from harness.quality.noise_study import noise_study_markdown, study_baselines

    configs = [RunConfig.from_recipe(name, recipes=project.recipes, tasks=project.tasks, task=args.task, device=project.device,
                                     precision=project.precision, data_dir=args.data_dir or project.settings.data_dir)
               for name in args.recipes]
    baselines, notes = study_baselines(configs, BaselineStore(project.baselines_dir, metrics=project.metrics))
    policy = project.policy.for_task(configs[0].task)
    text = noise_study_markdown(baselines, policy.metrics, max_runs=policy.max_runs, notes=notes,
                                registry=project.metrics)
    print(text)
    print(f"wrote {atomic_write_text(args.output, text)}")
    return 0


def _cases(args: argparse.Namespace, project: Project) -> int:
    from harness.cases import describe_recipe
    from harness.quality.regression import name_for
    from harness.session import HarnessSession

    cases = project.cases
    if not len(cases):
        print(f"no cases in {args.pyproject}; declare one under [tool.harness.cases.NAME] (see `harness cases --help`)")
        return 0
    session = HarnessSession.for_project(project)
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


def _tasks(args: argparse.Namespace, project: Project) -> int:
    rows = [[t.name, " + ".join(t.text_columns), "score (regression)" if t.is_regression else ", ".join(t.label_names),
             ", ".join(t.metrics), ", ".join(t.evaluation_splits), t.description or "-"] for t in project.tasks]
    print(markdown_table(["task", "text", "labels", "metrics", "evaluated on", "what"], rows))
    return 0


def _recipes(args: argparse.Namespace, project: Project) -> int:
    def other(r) -> str:
        settings = [f"{k}={v}" for k, v in (("reinit_top_layers", r.reinit_top_layers), ("weight_average", r.weight_average)) if v]
        return ", ".join(settings + [f"{k}={v}" for k, v in r.training_args]) or "-"

    rows = [[r.name, r.model, f"{r.epochs:g}", str(r.batch_size), f"{r.learning_rate:g}", other(r), r.description]
            for r in project.recipes]
    print(markdown_table(["recipe", "model", "epochs", "batch", "lr", "other settings (and TrainingArguments overrides)", "what"], rows))
    return 0


def _convert_ledgers(args: argparse.Namespace) -> int:
    from harness.quality.seed_ledger import convert_legacy_ledger

    for path in args.ledgers:
        print(convert_legacy_ledger(path))
    return 0


COMMANDS = {"run": _run, "record-baseline": _record_baseline, "measure-fault": _measure_fault, "noise-study": _noise_study,
            "simulate-gate": _simulate_gate, "tasks": _tasks, "cases": _cases, "recipes": _recipes}


def project_for(args: argparse.Namespace, environment: Settings | None = None) -> Project:
    """The command's :class:`~harness.project.Project`: its flags, then ``--pyproject``'s [tool.harness],
    then the environment (``environment``: a :class:`Settings` standing in for it), then the defaults."""
    flags = ProjectFlags(device=getattr(args, "device", None), precision=getattr(args, "precision", None),
                         baselines_dir=getattr(args, "baselines_dir", None))
    return Project.load(args.pyproject, flags=flags, environment=environment)


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    """Run one command. ``settings`` stands in for the environment (tests); None reads ``os.environ``."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="harness: %(message)s")
    try:
        if args.command == "convert-ledger":
            return _convert_ledgers(args)
        return COMMANDS[args.command](args, project_for(args, settings))
    except USER_ERRORS + (BaselineError,) as error:
        print(f"harness: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
