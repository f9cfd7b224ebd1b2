"""A disk cache of fine-tunes, keyed by everything that can change their result.

The key is the run's whole identity (:mod:`harness.run.run_identity`: config, task spec, world size,
device, the data's and the model's sha256, the versions of every library that touches the numbers
or the parsing, and the harness source that computes the numbers,
:data:`harness.run.provenance.NUMBER_SOURCES`): a change to any of it retrains; nothing else does. So a second
``pytest benchmarks`` with nothing changed reuses the fine-tune, and a code change is measured.

Several processes share one cache (pytest-xdist workers, two terminals, CI jobs on one runner), so
each entry is trained under an OS file lock (``<root>/locks/<entry>.lock``): the second process
waits and then reuses what the first stored. The kernel drops the lock when its holder dies, even
by ``kill -9``, so a crashed trainer never blocks the next one. An entry is complete only once its
``manifest.json`` (the sha256 of each of its files) is written, last and atomically; an entry
without one, or whose files no longer match it, is damaged and is retrained, never trusted.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from harness.checksums import sha256_file, sha256_files, sha256_json
from harness.run.config import RunConfig
from harness.files import atomic_write_json
from harness.run.provenance import git_commit, harness_source_sha256
from harness.run.result import PREDICTIONS_FILE, RESULT_FILE, ResultError, RunResult
from harness.run.run_identity import RunIdentity

log = logging.getLogger(__name__)

KEY_FILE = "key.json"
MANIFEST_FILE = "manifest.json"
MANIFEST_SCHEMA = 1
WORK_DIR = "work"  # the trainer's scratch folder inside the entry; present until the entry is complete
LOCKS_DIR = "locks"
STILL_WAITING_SECONDS = 300.0  # how often a process waiting on another's fine-tune says it still is


class DamagedEntry(Exception):
    """A cache entry that must not be trusted; the message says what is wrong with it."""


def cache_key(config: RunConfig, *, hub_offline: bool = False, data_fingerprint: dict | None = None) -> dict:
    """The data a run's cache entry is keyed by: its whole :class:`~harness.run.run_identity.RunIdentity`,
    kept readable so a miss can be explained.

    ``data_fingerprint``: the config's :meth:`DataSource.fingerprint`, when the caller already holds it.
    """
    return RunIdentity.from_config(config, hub_offline=hub_offline, data_fingerprint=data_fingerprint).cache_key()


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

    def lock_path(self, directory: Path) -> Path:
        """Beside the entries, not inside one: deleting a damaged entry must not delete its lock."""
        return self.root / LOCKS_DIR / f"{directory.name}.lock"

    def get_or_run(self, config: RunConfig, train: Callable[[RunConfig], RunResult]) -> RunResult:
        """The cached result for ``config``, or ``train(config)``'s, stored for next time.

        Checking and training happen under the entry's lock, so of several processes asking at
        once exactly one trains and the others reuse its result.
        """
        directory, key = self.entry(config)
        with self._locked(directory) as waited:
            try:
                stored = _stored_result(directory, key)
            except DamagedEntry as damage:
                log.warning("cached fine-tune %s is damaged (%s); retraining", directory.name, damage)
                stored = None
            if stored is not None:
                log.info("reusing cached fine-tune %s (%s)%s", directory.name, config.model_spec,
                         ", just trained by another process" if waited else "")
                return refreshed(stored, directory.name)
            return _train_into(directory, key, config, train)

    @contextmanager
    def _locked(self, directory: Path) -> Iterator[bool]:
        """Hold the entry's lock; yields whether another process held it first.

        filelock's ``FileLock`` is an ``flock`` (on Windows a ``msvcrt`` lock): the operating system
        releases it when its holder exits or is killed, so there is no stale lock to break, and no
        timeout: a fine-tune may rightly take hours, and a waiter says so every few minutes.
        """
        path = self.lock_path(directory)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(path)
        waited = False
        try:
            lock.acquire(blocking=False)
        except Timeout:
            waited = True
            log.info("waiting for another process training %s (lock %s)", directory.name, path)
            while True:
                try:
                    lock.acquire(timeout=STILL_WAITING_SECONDS)
                    break
                except Timeout:
                    log.info("still waiting for another process training %s (lock %s)", directory.name, path)
        try:
            yield waited
        finally:
            lock.release()


def _train_into(directory: Path, key: dict, config: RunConfig, train: Callable[[RunConfig], RunResult]) -> RunResult:
    """Train and store an entry, manifest last: until the manifest lands, a reader sees no entry."""
    shutil.rmtree(directory, ignore_errors=True)  # a damaged entry, or what a killed trainer left
    work = directory / WORK_DIR
    work.mkdir(parents=True, exist_ok=True)
    result = train(config.replace(output_dir=work))
    result.save(directory)
    atomic_write_json(directory / KEY_FILE, key)
    _write_manifest(directory)
    shutil.rmtree(work, ignore_errors=True)
    return result


def _write_manifest(directory: Path) -> None:
    files = sha256_files(directory / name for name in (RESULT_FILE, PREDICTIONS_FILE, KEY_FILE))
    atomic_write_json(directory / MANIFEST_FILE, {"schema": MANIFEST_SCHEMA, "files": files})


def _stored_result(directory: Path, key: dict) -> RunResult | None:
    """The entry's result; None when there is no entry. Raises DamagedEntry rather than trust it."""
    if not directory.exists():
        return None
    if (directory / MANIFEST_FILE).is_file():
        _verify_manifest(directory)
        return _load(directory)
    return _adopt_unverified(directory, key)


