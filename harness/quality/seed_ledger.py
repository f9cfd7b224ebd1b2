"""The per-seed results of a baseline being recorded, kept on disk as they land.

A baseline worth gating with takes many seeds, and on a CPU many seeds are hours: a recording must
survive being killed. Each finished seed is added to ``<baseline>.partial.json`` beside the baseline
(rewritten atomically, so a kill mid-write leaves the previous version whole), and the same command
run again continues with the seeds still missing: nothing measured is lost or measured twice. The
file is small and readable, so it can be committed while the recording goes on.

One recording at a time: a recording holds the ledger's file lock (``<name>.partial.lock``, an OS
lock the kernel drops when its holder dies, even by ``kill -9``) from its first seed until the
baseline is written, so a second ``record-baseline`` of the same baseline stops at once, naming
the lock, instead of each overwriting the other's seeds. A finished recording removes the ledger
only when the baseline holds every seed in it; seeds it does not hold (a ``--seeds 2`` run over a
killed 10-seed recording) stay in the ledger for the next recording, and the command says so.

A ledger belongs to one identity: the run identity's ledger view (:meth:`RunIdentity.ledger`:
everything but the seed, the harness's own source and every library's version included). Resuming
under another identity would mix two baselines into one, so it is refused with what differs, before
any seed is trained or taken from the ledger: the identity this run's seeds would be recorded under
is computed from the config, the model's and the data's files, the library versions and the
harness's source, without training (:func:`identity_before_training`). Each held seed's own
record must belong to the ledger's identity too, so a file merged or edited by hand is caught, and a
code edit or a library upgrade in the middle of a recording is refused, naming it.

A ledger written by an older harness (schema 1) held neither the harness's source nor most library
versions in its identity, so its seeds may have been measured by several versions of the code. It is
not resumed as it is: ``harness convert-ledger PATH`` (:func:`convert_legacy_ledger`) checks its seeds
under the identity they were recorded with, then adopts this harness's source and library versions
for the parts that identity did not hold, saying so in the file (``converted``); or delete it to start over.
"""

from __future__ import annotations

import contextlib
import json
import logging
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from harness.quality.baselines import BaselineError
from harness.run.config import RunConfig
from harness.files import atomic_write_json
from harness.run.provenance import library_versions
from harness.run.result import RunResult, TrainingThroughput
from harness.run.run_identity import RunIdentity

log = logging.getLogger(__name__)

# Schema 2: the identity is the run identity's ledger view (harness.run.run_identity), which holds the
# harness's source and every library's version; schema 1's held the versions below and no source.
LEDGER_SCHEMA = 2
LEGACY_SCHEMA = 1
LEGACY_VERSIONS = ("torch", "transformers", "accelerate", "tokenizers")
CONVERT_COMMAND = "harness convert-ledger"
# The parts a schema-1 identity did not hold, which a converted ledger's older seeds may differ in.
_NOT_IN_LEGACY = ("harness_source_sha256", "versions")


def ledger_identity(run: Mapping[str, Any], provenance: Mapping[str, Any]) -> dict[str, Any]:
    """What every seed of one ledger shares, as JSON data: :meth:`RunIdentity.ledger`.

    ``run`` is a config's :meth:`~harness.run.config.RunConfig.identity` (or a result's stored config,
    which holds it); ``provenance`` is what its fine-tune recorded. :func:`identity_before_training`
    gives the same without training.
    """
    return RunIdentity.from_result(run, provenance).ledger()


def identity_before_training(config: RunConfig, *, hub_offline: bool = False) -> dict[str, Any]:
    """The identity ``config``'s seeds would be recorded under (:func:`ledger_identity` of their
    results), found without training, as the fine-tune finds its model and data: a ledger is checked
    against it before a seed is trained or taken from it."""
    return RunIdentity.from_config(config, hub_offline=hub_offline).ledger()


_ABSENT = object()


def identity_changes(before: Mapping[str, Any], after: Mapping[str, Any], *, was: str, now: str, prefix: str = "") -> list[str]:
    """Where two identities differ, one line per leaf, in the user's terms.

    >>> identity_changes({"recipe": {"learning_rate": 0.001}}, {"recipe": {"learning_rate": 3e-05}}, was="in the ledger", now="now")
    ['recipe.learning_rate: 0.001 in the ledger, 3e-05 now']
    """
    changes = []
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key, _ABSENT), after.get(key, _ABSENT)
        if old == new:
            continue
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            changes += identity_changes(old, new, was=was, now=now, prefix=f"{prefix}{key}.")
        else:
            shown = ["absent" if value is _ABSENT else repr(value) for value in (old, new)]
            changes.append(f"{prefix}{key}: {shown[0]} {was}, {shown[1]} {now}")
    return changes


