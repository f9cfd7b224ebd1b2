"""Resumable baseline recording: every finished seed is kept, a rerun measures only what is missing."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from fake_runs import FakeFineTune, run_result, smoke_run_config
from harness import files
from harness.quality.baselines import BaselineError
from harness.quality import seed_ledger
from harness.quality.regression import record_baseline
from harness.quality.seed_ledger import SeedLedger, ledger_identity, provenance_before_training


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


@pytest.fixture
def fake_provenance(monkeypatch):
    """Before training, a config's seeds would be recorded with the fakes' provenance (no model or data to read)."""
    monkeypatch.setattr(seed_ledger, "provenance_before_training", lambda config, *, hub_offline=False: run_result(config).provenance)


def other_learning_rate(config, learning_rate: float = 3e-5):
    return config.replace(recipe=dataclasses.replace(config.recipe, learning_rate=learning_rate))


def test_a_killed_recording_resumes_where_it_stopped(ledger_path, fake_provenance):
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
    with pytest.raises(BaselineError, match=r"seeds 42 were measured under another identity \(data_sha256: 'd+' in the ledger, 'e+' now\)"):
        ledger.add(config, run_result(config.replace(seed=43), data_sha256="e" * 64))
    assert sorted(SeedLedger.open(ledger_path).seeds) == [42]


@pytest.mark.parametrize("seeds", [2, 3], ids=["every seed held", "one seed to train"])
def test_a_ledger_of_other_settings_is_refused_before_a_seed_is_trained_or_taken(ledger_path, fake_provenance, seeds):
    """Killed after seeds 42-43 at lr 1e-3, then run at lr 3e-5: with every seed held it wrote a baseline
    labelled 3e-5 with 1e-3's numbers; with one to train it refused only after that fine-tune."""
    config = smoke_run_config(seed=42)
    with pytest.raises(KeyboardInterrupt):
        record_baseline(config, KilledAt(44), seeds=3, ledger=SeedLedger.open(ledger_path))
    before = ledger_path.read_bytes()
    fine_tune = FakeFineTune()
    with pytest.raises(BaselineError) as refusal:
        record_baseline(other_learning_rate(config), fine_tune, seeds=seeds, ledger=SeedLedger.open(ledger_path))
    message = str(refusal.value)
    assert message.startswith(f"{ledger_path}: seeds 42-43 were measured under another identity")
    assert "recipe.learning_rate: 0.001 in the ledger, 3e-05 now" in message
    assert f"Restore the settings they were measured with, or delete {ledger_path}" in message
    assert fine_tune.seeds == []
    assert ledger_path.read_bytes() == before


def test_a_seed_whose_own_record_is_of_another_recipe_is_refused(ledger_path, fake_provenance):
    """A hand-merged ledger: its identity is today's, but seed 43 was run at another learning rate."""
    config = smoke_run_config(seed=42)
    SeedLedger.open(ledger_path).add(config, run_result(config))
    changed = other_learning_rate(config, 5e-4)
    other = SeedLedger.open(ledger_path.with_name("other.partial.json"))
    other.add(changed, run_result(changed.replace(seed=43)))
    merged = json.loads(ledger_path.read_text())
    merged["seeds"].append(other.seeds[43])
    ledger_path.write_text(json.dumps(merged))
    fine_tune = FakeFineTune()
    with pytest.raises(BaselineError, match=r"seed 43 was not measured under the ledger's identity \(recipe.learning_rate: "
                                            r"0.001 in the ledger's identity, 0.0005 in seed 43's record\)"):
        record_baseline(config, fine_tune, seeds=2, ledger=SeedLedger.open(ledger_path))
    assert fine_tune.seeds == []


def test_the_identity_before_training_is_the_one_a_real_fine_tune_records(smoke_config, smoke_result):
    """A ledger is checked before training against the identity its seeds would be recorded under:
    the parts read without training must be, key for key, what a real fine-tune's result carries."""
    before = provenance_before_training(smoke_config, hub_offline=True)
    recorded = smoke_result.provenance
    assert before["model"] == recorded["model"]
    assert before["data"]["sha256"] == recorded["data"]["sha256"]
    assert before["versions"] == recorded["versions"]
    assert before["device"]["device"] == recorded["device"]["device"]
    assert ledger_identity(smoke_config.identity(), before) == ledger_identity(smoke_config.identity(), recorded)
    assert ledger_identity(smoke_result.config, recorded) == ledger_identity(smoke_config.identity(), recorded)


def test_a_kept_ledger_names_the_flags_that_record_every_seed_it_holds(ledger_path):
    """Seeds 100-102 held, a baseline of 101-102 written: ``--seeds 3`` from --seed 101 would record 101-103."""
    config = smoke_run_config(seed=100)
    ledger = SeedLedger.open(ledger_path)
    for seed in (100, 101, 102):
        ledger.add(config, run_result(config.replace(seed=seed)))
    kept = ledger.finish([101, 102])
    assert "it holds seeds 100, which this baseline (seeds 101-102) does not" in kept
    assert "(e.g. --seed 100 --seeds 3)" in kept
    assert ledger_path.is_file()


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


REPO_BASELINES = Path(__file__).resolve().parents[2] / "baselines"
# Recordings in progress, and fault measurements (resumed by measure-fault like a recording).
REPO_PARTIALS = sorted([*REPO_BASELINES.glob("mrpc--*.partial.json"), *REPO_BASELINES.glob("faults/mrpc--*.json")])
LEDGER_KEYS = ["task", "recipe", "model", "weights_sha256", "architecture_sha256", "definition_sha256", "data_sha256",
               "precision", "device_kind", "versions"]


def test_an_mrpc_ledger_keeps_the_identity_it_always_had():
    """A recording in progress resumes only if its identity is unchanged: MRPC is still just "mrpc"."""
    from harness.quality.seed_ledger import ledger_identity

    identity = ledger_identity(smoke_run_config().identity(), run_result().provenance)
    assert list(identity) == LEDGER_KEYS and identity["task"] == "mrpc"


def test_a_task_of_ones_own_carries_its_spec_in_the_ledger():
    from harness.quality.seed_ledger import ledger_identity
    from harness.tasks import TaskSpec

    reviews = TaskSpec(name="reviews", text_columns=("text",), num_labels=2, label_names=("bad", "good"), metrics=("accuracy",))
    identity = ledger_identity(smoke_run_config(task=reviews).identity(), run_result().provenance)
    assert identity["task"] == "reviews" and identity["task_spec"] == reviews.to_dict()


@pytest.mark.parametrize("partial", REPO_PARTIALS or [None], ids=lambda path: path.name if path else "none")
def test_the_mrpc_recordings_in_progress_would_resume(partial):
    """Each committed partial recording's identity is what this harness computes for its seeds (today's
    recipe, task and faults with the provenance they were measured with), and each seed's own record
    belongs to it, so the same command continues it instead of refusing its seeds. (Whether this
    machine's libraries still match the ledger's versions is the environment's, not the harness's.)"""
    if partial is None:
        pytest.skip("no recording in progress in baselines/")
    from harness.config import RunConfig

    ledger = SeedLedger.open(partial)
    seed = min(ledger.seeds)
    config = RunConfig.from_recipe(ledger.identity["recipe"]["name"], device="cpu", seed=seed,
                                   precision=ledger.identity["precision"], faults=tuple(ledger.identity.get("faults", ())))
    assert ledger_identity(config.identity(), ledger.seeds[seed]["provenance"]) == ledger.identity
    ledger.check_resumable(ledger.identity)  # every held seed's own record


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
