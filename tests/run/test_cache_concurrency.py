"""The fine-tune cache shared by several processes, and killed half-way: real child processes, a
real ``kill -9``.

Each child runs ``RunCache.get_or_run`` on the smoke config, as a pytest-xdist worker does, with a
training function that appends the child's name to a marker file (so the test counts trainings)
and, depending on its mode, stops somewhere to be killed. Nothing here sleeps and hopes: a child
says where it is with a signal file or a log line, and the test polls for that with a generous
deadline, failing with the child's stderr if it never comes. Every path is under ``tmp_path``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from filelock import FileLock, Timeout

from fake_runs import smoke_run_config
from harness.run.cache import KEY_FILE, MANIFEST_FILE, WORK_DIR, RunCache
from harness.run.config import RunConfig
from harness.run.result import PREDICTIONS_FILE, RESULT_FILE, RunResult
from run.test_cache import PINNED_SOURCE_SHA256, CountingTrain

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="kill -9 and fcntl locks are POSIX")

DEADLINE_SECONDS = 300.0  # a busy two-core machine imports torch slowly; no test waits this long when it passes
WAITING = "waiting for another process training"
T = TypeVar("T")

CHILD = r'''
"""One process asking the run cache for the smoke fine-tune. argv: tests dir, cache root,
signal folder, this child's name, mode, deadline in seconds, the pinned source hash.

Modes: fake (train returns a hand-built result), smoke (train really fine-tunes the smoke model,
once the test writes "go"), and three that stop until killed: hang-training (in train, after
writing a checkpoint), hang-in-rename (inside the atomic write of predictions.npz, before its
rename), hang-before-manifest (every file of the entry written but the manifest)."""
import hashlib
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path

tests_dir, cache_root, signals, name, mode, deadline, source_sha256 = sys.argv[1:8]
sys.path.insert(0, tests_dir)
signals, deadline = Path(signals), float(deadline)

import harness.run.cache
import harness.run.result
from fake_runs import run_result, smoke_run_config
from harness.run.cache import RunCache

harness.run.cache.harness_source_sha256 = lambda: source_sha256
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


def signal(what):
    (signals / f"{name}.{what}").write_text(str(os.getpid()))


def hang():
    threading.Event().wait(deadline)  # until the test kills this process
    sys.exit(f"{name}: still alive after {deadline:g}s; the test should have killed it")


def wait_for_go():
    start = time.monotonic()
    while not (signals / "go").exists():
        if time.monotonic() - start > deadline:
            sys.exit(f"{name}: no go from the test after {deadline:g}s")
        time.sleep(0.05)


def train(config):
    with open(signals / "trainings", "a") as trainings:
        trainings.write(name + "\n")
    if mode == "hang-training":
        checkpoint = config.output_dir / "checkpoint-1"
        checkpoint.mkdir(parents=True)
        (checkpoint / "model.safetensors").write_bytes(b"half a checkpoint")
        signal("training")
        hang()
    if mode == "smoke":
        signal("training")
        wait_for_go()
        from harness.run.training import fine_tune
        return fine_tune(config, hub_offline=True, show_progress=False)
    return run_result(config)


if mode == "hang-in-rename":
    # Inside the atomic write of predictions.npz: its bytes are in a temp file, not yet renamed.
    atomic_write_bytes = harness.run.result.atomic_write_bytes

    def write_until_the_rename(path, data):
        def hang_instead(source, target):
            signal("writing")
            hang()
        os.replace = hang_instead
        return atomic_write_bytes(path, data)

    harness.run.result.atomic_write_bytes = write_until_the_rename
elif mode == "hang-before-manifest":
    # Every file of the entry written whole, all but the manifest.
    def hang_instead(directory):
        signal("writing")
        hang()

    harness.run.cache._write_manifest = hang_instead

cache = RunCache(Path(cache_root), hub_offline=True)
config = smoke_run_config(data_dir=Path(tests_dir) / "data" / "mrpc-smoke")
result = cache.get_or_run(config, train)
print(json.dumps({
    "entry": cache.entry(config)[0].name,
    "metrics": result.metrics,
    "logits_sha256": hashlib.sha256(result.logits.tobytes()).hexdigest(),
    "labels_sha256": hashlib.sha256(result.labels.tobytes()).hexdigest(),
    "created": result.provenance["created"],
    "cached": result.provenance.get("cached"),
}))
'''


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    stdout: Path
    stderr: Path

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")

    def kill(self) -> None:
        """``kill -9``: no handler, no ``finally``, no atexit runs in the child."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=DEADLINE_SECONDS)
        assert self.process.returncode == -signal.SIGKILL

    def output(self) -> dict:
        returncode = self.process.wait(timeout=DEADLINE_SECONDS)
        assert returncode == 0, f"child {self.name} exited with {returncode}:\n{self.log()}"
        return json.loads(self.stdout.read_text().splitlines()[-1])