def _verify_manifest(directory: Path) -> None:
    try:
        manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DamagedEntry(f"{MANIFEST_FILE} is unreadable: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("schema") != MANIFEST_SCHEMA:
        raise DamagedEntry(f"{MANIFEST_FILE} is not a schema-{MANIFEST_SCHEMA} manifest")
    files = manifest.get("files")
    if not isinstance(files, dict) or not {RESULT_FILE, PREDICTIONS_FILE} <= files.keys():
        raise DamagedEntry(f"{MANIFEST_FILE} does not list the checksums of {RESULT_FILE} and {PREDICTIONS_FILE}")
    for name, recorded in sorted(files.items()):
        if Path(name).name != name:
            raise DamagedEntry(f"{MANIFEST_FILE} names {name!r}, which is not a file of the entry")
        path = directory / name
        if not path.is_file():
            raise DamagedEntry(f"{name} is missing")
        found = sha256_file(path)
        if found != recorded:
            raise DamagedEntry(f"{name} does not match its sha256 in {MANIFEST_FILE}: "
                               f"recorded {str(recorded)[:12]}..., found {found[:12]}...")


def _adopt_unverified(directory: Path, key: dict) -> RunResult:
    """An entry without a manifest: one an older harness wrote (result, predictions and key, no
    checksums), accepted if it loads cleanly and given a manifest now; or one whose writer stopped
    before finishing, recognisable by the scratch folder or the key it never got to write."""
    if (directory / WORK_DIR).exists():
        raise DamagedEntry(f"no {MANIFEST_FILE} and the trainer's {WORK_DIR}/ folder is still there: "
                           "the process writing it stopped before finishing")
    result = _load(directory)
    try:
        stored_key = json.loads((directory / KEY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DamagedEntry(f"no {MANIFEST_FILE} and {KEY_FILE} is missing or unreadable: "
                           "the process writing it stopped before finishing") from error
    if stored_key != json.loads(json.dumps(key, default=str)):
        raise DamagedEntry(f"no {MANIFEST_FILE} and {KEY_FILE} holds another run's key")
    _write_manifest(directory)
    log.info("cached fine-tune %s was stored by an older harness without checksums; it loads cleanly, "
             "so it is kept and its checksums are now recorded in %s", directory.name, MANIFEST_FILE)
    return result


def _load(directory: Path) -> RunResult:
    try:
        return RunResult.load(directory)
    except ResultError as error:
        raise DamagedEntry(str(error)) from error