class LedgerBusy(BaselineError):
    """Another process is recording into the same ledger."""


def lock_path_for(ledger: Path) -> Path:
    """``x.partial.json`` -> ``x.partial.lock``: beside the ledger, never replaced with it."""
    name = ledger.name.removesuffix(".json")
    return ledger.with_name(f"{name}.lock")


@dataclass
class SeedLedger:
    path: Path
    identity: dict[str, Any] | None = None
    seeds: dict[int, dict[str, Any]] | None = None
    schema: int = LEDGER_SCHEMA
    # After convert-ledger: the seeds measured before it, whose records may differ from the identity
    # only in what a schema-1 identity did not hold (_NOT_IN_LEGACY, but for LEGACY_VERSIONS).
    converted: dict[str, Any] | None = None

    @classmethod
    def open(cls, path: Path) -> SeedLedger:
        """The ledger at ``path``; empty when there is none. A damaged file is an error that says how to recover."""
        path = Path(path)
        if not path.is_file():
            return cls(path, None, {})
        try:
            data = json.loads(path.read_text())
            if data.get("schema") not in (LEGACY_SCHEMA, LEDGER_SCHEMA) or data.get("kind") != "seed-ledger":
                raise ValueError(f"schema {data.get('schema')!r} / kind {data.get('kind')!r}")
            seeds = {int(record["seed"]): record for record in data["seeds"]}
            return cls(path, data["identity"], seeds, data["schema"], data.get("converted"))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise BaselineError(
                f"{path}: unreadable partial recording ({type(error).__name__}: {error}); restore it from git, "
                "or delete it to record every seed again"
            ) from error

    @classmethod
    @contextlib.contextmanager
    def recording(cls, path: Path, *, wait: bool = False) -> Iterator[SeedLedger]:
        """The ledger at ``path``, held for one recording; another recording of it raises at once.

        Waiting would not help a recording: the other may take hours, and two processes adding seeds
        to one ledger would each rewrite it from their own copy, losing the other's seeds. ``wait``
        is for ``--harness-force-regen``, which records no ledger but must not write the baseline
        while another process does: it waits for the lock, saying so, then sees what was written.
        """
        path = Path(path)
        lock_path = lock_path_for(path)
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(lock_path)
        try:
            lock.acquire(blocking=False)
        except Timeout:
            if wait:
                log.info("waiting for another process recording %s (lock %s)", path.name, lock_path)
                lock.acquire()
            else:
                raise LedgerBusy(
                    f"{path}: another process is recording this baseline (it holds {lock_path}); wait for it to finish, "
                    "or stop it: its finished seeds are kept in the ledger and the next recording resumes from them"
                ) from None
        try:
            yield cls.open(path)  # read under the lock: what another recording wrote before it let go is seen
        finally:
            lock.release()

    def finish(self, recorded: Iterable[int]) -> str | None:
        """After a baseline of the ``recorded`` seeds is written: remove the ledger if the baseline holds
        every seed in it; otherwise keep it whole and return what to tell the user."""
        extra = sorted(set(self.seeds) - set(recorded))
        if not extra:
            self.remove()
            return None
        # The flags that record every held seed: from the lowest, not from this recording's --seed.
        low, high = min(self.seeds), max(self.seeds)
        return (f"kept {self.path}: it holds seeds {seed_ranges(extra)}, which this baseline (seeds {seed_ranges(list(recorded))}) "
                f"does not; a recording of more seeds resumes from them (e.g. --seed {low} --seeds {high - low + 1}), or "
                "delete the file to discard them")

    def __contains__(self, seed: int) -> bool:
        return seed in self.seeds

    def check_resumable(self, identity: dict[str, Any]) -> None:
        """Refuse to resume under ``identity`` (what this run's seeds would be recorded under, see
        :func:`identity_before_training`) when the ledger's differs, or when a held seed's own record
        does not belong to the ledger's identity (a file merged or edited by hand)."""
        if self.identity is None:
            if self.seeds:
                raise BaselineError(f"{self.path}: holds seeds {seed_ranges(list(self.seeds))} but no identity; restore it "
                                    "from git, or delete it to record every seed again")
            return
        if self.schema == LEGACY_SCHEMA:
            raise BaselineError(
                f"{self.path}: written by an older harness, whose ledger identity held neither the harness's own source nor "
                f"most library versions, so seeds {seed_ranges(list(self.seeds))} may have been measured by other code than "
                f"this. Convert it to continue with this code (`{CONVERT_COMMAND} {self.path}`: its seeds are checked under "
                "the identity they were recorded with, and the file says which were measured before), or delete it to "
                "start over"
            )
        if identity != self.identity:
            raise BaselineError(self._other_identity(identity))
        for seed, record in sorted(self.seeds.items()):
            try:
                own = ledger_identity(record["config"], record["provenance"])
            except (KeyError, TypeError, ValueError) as error:
                raise BaselineError(f"{self.path}: seed {seed}'s record is incomplete ({type(error).__name__}: {error}); "
                                    "restore it from git, or delete it to record every seed again") from error
            if seed in (self.converted or {}).get("seeds", ()):
                own, expected = _legacy_parts(own), _legacy_parts(self.identity)
            else:
                expected = self.identity
            if own != expected:
                changes = identity_changes(expected, own, was="in the ledger's identity", now=f"in seed {seed}'s record")
                raise BaselineError(
                    f"{self.path}: seed {seed} was not measured under the ledger's identity ({'; '.join(changes)}): the file "
                    "was merged or edited by hand, and one baseline cannot mix them. Restore it from git, or delete it to "
                    "record every seed again."
                )

    def _other_identity(self, identity: dict[str, Any]) -> str:
        changes = identity_changes(self.identity, identity, was="in the ledger", now="now")
        fix = f"Restore the settings they were measured with, or delete {self.path} to start the recording over."
        if identity.get("harness_source_sha256") != self.identity.get("harness_source_sha256"):
            commits = sorted({str((record.get("provenance", {}).get("git") or {}).get("commit"))[:12]
                              for record in self.seeds.values()} - {"None"})
            measured_by = f" (commit {', '.join(commits)})" if commits else ""
            fix = (f"The harness's own source changed since they were measured: finish the recording with the code that "
                   f"measured them{measured_by}, or delete {self.path} to start over with this code.")
        return (f"{self.path}: seeds {seed_ranges(list(self.seeds))} were measured under another identity "
                f"({'; '.join(changes)}): one baseline cannot mix them. {fix}")

    def add(self, config: RunConfig, result: RunResult) -> None:
        """Record one finished seed; refuses a run that would not belong to the same baseline."""
        identity = ledger_identity(config.identity(), result.provenance)
        if self.identity is None:
            self.identity = identity
        elif identity != self.identity:
            raise BaselineError(self._other_identity(identity))
        seed = int(result.provenance["seed"])
        self.seeds[seed] = {
            "seed": seed,
            "config": result.config.to_dict(),
            "metrics": result.metrics,
            "throughput": asdict(result.throughput),
            "provenance": result.provenance,
        }
        atomic_write_json(self.path, self.to_json())

    def results(self, seeds: Iterable[int]) -> list[RunResult]:
        """The recorded seeds as results (metrics, throughput, provenance; no predictions)."""
        return [
            RunResult(
                config=RunConfig.from_dict(record["config"]),
                metrics=record["metrics"],
                logits=np.empty((0, 0), dtype=np.float32),
                labels=np.empty(0, dtype=np.int64),
                throughput=TrainingThroughput(**record["throughput"]),
                provenance=record["provenance"],
            )
            for record in (self.seeds[s] for s in seeds)
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "kind": "seed-ledger",
            "identity": self.identity,
            **({"converted": self.converted} if self.converted else {}),
            "seeds": [self.seeds[s] for s in sorted(self.seeds)],
        }

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _legacy_parts(identity: Mapping[str, Any]) -> dict[str, Any]:
    """``identity`` without what a schema-1 ledger identity did not hold."""
    kept = {key: value for key, value in identity.items() if key not in _NOT_IN_LEGACY}
    kept["versions"] = {name: (identity.get("versions") or {}).get(name) for name in LEGACY_VERSIONS}
    return kept


