"""Fine-tuning in several processes (DDP), launched by torch's own elastic launcher.

The harness does not schedule processes itself: :func:`launch_fine_tune` hands the run to
``torch.distributed.launcher.elastic_launch`` (what ``torchrun`` runs), which starts
``nproc_per_node`` copies of this module's worker on each node and sets ``RANK``, ``WORLD_SIZE``
and ``MASTER_ADDR``/``MASTER_PORT`` for them. Inside, the Trainer (through accelerate) sees those and
trains with DistributedDataParallel: ``gloo`` on CPUs, ``nccl`` on CUDA GPUs. Every rank trains;
global rank 0 alone gathers the predictions (each evaluation example once: accelerate drops the
distributed sampler's padding), computes the metrics and writes the result.

Several nodes use the classic static rendezvous, as ``torchrun --nnodes M --node-rank R
--master-addr A --master-port P`` does: the same command on every node, each with its own
``node_rank``; node 0 hosts the rendezvous and writes the result.

Each node reads its own config, data and model, so before anything trains every rank computes the
identity it would be cached under (:func:`harness.run.cache.cache_key`: the config, the data's and the
weights' sha256, the library versions, the harness's source) and all ranks exchange it
(:func:`agree_on_identity`): a node started on other data, another model or other versions makes
the launch fail on every node with :class:`NodesDisagree`, naming the ranks and what differs,
instead of training a mixture that node 0 would report as its own run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import socket
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.run.config import ConfigError, RunConfig
from harness.files import atomic_write_json
from harness.run.node_agreement import NodesDisagree
from harness.run.result import RunResult

log = logging.getLogger(__name__)
@dataclass(frozen=True)
class Launch:
    """Where a distributed run's processes go: ``nproc_per_node`` on each of ``nnodes`` nodes."""

    nproc_per_node: int = 1
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int | None = None  # None: a free port on this machine (single node only)
    threads_per_process: int | None = None  # None: this machine's cores shared out evenly

    def __post_init__(self) -> None:
        if self.nproc_per_node < 1 or self.nnodes < 1:
            raise ConfigError(f"processes per node and nodes must be >= 1, got {self.nproc_per_node} and {self.nnodes}")
        if not 0 <= self.node_rank < self.nnodes:
            raise ConfigError(f"node rank must be in [0, {self.nnodes}), got {self.node_rank}")
        if self.nnodes > 1 and self.master_port is None:
            raise ConfigError("a run over several nodes needs --master-port (and --master-addr, node 0's address), "
                              "the same on every node")
        if self.threads_per_process is not None and self.threads_per_process < 1:
            raise ConfigError(f"threads per process must be >= 1, got {self.threads_per_process}")

    @property
    def world_size(self) -> int:
        return self.nproc_per_node * self.nnodes

    def threads(self) -> int:
        """Each process's torch threads: without a limit, every process would take every core and
        the processes would fight over them (torchrun sets OMP_NUM_THREADS=1 for the same reason)."""
        return self.threads_per_process or max(1, (os.cpu_count() or 1) // self.nproc_per_node)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def launch_fine_tune(config: RunConfig, launch: Launch, *, hub_offline: bool = False,
                     show_progress: bool = False, import_root: Path | None = None) -> RunResult | None:
    """Fine-tune ``config`` in ``launch.world_size`` processes; the result on node 0, None elsewhere.

    The workers score with the built-in metrics and the config's ``project_metrics``, imported from
    ``import_root`` (the project's folder); a task metric neither of them holds (one registered in
    code) is refused here, before any process starts.

    The result is what rank 0 wrote to ``config.output_dir`` (see :func:`harness.run.training.run_name`);
    a worker that fails makes the launcher raise, naming the failed rank and its error.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    from harness.run.training import check_device, run_name

    check_device(config)  # a device or precision this machine lacks is refused before any process starts
    if config.world_size != launch.world_size:
        raise ConfigError(f"the config trains with world_size {config.world_size}, but the launch starts "
                          f"{launch.nproc_per_node} x {launch.nnodes} = {launch.world_size} processes")
    _check_worker_metrics(config, import_root)
    port = launch.master_port or free_port(launch.master_addr)
    with tempfile.TemporaryDirectory(prefix="harness-ddp-") as scratch:
        config_file = Path(scratch) / "config.json"
        atomic_write_json(config_file, config.to_dict())
        launch_config = LaunchConfig(
            min_nodes=launch.nnodes,
            max_nodes=launch.nnodes,
            nproc_per_node=launch.nproc_per_node,
            run_id=f"harness-{uuid.uuid4().hex[:8]}" if launch.nnodes == 1 else f"harness-{config.short_id}",
            rdzv_backend="static",
            rdzv_endpoint=f"{launch.master_addr}:{port}",
            rdzv_configs={"rank": launch.node_rank, "timeout": 900},
            max_restarts=0,  # a failed fine-tune is reported, never silently re-run
            start_method="spawn",
        )
        args = ["-m", "harness.run.distributed", str(config_file), "--threads", str(launch.threads())]
        args += ["--import-root", str(Path(import_root).resolve())] if import_root is not None else []
        args += ["--hub-offline"] if hub_offline else []
        args += ["--progress"] if show_progress else []
        log.info("launching %d process(es) on node %d of %d (%s:%d, %d thread(s) each)", launch.nproc_per_node,
                 launch.node_rank, launch.nnodes, launch.master_addr, port, launch.threads())
        try:
            with _environment(OMP_NUM_THREADS=str(launch.threads())):  # the workers inherit it: torch, MKL and accelerate read it
                elastic_launch(launch_config, entrypoint=sys.executable)(*args)
        except ChildFailedError as error:
            raise _launch_error(error) from None
    if launch.node_rank != 0:
        return None
    return RunResult.load(config.output_dir / run_name(config, hub_offline=hub_offline))


def _check_worker_metrics(config: RunConfig, import_root: Path | None) -> None:
    """Every metric of the task must be one a worker can build: a built-in or a project metric with a source."""
    registry = config.metric_registry(import_root)
    known = set(registry.names())
    missing = [name for name in config.task.metrics if name not in known]
    if missing:
        raise ConfigError(f"task {config.task.name!r} is scored with {missing}, which a DDP worker cannot import: a metric "
                          "registered in code has no \"module:callable\" source; declare it in [tool.harness.metrics] "
                          "(or train with world_size 1)")


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _user_errors() -> tuple[type[Exception], ...]:
    """The errors a worker reports as themselves (the user's to fix), not as a traceback."""
    from harness.tasks.text_files import DataError
    from harness.run.models import ModelError
    from harness.tasks.spec import TaskError

    return (NodesDisagree, ConfigError, DataError, ModelError, TaskError)


def _launch_error(error) -> Exception:
    """What a failed launch raises here: a worker's :class:`NodesDisagree` as itself, so the user reads
    what differs between the nodes (not a worker's traceback), anything else as a RuntimeError.

    Each worker records its exception in the error file the launcher gives it (:func:`_worker` is
    wrapped in torch's ``record``), as ``"<type>: <message>"``.
    """
    for failure in error.failures.values():
        recorded = failure.message.get("message", "") if isinstance(failure.message, dict) else ""
        kind, _, message = str(recorded).partition(": ")
        for known in _user_errors():
            if kind == known.__name__:
                return known(message)
    return RuntimeError(f"distributed fine-tune failed: {error.format_msg()}")


def _worker(argv: Sequence[str] | None = None) -> int:
    """One DDP process: read the config, set its threads, fine-tune (rank 0 writes the result)."""
    parser = argparse.ArgumentParser(prog="python -m harness.run.distributed")
    parser.add_argument("config", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--hub-offline", action="store_true")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--import-root", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    from harness.run.training import fine_tune

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format=f"harness[rank {os.environ.get('RANK', '?')}]: %(message)s")
    config = RunConfig.from_dict(json.loads(args.config.read_text()))
    fine_tune(config, hub_offline=args.hub_offline, show_progress=args.progress,
              metrics=config.metric_registry(args.import_root))
    return 0


def _main() -> int:
    """The worker, its exception recorded in the launcher's error file (where :func:`_launch_error`
    reads it); a disagreement between nodes is the user's to fix, so it is logged without a traceback."""
    from torch.distributed.elastic.multiprocessing.errors import record

    try:
        return record(_worker)()
    except _user_errors() as error:  # recorded for the launcher, which raises it as itself: no traceback here
        log.error("%s", error)
        return 2


if __name__ == "__main__":
    from harness.run.distributed import _main as main  # the module by its name: one NodesDisagree class, not two

    sys.exit(main())