class Children:
    """The child processes of one test, started on a cache under its ``tmp_path``."""

    def __init__(self, tmp_path: Path, tests_dir: Path) -> None:
        self.tmp_path = tmp_path
        self.tests_dir = tests_dir
        self.script = tmp_path / "child.py"
        self.script.write_text(CHILD)
        self.signals = tmp_path / "signals"
        self.signals.mkdir()
        self.cache = RunCache(tmp_path / "cache", hub_offline=True)
        self.started: list[Child] = []

    def start(self, name: str, mode: str) -> Child:
        stdout, stderr = self.tmp_path / f"{name}.out", self.tmp_path / f"{name}.err"
        env = os.environ | {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        argv = [sys.executable, str(self.script), str(self.tests_dir), str(self.cache.root), str(self.signals), name, mode,
                str(DEADLINE_SECONDS), PINNED_SOURCE_SHA256]
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            process = subprocess.Popen(argv, stdout=out, stderr=err, cwd=self.tmp_path, env=env)
        child = Child(name, process, stdout, stderr)
        self.started.append(child)
        return child

    def signalled(self, child: Child, what: str) -> bool:
        return (self.signals / f"{child.name}.{what}").exists()

    def trainings(self) -> list[str]:
        marker = self.signals / "trainings"
        return marker.read_text().split() if marker.exists() else []

    def wait_until(self, condition: Callable[[], T], what: str) -> T:
        """Poll until ``condition()`` is truthy; fail if a child dies first or the deadline passes."""
        start = time.monotonic()
        while not (value := condition()):
            for child in self.started:
                if child.process.poll() is not None and child.process.returncode != -signal.SIGKILL:
                    pytest.fail(f"waiting for {what}, child {child.name} exited with {child.process.returncode}:\n{child.log()}")
            if time.monotonic() - start > DEADLINE_SECONDS:
                logs = "\n".join(f"--- {c.name}\n{c.log()}" for c in self.started)
                pytest.fail(f"no {what} after {DEADLINE_SECONDS:g}s\n{logs}")
            time.sleep(0.05)
        return value

    def close(self) -> None:
        for child in self.started:
            if child.process.poll() is None:
                child.process.kill()
                child.process.wait(timeout=DEADLINE_SECONDS)


@pytest.fixture(autouse=True)
def pinned_source_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Here and in every child: an edit to the harness mid-test must not split the processes' keys."""
    monkeypatch.setattr("harness.run.cache.harness_source_sha256", lambda: PINNED_SOURCE_SHA256)


@pytest.fixture
def children(tmp_path: Path, smoke_dir: Path) -> Iterator[Children]:
    started = Children(tmp_path, smoke_dir.parent.parent)
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
def config(smoke_dir: Path) -> RunConfig:
    """The config every child asks for."""
    return smoke_run_config(data_dir=smoke_dir)


def lock_is_held(path: Path) -> bool:
    lock = FileLock(path)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        return True
    lock.release()
    return False


def files_in(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


def test_two_processes_asking_at_once_train_once_and_share_the_result(children):
    """Two xdist workers needing the same fine-tune: one trains (the smoke model, for real), the
    other waits on the entry's lock, then reuses the stored result instead of training again."""
    a, b = children.start("a", "smoke"), children.start("b", "smoke")

    def one_trains_and_the_other_waits() -> tuple[Child, Child] | None:
        if children.signalled(a, "training") and children.signalled(b, "training"):
            pytest.fail(f"both children are training the same config:\n{a.log()}\n{b.log()}")
        for trainer, waiter in ((a, b), (b, a)):
            if children.signalled(trainer, "training") and WAITING in waiter.log():
                return trainer, waiter
        return None

    trainer, waiter = children.wait_until(one_trains_and_the_other_waits, "one child training while the other waits")
    (children.signals / "go").write_text("")
    trained, reused = trainer.output(), waiter.output()
    assert children.trainings() == [trainer.name]
    assert f"{WAITING} {trained['entry']}" in waiter.log()
    assert f"reusing cached fine-tune {trained['entry']}" in waiter.log()
    assert "just trained by another process" in waiter.log()
    assert reused["metrics"] == trained["metrics"]
    assert reused["logits_sha256"] == trained["logits_sha256"] and reused["labels_sha256"] == trained["labels_sha256"]
    assert reused["cached"]["trained"] == trained["created"]
    assert trained["cached"] is None


def test_a_trainer_killed_mid_training_frees_the_lock_and_the_waiter_retrains(children, config):
    """A stale lock must not block forever: the kernel drops an flock when its holder dies."""
    directory = children.cache.entry(config)[0]
    lock = children.cache.lock_path(directory)
    a = children.start("a", "hang-training")
    children.wait_until(lambda: children.signalled(a, "training"), "child a training")
    assert lock_is_held(lock)
    assert files_in(directory) == [WORK_DIR, f"{WORK_DIR}/checkpoint-1", f"{WORK_DIR}/checkpoint-1/model.safetensors"]
    b = children.start("b", "fake")
    children.wait_until(lambda: WAITING in b.log(), "child b waiting on a's lock")
    a.kill()
    retrained = b.output()
    assert children.trainings() == ["a", "b"]
    assert (f"cached fine-tune {directory.name} is damaged (no {MANIFEST_FILE} and the trainer's {WORK_DIR}/ folder is "
            "still there: the process writing it stopped before finishing); retraining") in b.log()
    assert not lock_is_held(lock)
    assert files_in(directory) == [KEY_FILE, MANIFEST_FILE, PREDICTIONS_FILE, RESULT_FILE]
    train = CountingTrain()
    assert children.cache.get_or_run(config, train).metrics == retrained["metrics"]
    assert train.calls == 0


@pytest.mark.parametrize(
    ("mode", "left_behind"),
    [
        # The kill lands inside an atomic write: the new bytes sit in a temp file, never renamed.
        ("hang-in-rename", lambda names: len(names) == 2 and WORK_DIR in names
         and any(n.startswith(f".{PREDICTIONS_FILE}.") and n.endswith(".tmp") for n in names)),
        # The kill lands after every file but the manifest: each file is whole and loads cleanly.
        ("hang-before-manifest", lambda names: names == [KEY_FILE, PREDICTIONS_FILE, RESULT_FILE, WORK_DIR]),
    ],
    ids=["in-an-atomic-write", "before-the-manifest"],
)
def test_a_writer_killed_mid_write_leaves_nothing_that_is_trusted(children, config, mode, left_behind, caplog):
    directory = children.cache.entry(config)[0]
    lock = children.cache.lock_path(directory)
    a = children.start("a", mode)
    children.wait_until(lambda: children.signalled(a, "writing"), "child a writing the entry")
    assert lock_is_held(lock)
    a.kill()
    assert not lock_is_held(lock)
    names = sorted(p.name for p in directory.iterdir())
    assert left_behind(names), names
    if RESULT_FILE in names:
        RunResult.load(directory)  # whole, yet not trusted: nothing vouches that the writer finished
    train = CountingTrain()
    with caplog.at_level(logging.INFO, logger="harness.run.cache"):
        children.cache.get_or_run(config, train)
    assert train.calls == 1
    assert f"cached fine-tune {directory.name} is damaged (" in caplog.text
    assert "the process writing it stopped before finishing); retraining" in caplog.text
    assert files_in(directory) == [KEY_FILE, MANIFEST_FILE, PREDICTIONS_FILE, RESULT_FILE]  # the temp file is gone too
    children.cache.get_or_run(config, train)
    assert train.calls == 1