def convert_legacy_ledger(path: Path) -> str:
    """Convert a schema-1 ledger at ``path`` to this harness's schema, in place; returns what was done.

    Every held seed must agree under the identity it was recorded with (a schema-1 identity: no
    harness source, four library versions) and the parts of the new identity it can be read from.
    The converted ledger's identity takes this harness's source and library versions for what
    schema 1 did not hold, so the next seed is measured, and refused, as any other ledger's; the
    file lists the seeds measured before the conversion and the harness sources that measured them.
    """
    from harness.run.provenance import harness_source_sha256

    with SeedLedger.recording(path) as ledger:
        if not ledger.path.is_file():
            raise BaselineError(f"{path}: no such ledger")
        if ledger.schema != LEGACY_SCHEMA:
            return f"{path}: already a schema-{ledger.schema} ledger; nothing to convert"
        if not ledger.seeds:
            ledger.remove()
            return f"{path}: held no seeds; removed"
        identities = {seed: ledger_identity(record["config"], record["provenance"]) for seed, record in ledger.seeds.items()}
        first = min(identities)
        for seed, own in sorted(identities.items()):
            if _legacy_parts(own) != _legacy_parts(identities[first]):
                changes = identity_changes(_legacy_parts(identities[first]), _legacy_parts(own),
                                           was=f"in seed {first}'s record", now=f"in seed {seed}'s")
                raise BaselineError(f"{path}: seeds {first} and {seed} were not measured under one identity "
                                    f"({'; '.join(changes)}); it cannot be converted. Delete it to start over.")
        now = library_versions()
        identity = dict(identities[first])
        identity["versions"] = {name: (identity["versions"].get(name) if name in LEGACY_VERSIONS else now.get(name))
                                for name in identity["versions"]}
        identity["harness_source_sha256"] = harness_source_sha256()
        sources = sorted({str(own.get("harness_source_sha256")) for own in identities.values()})
        ledger.identity, ledger.schema = identity, LEDGER_SCHEMA
        ledger.converted = {"from_schema": LEGACY_SCHEMA, "seeds": sorted(ledger.seeds), "harness_source_sha256": sources}
        atomic_write_json(ledger.path, ledger.to_json())
    return (f"{path}: converted to schema {LEDGER_SCHEMA}; seeds {seed_ranges(list(ledger.seeds))} were measured by "
            f"{len(sources)} version(s) of the harness's source, and the next seed is measured by this one")


