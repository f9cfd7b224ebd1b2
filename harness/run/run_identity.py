"""What counts as "the same run": one fingerprint, and the views of it each use needs.

A :class:`RunIdentity` holds everything that can change a fine-tune's numbers: the config's identity
(task, model spec, the recipe with every TrainingArguments override, precision, seed, faults, column
mapping), the task spec's sha256, the world size, the resolved device, the data's sha256, the model's
files, the versions of every library that touches the numbers or the parsing of a user's file, and
the harness source that computes the numbers (:data:`~harness.run.provenance.NUMBER_SOURCES`). It is built before training from a config (:meth:`RunIdentity.from_config`)
or afterwards from what a result records (:meth:`RunIdentity.from_result`); both give the same value.

Each use is a view of it, and what each view leaves out is named once, here:

- the run cache is keyed by all of it (:meth:`RunIdentity.cache_key`);
- every process of a distributed run must hold all of it, the model by its files (:meth:`RunIdentity.nodes`);
- a run folder is named by all of it but the software (:data:`NOT_IN_FOLDER`): the same run retrained
  by edited code lands in its own folder again, a run on other data or another world size does not;
- every seed of one seed ledger shares all of it but the seed (:meth:`RunIdentity.ledger`), so a code
  edit or an upgrade in the middle of a recording is refused instead of merged;
- a run must match its baseline in :data:`BASELINE_MATCHES`; the rest (:data:`BASELINE_MAY_DIFFER`)
  is what a candidate is allowed to change, and the gate notes some of it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.checksums import sha256_json
from harness.run.config import ConfigError, RunConfig, resolve_task
from harness.run.data import DataSource
from harness.run.devices import device_kind
from harness.run.models import resolve_model
from harness.run.provenance import harness_source_sha256, library_versions, resolve_device
from harness.run.result import RunResult

IDENTITY_SCHEMA = 1
# Every library whose version can change a number (training, tokenizing, metrics) or how a user's
# CSV, JSON or Parquet file parses (datasets reads them through pandas and pyarrow; weights load
# through safetensors; scipy computes the correlations).
VERSIONED_LIBRARIES = ("python", "torch", "transformers", "datasets", "evaluate", "accelerate", "tokenizers", "numpy",
                       "scikit-learn", "scipy", "pandas", "pyarrow", "safetensors")
# Where a config is written to or read from is not what it trains (the data's and model's sha256 are).
_LOCATION_KEYS = ("data_dir", "data_files", "output_dir", "model_root")
# What the model's files are; where a machine keeps them (its "source") is its own business.
_MODEL_KEYS = ("spec", "kind", "weights_sha256", "architecture_sha256", "definition_sha256")

NOT_IN_FOLDER = ("versions", "harness_source_sha256")
# What a run must share with its baseline to be gated against it, and what it may change. A recipe
# change and a code change are what a gate is for, so they are noted (the recipe, the model's config
# or tokenizer files, torch/transformers/datasets upgrades), never refused; the seed is the point.
BASELINE_MATCHES = ("data_sha256", "precision", "weights_sha256", "architecture_sha256", "world_size", "task_spec_sha256")
BASELINE_MAY_DIFFER = ("seed", "recipe", "definition_sha256", "versions", "harness_source_sha256", "device")
# The library upgrades the gate notes beside its verdict; other versions differ silently.
NOTED_VERSIONS = ("torch", "transformers", "datasets")


def task_spec_sha256(task: Mapping[str, Any]) -> str:
    """The sha256 of a task spec's :meth:`~harness.tasks.spec.TaskSpec.to_dict`: columns, labels, metrics."""
    return sha256_json(task)


