"""Distributed scaling: the same fine-tune laid out as processes x threads, side by side.

On a CPU the question is not "how fast is N processes" but "how should these cores be used": one
process with every core as torch threads, or DDP with one process per core (gloo all-reduces
the gradients between them). Each layout trains the same config on the same machine in one
sitting, so the ratios are comparable; quality is shown beside speed because the layouts are not
the same recipe: DDP's global batch is processes x batch_size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.run.config import RunConfig
from harness.files import atomic_write_text
from harness.run.result import RunResult
from harness.tables import markdown_table

SCALING_MARKDOWN = "scaling.md"


@dataclass(frozen=True)
class Layout:
    processes: int
    threads: int

    @property
    def label(self) -> str:
        return f"{self.processes} x {self.threads}"


@dataclass(frozen=True)
class ScalingRun:
    layout: Layout
    result: RunResult

    @property
    def samples_per_second(self) -> float:
        return self.result.throughput.samples_per_second


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def measure_layouts(config: RunConfig, layouts: Sequence[Layout], *, hub_offline: bool,
                    fine_tune: Callable[[RunConfig], RunResult] | None = None) -> list[ScalingRun]:
    """Train ``config`` once per layout: one process in this one (its torch threads set for the
    run), several through :func:`harness.run.distributed.launch_fine_tune`."""
    from harness.run.distributed import Launch, launch_fine_tune
    from harness.run.training import fine_tune as train_here

    runs = []
    for layout in layouts:
        laid_out = config.replace(world_size=layout.processes,
                                  output_dir=config.output_dir / f"{layout.processes}x{layout.threads}")
        if layout.processes == 1:
            with torch_threads(layout.threads):
                result = (fine_tune or (lambda c: train_here(c, hub_offline=hub_offline, show_progress=False)))(laid_out)
        else:
            result = launch_fine_tune(laid_out, Launch(nproc_per_node=layout.processes, threads_per_process=layout.threads),
                                      hub_offline=hub_offline)
        runs.append(ScalingRun(layout, result))
    return runs


def scaling_markdown(runs: Sequence[ScalingRun], *, machine: str) -> str:
    """The layouts as a table, each one's speed relative to the first."""
    reference = runs[0]
    metrics = [name for name in reference.result.metrics if name != "loss"]  # the task's own
    rows = []
    for run in runs:
        t = run.result.throughput
        rows.append([
            run.layout.label, f"{t.train_seconds:.1f}", f"{t.samples_per_second:.1f}",
            f"{run.samples_per_second / reference.samples_per_second:.2f}x",
            *(f"{run.result.metrics[name]:.4f}" for name in metrics),
            str(run.layout.processes * run.result.config.recipe.batch_size),
        ])
    config = reference.result.config
    recipe = config.recipe
    lines = [
        "# Distributed scaling", "",
        f"{config.model_spec} ({recipe.name}: {recipe.max_train_samples or 'all'} training pairs, "
        f"{recipe.epochs:g} epoch(s), batch {recipe.batch_size} per process, {config.precision}) on {machine}, "
        "one sitting. Processes x threads: several processes train with DDP (gloo on CPU, nccl on CUDA GPUs, one process "
        "per GPU); speed-up is against the "
        f"first row ({reference.layout.label}). Samples/s count the pairs trained over the Trainer's train_runtime.", "",
        markdown_table(["processes x threads", "train s", "samples/s", "speed-up", *metrics, "global batch"], rows), "",
        "Quality differs between layouts partly by design: DDP's global batch is processes x batch, so the same epochs "
        "take fewer, larger steps.",
    ]
    return "\n".join(lines) + "\n"


def write_scaling_report(runs: Sequence[ScalingRun], reports_dir: Path, *, machine: str,
                         filename: str = SCALING_MARKDOWN) -> Path:
    return atomic_write_text(Path(reports_dir) / filename, scaling_markdown(runs, machine=machine))
