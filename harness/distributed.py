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
identity it would be cached under (:func:`harness.cache.cache_key`: the config, the data's and the
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

from harness.checksums import sha256_json
from harness.config import ConfigError, RunConfig
from harness.files import atomic_write_json
from harness.result import RunResult

log = logging.getLogger(__name__)
_SHA256_HEX = 64
_SHOWN_HEX = 12  # of a sha256 in a message: enough to tell two apart


class NodesDisagree(ConfigError):
    """The processes of one distributed run would not train the same run; the message says which differ, and in what."""


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
                     show_progress: bool = False) -> RunResult | None:
    """Fine-tune ``config`` in ``launch.world_size`` processes; the result on node 0, None elsewhere.

    The result is what rank 0 wrote to ``config.output_dir`` (see :func:`harness.training.run_name`);
    a worker that fails makes the launcher raise, naming the failed rank and its error.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    from harness.training import run_name

    if config.world_size != launch.world_size:
        raise ConfigError(f"the config trains with world_size {config.world_size}, but the launch starts "
                          f"{launch.nproc_per_node} x {launch.nnodes} = {launch.world_size} processes")
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
        args = ["-m", "harness.distributed", str(config_file), "--threads", str(launch.threads())]
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
    return RunResult.load(config.output_dir / run_name(config))


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


def _launch_error(error) -> Exception:
    """What a failed launch raises here: a worker's :class:`NodesDisagree` as itself, so the user reads
    what differs between the nodes (not a worker's traceback), anything else as a RuntimeError.

    Each worker records its exception in the error file the launcher gives it (:func:`_worker` is
    wrapped in torch's ``record``), as ``"<type>: <message>"``.
    """
    for failure in error.failures.values():
        recorded = failure.message.get("message", "") if isinstance(failure.message, dict) else ""
        kind, _, message = str(recorded).partition(": ")
        if kind == NodesDisagree.__name__:
            return NodesDisagree(message)
    return RuntimeError(f"distributed fine-tune failed: {error.format_msg()}")


def rank_identity(config: RunConfig, *, rank: int, node_rank: int, host: str, hub_offline: bool = False) -> dict:
    """What this process would train, as the run cache identifies it, and where the process runs.

    The identity is :func:`harness.cache.cache_key` with each data file's sha256 beside the data's
    (so that a difference names its file) and without the model's ``source``: where a machine keeps
    the model's files (its virtualenv, its Hub cache) is its own business, what they hold is in the
    model's ``definition_sha256`` and ``weights_sha256``.
    """
    from harness.cache import cache_key
    from harness.data import DataSource

    data = DataSource.for_config(config, hub_offline=hub_offline).fingerprint()
    key = cache_key(config, hub_offline=hub_offline, data_fingerprint=data)
    key["model"] = {name: value for name, value in key["model"].items() if name != "source"}
    return {"rank": rank, "node_rank": node_rank, "host": host, "identity": {**key, "data_files": data["files"]}}


def agree_on_identity(config: RunConfig, *, hub_offline: bool = False) -> list[dict]:
    """Check, in every rank of a started process group, that all ranks would train the same run.

    Each rank computes its :func:`rank_identity` and all exchange them; if any differs from rank 0's
    (node 0 writes the result), every rank raises the same :class:`NodesDisagree`. Returns what the
    result's provenance records: each node's host, ranks, data sha256 and identity sha256.
    """
    import torch.distributed as dist

    # torch's launchers set GROUP_RANK, the node's rank, as they set WORLD_SIZE (see check_world_size)
    mine = rank_identity(config, rank=dist.get_rank(), node_rank=int(os.environ.get("GROUP_RANK", "0")),
                         host=socket.gethostname(), hub_offline=hub_offline)
    identities: list = [None] * dist.get_world_size()
    dist.all_gather_object(identities, mine)
    dist.barrier()  # every rank holds every identity before any of them raises and leaves
    differences = identity_differences(identities)
    if differences:
        raise NodesDisagree(
            f"the {len(identities)} processes of this distributed run would not train the same run, so none trained: "
            + "; ".join(differences)
            + ". Start every node with the same command on the same data, model, library versions and harness source"
        )
    return nodes_provenance(identities)


def identity_differences(identities: Sequence[dict]) -> list[str]:
    """One sentence for each group of ranks whose identity is not rank 0's, saying what differs; [] when all agree.

    >>> same = {"rank": 0, "node_rank": 0, "host": "a", "identity": {"run": {"seed": 42}}}
    >>> identity_differences([same, {**same, "rank": 1, "node_rank": 1, "host": "b", "identity": {"run": {"seed": 43}}}])
    ['rank 1 on node 1 (host b) differs from rank 0 on node 0 (host a) in config field seed: 43 there, 42 on rank 0']
    """
    ordered = sorted(identities, key=lambda entry: entry["rank"])
    reference = ordered[0]
    groups: dict[str, list[dict]] = {}
    for entry in ordered:
        groups.setdefault(sha256_json(entry["identity"]), []).append(entry)
    reference_fields = _flattened(reference["identity"])
    sentences = []
    for group in groups.values():
        if group[0] is reference:
            continue
        fields = _flattened(group[0]["identity"])
        differing = [name for name in sorted(reference_fields.keys() | fields.keys())
                     if reference_fields.get(name) != fields.get(name)]
        if any(name.startswith("data_files.") for name in differing):  # the files say which data differs
            differing = [name for name in differing if name != "data_sha256"]
        what = "; ".join(f"{_field_label(name)}: {_shown(fields.get(name))} there, "
                         f"{_shown(reference_fields.get(name))} on rank {reference['rank']}" for name in differing)
        sentences.append(f"{_where(group)} differs from {_where([reference])} in {what}")
    return sentences


def nodes_provenance(identities: Sequence[dict]) -> list[dict]:
    """Each node's host, ranks, data sha256 and identity sha256, in node order, for a result's provenance."""
    nodes: dict[tuple[int, str], dict] = {}
    for entry in sorted(identities, key=lambda entry: entry["rank"]):
        node = nodes.setdefault((entry["node_rank"], entry["host"]), {
            "node_rank": entry["node_rank"], "host": entry["host"], "ranks": [],
            "data_sha256": entry["identity"].get("data_sha256"), "identity_sha256": sha256_json(entry["identity"]),
        })
        node["ranks"].append(entry["rank"])
    return [nodes[key] for key in sorted(nodes)]


def _flattened(value: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for name, item in value.items():
        if isinstance(item, dict) and item:
            out.update(_flattened(item, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = item
    return out


def _field_label(name: str) -> str:
    """A flattened identity field in the user's terms."""
    section, _, rest = name.partition(".")
    return {
        "run": f"config field {rest}",
        "data_files": f"data file {rest} (sha256)",
        "data_sha256": "data sha256",
        "model": f"model {rest}",
        "versions": f"{rest} version",
        "harness_source_sha256": "harness source sha256",
    }.get(section, name)


def _shown(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, str) and len(value) == _SHA256_HEX:
        return value[:_SHOWN_HEX]
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def _where(entries: Sequence[dict]) -> str:
    """``rank 1 on node 1 (host b)``, ``ranks 2, 3 on node 1 (host b), rank 4 on node 2 (host c)``."""
    by_node: dict[tuple[int, str], list[int]] = {}
    for entry in entries:
        by_node.setdefault((entry["node_rank"], entry["host"]), []).append(entry["rank"])
    return ", ".join(f"{'rank' if len(ranks) == 1 else 'ranks'} {', '.join(map(str, ranks))} on node {node} (host {host})"
                     for (node, host), ranks in sorted(by_node.items()))


def _worker(argv: Sequence[str] | None = None) -> int:
    """One DDP process: read the config, set its threads, fine-tune (rank 0 writes the result)."""
    parser = argparse.ArgumentParser(prog="python -m harness.distributed")
    parser.add_argument("config", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--hub-offline", action="store_true")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)

    import torch

    from harness.training import fine_tune

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format=f"harness[rank {os.environ.get('RANK', '?')}]: %(message)s")
    config = RunConfig.from_dict(json.loads(args.config.read_text()))
    fine_tune(config, hub_offline=args.hub_offline, show_progress=args.progress)
    return 0


def _main() -> int:
    """The worker, its exception recorded in the launcher's error file (where :func:`_launch_error`
    reads it); a disagreement between nodes is the user's to fix, so it is logged without a traceback."""
    from torch.distributed.elastic.multiprocessing.errors import record

    try:
        return record(_worker)()
    except NodesDisagree as error:
        log.error("%s", error)
        return 2


if __name__ == "__main__":
    from harness.distributed import _main as main  # the module by its name: one NodesDisagree class, not two

    sys.exit(main())