def run_seeds(config: RunConfig, fine_tune: Callable[[RunConfig], RunResult], wanted: list[int],
              ledger: SeedLedger | None, *, hub_offline: bool = False, label: str = "",
              progress: Callable[[str], None] | None = None) -> list[RunResult]:
    """``config`` fine-tuned on each seed of ``wanted``, in that order, resumably.

    Seeds already in ``ledger`` are taken from it and never trained again; each new one is added as
    it lands, so a recording killed after seed 17 continues from seed 18 when run again. A ledger
    that holds seeds is first checked against the identity this config's seeds would be recorded
    under (``hub_offline``: how to resolve its model and data), before anything trains or is taken.
    Baselines and fault measurements share this loop so both resume, and report progress, the same
    way: ``progress`` gets one line per seed with the time left at the pace of the seeds so far.
    """
    say = progress or (lambda line: None)
    if ledger is not None and (ledger.identity is not None or ledger.seeds):
        ledger.check_resumable(identity_before_training(config, hub_offline=hub_offline))
    done = [seed for seed in wanted if ledger is not None and seed in ledger]
    if done:
        say(f"resuming from {ledger.path}: seeds {seed_ranges(done)} already measured, {len(wanted) - len(done)} to go")
    fresh: dict[int, RunResult] = {}
    durations: list[float] = []
    for seed in wanted:
        if seed in done:
            continue
        started = time.monotonic()
        result = fine_tune(config.replace(seed=seed))
        if ledger is not None:
            ledger.add(config, result)
        fresh[seed] = result
        durations.append(time.monotonic() - started)
        left = len(wanted) - len(done) - len(fresh)
        eta = f"about {format_duration(statistics.fmean(durations) * left)} left" if left else "done"
        metrics = ", ".join(f"{name} {value:.4f}" for name, value in result.metrics.items())
        say(f"seed {seed}{label}: {metrics} ({format_duration(durations[-1])}); "
            f"{len(done) + len(fresh)}/{len(wanted)} seeds, {eta}")
    return [fresh[seed] if seed in fresh else ledger.results([seed])[0] for seed in wanted]


def format_duration(seconds: float) -> str:
    """``3725`` as ``1 h 02 min``: progress lines are read by people waiting for hours of seeds.

    >>> format_duration(3725), format_duration(125), format_duration(7)
    ('1 h 02 min', '2 min 05 s', '7 s')
    """
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def seed_ranges(seeds: list[int]) -> str:
    """Seeds as compact ranges, for progress lines.

    >>> seed_ranges([44, 42, 43, 50])
    '42-44, 50'
    """
    spans: list[list[int]] = []
    for seed in sorted(seeds):
        if spans and seed == spans[-1][1] + 1:
            spans[-1][1] = seed
        else:
            spans.append([seed, seed])
    return ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in spans)
