"""Whether every process of a distributed run would train the same run, checked at rendezvous.

Each rank computes the identity it would be cached under (:func:`harness.run.cache.cache_key`: config,
data, model files, versions, harness source) plus each data file's sha256, and the ranks exchange
them (``all_gather_object``). A node started on other data, another model or other versions makes
every rank raise :class:`NodesDisagree`, naming the ranks and what differs, before anything trains.
Below :mod:`harness.run.training`, which calls it once the process group is up, and
:mod:`harness.run.distributed`, which launches the processes and reports the error.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence

from harness.checksums import sha256_json
from harness.run.config import ConfigError, RunConfig
from harness.run.run_identity import RunIdentity

_SHA256_HEX = 64
_SHOWN_HEX = 12  # of a sha256 in a message: enough to tell two apart


class NodesDisagree(ConfigError):
    """The processes of one distributed run would not train the same run; the message says which differ, and in what."""


def rank_identity(config: RunConfig, *, rank: int, node_rank: int, host: str, hub_offline: bool = False) -> dict:
    """What this process would train, as the run cache identifies it, and where the process runs.

    The identity is the run identity's view for the nodes of one run (:meth:`RunIdentity.nodes`), with
    each data file's sha256 beside the data's, so that a difference names its file.
    """
    from harness.run.data import DataSource

    data = DataSource.for_config(config, hub_offline=hub_offline).fingerprint()
    key = RunIdentity.from_config(config, hub_offline=hub_offline, data_fingerprint=data).nodes()
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

    >>> same = {"rank": 0, "node_rank": 0, "host": "a", "identity": {"config": {"seed": 42}}}
    >>> identity_differences([same, {**same, "rank": 1, "node_rank": 1, "host": "b", "identity": {"config": {"seed": 43}}}])
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
        "config": f"config field {rest}",
        "task_spec_sha256": "task spec sha256",
        "world_size": "world size",
        "device": "device",
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