@dataclass(frozen=True)
class RunIdentity:
    """The canonical fingerprint of one run; see the module docstring for its views."""

    config: dict[str, Any]  # RunConfig.identity(): includes the seed and the recipe
    task_spec_sha256: str | None
    world_size: int
    device: str  # resolved: "cpu", "cuda", "mps"
    data_sha256: str
    model: dict[str, Any]
    versions: dict[str, str | None]
    harness_source_sha256: str | None

    @classmethod
    def from_config(cls, config: RunConfig, *, hub_offline: bool = False, data_fingerprint: Mapping[str, Any] | None = None,
                    model_provenance: Mapping[str, Any] | None = None) -> RunIdentity:
        """Before training: the model resolved and the data hashed as the fine-tune does it (or the
        ``data_fingerprint`` / ``model_provenance`` the caller already holds)."""
        if model_provenance is None:
            model_provenance = resolve_model(config.model_spec, hub_offline=hub_offline, root=config.model_root).provenance()
        data = data_fingerprint or DataSource.for_config(config, hub_offline=hub_offline).fingerprint()
        return cls._build(config.identity(), task=config.task.to_dict(), world_size=config.world_size,
                          device=resolve_device(config.device), data_sha256=data["sha256"], model=model_provenance,
                          versions=library_versions(), harness_source=harness_source_sha256())

    @classmethod
    def from_result(cls, config: Mapping[str, Any], provenance: Mapping[str, Any]) -> RunIdentity:
        """After training: from a result's stored config (or a config's identity) and its provenance."""
        run = {key: value for key, value in config.items() if key not in _LOCATION_KEYS}
        try:  # a built-in task travels by name, any other with its spec (RunConfig.identity)
            task = run["task_spec"] if "task_spec" in run else resolve_task(run["task"]).to_dict()
        except ConfigError:
            task = None  # a name that is no longer a built-in's: its spec is unknown
        device = (provenance.get("device") or {}).get("device", run.get("device"))
        return cls._build(run, task=task, world_size=int(run.get("world_size", 1)), device=device,
                          data_sha256=provenance["data"]["sha256"], model=provenance["model"],
                          versions=provenance.get("versions") or {}, harness_source=provenance.get("harness_source_sha256"))

    @classmethod
    def of_result(cls, result: RunResult) -> RunIdentity:
        """A result's identity: its typed config as stored, and its provenance."""
        return cls.from_result(result.config.to_dict(), result.provenance)

    @classmethod
    def _build(cls, run: Mapping[str, Any], *, task: Mapping[str, Any] | None, world_size: int, device: str, data_sha256: str,
               model: Mapping[str, Any], versions: Mapping[str, Any], harness_source: str | None) -> RunIdentity:
        return cls(config=_plain(run), task_spec_sha256=None if task is None else task_spec_sha256(_plain(task)),
                   world_size=world_size,
                   device=device, data_sha256=data_sha256, model=_plain(model),
                   versions={name: versions.get(name) for name in VERSIONED_LIBRARIES},
                   harness_source_sha256=harness_source)

    def to_json(self) -> dict[str, Any]:
        return {"schema": IDENTITY_SCHEMA, "config": self.config, "task_spec_sha256": self.task_spec_sha256,
                "world_size": self.world_size, "device": self.device, "data_sha256": self.data_sha256,
                "model": self.model, "versions": self.versions, "harness_source_sha256": self.harness_source_sha256}

    def cache_key(self) -> dict[str, Any]:
        """Everything: a change to any part retrains."""
        return self.to_json()

    def folder_hash(self) -> str:
        """Eight hex digits over everything but :data:`NOT_IN_FOLDER`: the hash in a run folder's name."""
        parts = {key: value for key, value in self.to_json().items() if key not in NOT_IN_FOLDER}
        parts["model"] = self._model_files()
        return sha256_json(parts)[:8]

    def ledger(self) -> dict[str, Any]:
        """What every seed of one baseline shares: everything but the seed. Flat, so a refusal names
        ``recipe.learning_rate``; the device by its kind, the model by its files, not where they are kept."""
        # The device asked for ("auto") is not the device trained on: that is device_kind, below.
        config = {key: value for key, value in self.config.items() if key not in ("seed", "device")}
        return {"schema": IDENTITY_SCHEMA, **config, "task_spec_sha256": self.task_spec_sha256,
                "world_size": self.world_size, "device_kind": device_kind(self.device), "data_sha256": self.data_sha256,
                "model_files": self._model_files(), "versions": self.versions,
                "harness_source_sha256": self.harness_source_sha256}

    def nodes(self) -> dict[str, Any]:
        """What every process of one distributed run must share: everything, the model by its files;
        where a machine keeps them (its ``source``: a virtualenv, a Hub cache) is its own business."""
        return {**self.to_json(), "model": self._model_files()}

    def baseline_parts(self) -> dict[str, Any]:
        """The parts a run must share with its baseline (:data:`BASELINE_MATCHES`)."""
        return {"data_sha256": self.data_sha256, "precision": self.config.get("precision"),
                "weights_sha256": self.model.get("weights_sha256"),
                "architecture_sha256": self.model.get("architecture_sha256"),
                "world_size": self.world_size, "task_spec_sha256": self.task_spec_sha256}

    def _model_files(self) -> dict[str, Any]:
        return {key: self.model.get(key) for key in _MODEL_KEYS}


def _plain(data: Mapping[str, Any]) -> dict[str, Any]:
    """JSON data as it reads back from a file (tuples as lists), so a config's and a result's agree."""
    return json.loads(json.dumps(data, default=str))
