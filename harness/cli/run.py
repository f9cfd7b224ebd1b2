"""``harness run``: fine-tune one config and print its metrics."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.arguments import fault_name, port_number, positive_int, seed_value
from harness.cli.options import Parents, data_fields, data_options, recipe_options
from harness.run.config import RunConfig
from harness.run.faults import FAULTS
from harness.project import Project
from harness.tables import markdown_table


def add_parser(commands, parents: Parents) -> None:
    run = commands.add_parser("run", parents=[parents.training], help="fine-tune one config on a task (default: MRPC) and print its evaluation metrics")
    recipe_options(run)
    run.add_argument("--model", help="model spec overriding the recipe's: Hub id, local dir, 'minilm', 'arch:NAME'")
    data_options(run)
    run.add_argument("--seed", type=seed_value, default=42, help="default: 42")
    run.add_argument("--epochs", type=float, help="override the recipe's epochs (a fraction trains whole batches)")
    run.add_argument("--max-train-samples", type=positive_int, help="train on a seeded subset (default: all)")
    run.add_argument("--output-dir", type=Path, default=Path("runs"), help="where results are written (default: runs)")
    run.add_argument("--fault", action="append", default=[], type=fault_name, metavar="FAULT",
                     help=f"inject a deliberate regression, to see a gate fail: {', '.join(FAULTS)}, or "
                          "label-noise-N for any N from 1 to 50, slow-steps-N (N%% extra compute per training step) for "
                          "any N from 1 to 400 (repeatable; default: none)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    ddp = run.add_argument_group("distributed training (DDP through torch's elastic launcher, as torchrun)")
    ddp.add_argument("--nproc", type=positive_int, default=1, help="training processes on this node (default: 1, no DDP)")
    ddp.add_argument("--nnodes", type=positive_int, default=1, help="nodes; run the same command on each (default: 1)")
    ddp.add_argument("--node-rank", type=int, default=0, help="this node's rank, 0 to nnodes-1; node 0 writes the result (default: 0)")
    ddp.add_argument("--master-addr", default="127.0.0.1", help="node 0's address (default: 127.0.0.1)")
    ddp.add_argument("--master-port", type=port_number, help="node 0's rendezvous port, the same on every node "
                     "(default: a free port; required with --nnodes > 1)")
    ddp.add_argument("--threads-per-process", type=positive_int, help="torch threads per process (default: cores / nproc)")
    run.set_defaults(handler=command)


def command(args: argparse.Namespace, project: Project) -> int:
    from harness.run.distributed import Launch, launch_fine_tune
    from harness.run.run_identity import RunIdentity
    from harness.run.training import fine_tune, run_name

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
        metrics=project.metrics,
        task=args.task,
        model=args.model,
        device=project.device,
        precision=project.precision,
        seed=args.seed,
        **data_fields(args, project),
        output_dir=args.output_dir,
        faults=tuple(args.fault),
        world_size=launch.world_size,
        **overrides,
    )
    print(f"harness: fine-tuning {config.model_spec} on {config.task.name} with recipe {config.recipe.name!r}, seed {config.seed}"
          + (f", {launch.world_size} processes" if launch.world_size > 1 else ""), file=sys.stderr)
    if launch.world_size > 1:
        result = launch_fine_tune(config, launch, hub_offline=project.settings.hub_offline, show_progress=not args.quiet,
                                  import_root=project.root)
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
