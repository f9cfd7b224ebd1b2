"""Resumable baseline recording: every finished seed is kept, a rerun measures only what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fake_runs import FakeFineTune, run_result, smoke_run_config
from harness import files
from harness.quality.baselines import BaselineError
from harness.quality.regression import record_baseline
from harness.quality.seed_ledger import SeedLedger


class KilledAt(FakeFineTune):
    """Dies (as from Ctrl-C or kill) when asked for one seed."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.kill_seed = seed

    def __call__(self, config):
        if config.seed == self.kill_seed:
            raise KeyboardInterrupt
        return super().__call__(config)


@pytest.fixture
def ledger_path(tmp_path):
    return tmp_path / "baselines" / "x.partial.json"


def test_a_killed_recording_resumes_where_it_stopped(ledger_path):
    config = smoke_run_config(seed=42)
    with pytest.raises(KeyboardInterrupt):
        record_baseline(config, KilledAt(45), seeds=6, ledger=SeedLedger.open(ledger_path))
    assert sorted(SeedLedger.open(ledger_path).seeds) == [42, 43, 44]
    lines: list[str] = []
    fine_tune = FakeFineTune()
    resumed = record_baseline(config, fine_tune, seeds=6, ledger=SeedLedger.open(ledger_path), progress=lines.append)
    assert fine_tune.seeds == [45, 46, 47]  # nothing measured twice
    straight = record_baseline(config, FakeFineTune(), seeds=6)
    assert resumed.seeds == straight.seeds == (42, 43, 44, 45, 46, 47)
    assert resumed.metrics == straight.metrics  # nothing lost
    assert lines[0].startswith(f"resuming from {ledger_path}: seeds 42-44 already measured, 3 to go")
    assert lines[1].startswith("seed 45: accuracy") and "4/6 seeds, about" in lines[1] and lines[1].endswith("left")
    assert lines[-1].endswith("6/6 seeds, done")


def test_a_seed_of_another_identity_is_refused(ledger_path):
    config = smoke_run_config(seed=42)
    ledger = SeedLedger.open(ledger_path)
    ledger.add(config, run_result(config))
    with pytest.raises(BaselineError, match=r"seeds \[42\] were measured under another identity \(data_sha256 differ\)"):
        ledger.add(config, run_result(config.replace(seed=43), data_sha256="e" * 64))
    assert sorted(SeedLedger.open(ledger_path).seeds) == [42]


def test_a_damaged_ledger_says_how_to_recover(ledger_path):
    ledger_path.parent.mkdir(parents=True)
    ledger_path.write_text('{"schema": 1, "kind": "seed-ledger", "seeds": [{"se')
    with pytest.raises(BaselineError, match="delete it to record every seed again"):
        SeedLedger.open(ledger_path)


def test_a_write_that_dies_leaves_the_previous_ledger_whole(ledger_path, monkeypatch):
    config = smoke_run_config(seed=42)
    ledger = SeedLedger.open(ledger_path)
    ledger.add(config, run_result(config))
    before = ledger_path.read_bytes()

    def dies(*args):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", dies)
    with pytest.raises(OSError):
        ledger.add(config, run_result(config.replace(seed=43)))
    assert ledger_path.read_bytes() == before
    assert sorted(json.loads(before)["seeds"][i]["seed"] for i in range(1)) == [42]
    assert [p.name for p in ledger_path.parent.iterdir()] == [ledger_path.name]


REPO_PARTIALS = sorted((Path(__file__).resolve().parents[2] / "baselines").glob("mrpc--*.partial.json"))
LEDGER_KEYS = ["task", "recipe", "model", "weights_sha256", "architecture_sha256", "definition_sha256", "data_sha256",
               "precision", "device_kind", "versions"]


def test_an_mrpc_ledger_keeps_the_identity_it_always_had():
    """A recording in progress resumes only if its identity is unchanged: MRPC is still just "mrpc"."""
    from harness.quality.seed_ledger import ledger_identity

    identity = ledger_identity(smoke_run_config(), run_result())
    assert list(identity) == LEDGER_KEYS and identity["task"] == "mrpc"


def test_a_task_of_ones_own_carries_its_spec_in_the_ledger():
    from harness.quality.seed_ledger import ledger_identity
    from harness.tasks import TaskSpec

    reviews = TaskSpec(name="reviews", text_columns=("text",), num_labels=2, label_names=("bad", "good"), metrics=("accuracy",))
    identity = ledger_identity(smoke_run_config(task=reviews), run_result())
    assert identity["task"] == "reviews" and identity["task_spec"] == reviews.to_dict()


@pytest.mark.parametrize("partial", REPO_PARTIALS or [None], ids=lambda path: path.name if path else "none")
def test_the_mrpc_recordings_in_progress_would_resume(partial):
    """Each committed partial recording's identity is what this harness computes for its seeds, so
    the same record-baseline command continues it instead of refusing its seeds."""
    if partial is None:
        pytest.skip("no recording in progress in baselines/")
    from harness.config import RunConfig
    from harness.quality.seed_ledger import ledger_identity

    ledger = SeedLedger.open(partial)
    seed = min(ledger.seeds)
    config = RunConfig.from_recipe(ledger.identity["recipe"]["name"], device="cpu", seed=seed,
                                   precision=ledger.identity["precision"])
    computed = json.loads(json.dumps(ledger_identity(config, ledger.results([seed])[0]), default=str))
    assert computed == ledger.identity


def test_a_killed_recorder_never_blocks_the_next_recording(ledger_path):
    """The ledger's lock is an OS lock: ``kill -9`` of its holder releases it, so no stale lock to break."""
    import subprocess
    import sys

    ledger_path.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom harness.quality.seed_ledger import SeedLedger\n"
         f"with SeedLedger.recording({str(ledger_path)!r}):\n    print('holding', flush=True)\n    sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(BaselineError, match="another process is recording this baseline"):
            with SeedLedger.recording(ledger_path):
                pass
    finally:
        holder.kill()
        holder.wait()
    with SeedLedger.recording(ledger_path) as ledger:
        assert ledger.seeds == {}
