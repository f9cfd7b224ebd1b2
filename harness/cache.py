"""A disk cache of fine-tunes, keyed by everything that can change their result.

The key covers the run's identity (task, model spec, recipe, device, precision, seed, faults),
the data's and the weights' sha256, the versions of the libraries that train, and the harness's
own source code: a change to any of them retrains; nothing else does. So a second
``pytest benchmarks`` with nothing changed reuses the fine-tune, and a code change is measured.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.checksums import sha256_json
from harness.config import RunConfig
from harness.data import MrpcSource
from harness.files import atomic_write_json
from harness.models import resolve_model
from harness.provenance import git_commit, harness_source_sha256, library_versions, resolve_device
from harness.result import ResultError, RunResult

log = logging.getLogger(__name__)


def cache_key(config: RunConfig, *, hub_offline: bool = False) -> dict:
    """The data a run's cache entry is keyed by, kept readable so a miss can be explained."""
    model = resolve_model(config.model_spec, hub_offline=hub_offline)
    data = MrpcSource(config.data_dir, hub_offline).fingerprint()
    versions = library_versions()
    versions.pop("harness", None)
    return {
        "run": config.identity() | {"device": resolve_device(config.device)},
        "data_sha256": data["sha256"],
        "model": model.provenance(),
        "versions": versions,
        "harness_source_sha256": harness_source_sha256(),
    }


def refreshed(result: RunResult, entry: str) -> RunResult:
    """A cached result with today's run-time provenance.

    The numbers are the cached training's; the commit is not: the cache key holds the harness's
    source hash, so the code that would train now is the code that trained then, but the commit a
    report names must be the one checked out now. When and from which commit the result was
    trained stays on record under ``cached``.
    """
    provenance = dict(result.provenance)
    provenance["cached"] = {"entry": entry, "trained": provenance.get("created"), "trained_git": provenance.get("git")}
    provenance["git"] = git_commit()
    provenance["harness_source_sha256"] = harness_source_sha256()
    return dataclasses.replace(result, provenance=provenance)


@dataclass(frozen=True)
class RunCache:
    root: Path
    hub_offline: bool = False

    def entry(self, config: RunConfig) -> tuple[Path, dict]:
        key = cache_key(config, hub_offline=self.hub_offline)
        return self.root / "runs" / sha256_json(key)[:20], key

    def get_or_run(self, config: RunConfig, train: Callable[[RunConfig], RunResult]) -> RunResult:
        """The cached result for ``config``, or ``train(config)``'s, stored for next time."""
        directory, key = self.entry(config)
        if (directory / "result.json").is_file():
            try:
                result = RunResult.load(directory)
                log.info("reusing cached fine-tune %s (%s)", directory.name, config.model_spec)
                return refreshed(result, directory.name)
            except ResultError as error:
                log.warning("cached fine-tune unreadable, retraining: %s", error)
        result = train(config.replace(output_dir=directory / "work"))
        result.save(directory)
        atomic_write_json(directory / "key.json", key)
        shutil.rmtree(directory / "work", ignore_errors=True)
        return result
