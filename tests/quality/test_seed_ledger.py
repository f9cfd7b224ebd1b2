"""Resumable baseline recording: every finished seed is kept, a rerun measures only what is missing."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from fake_runs import FakeFineTune, run_result, smoke_run_config
from harness import files
from harness.quality.baselines import BaselineError
from harness.quality import seed_ledger
from harness.quality.regression import record_baseline
from harness.quality.seed_ledger import SeedLedger, identity_before_training, ledger_identity


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
    monkeypatch.setattr(seed_ledger, "identity_before_training",
                        lambda config, *, hub_offline=False: seed_ledger.ledger_identity(config.identity(), run_result(config).provenance))


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
    recorded = smoke_result.provenance
    assert identity_before_training(smoke_config, hub_offline=True) == ledger_identity(smoke_config.identity(), recorded)
    assert ledger_identity(smoke_result.config.to_dict(), recorded) == ledger_identity(smoke_config.identity(), recorded)


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


def with_source(result, source: str):
    """``result`` as if the harness whose source hashes to ``source`` had measured it."""
    return dataclasses.replace(result, provenance={**result.provenance, "harness_source_sha256": source})


def test_a_code_edit_mid_recording_is_refused_naming_it(ledger_path, monkeypatch):
    """Issue 20 (a): seeds 42-44 measured, the harness's source edited, the same command resumed: the
    edit is in the ledger's identity, so the recording stops before anything trains, and says how on."""
    config = smoke_run_config(seed=42)
    ledger = SeedLedger.open(ledger_path)
    for seed in (42, 43, 44):
        ledger.add(config, with_source(run_result(config.replace(seed=seed)), "a" * 64))
    monkeypatch.setattr(seed_ledger, "identity_before_training", lambda config, *, hub_offline=False:
                        ledger_identity(config.identity(), with_source(run_result(config), "b" * 64).provenance))
    fine_tune = FakeFineTune()
    with pytest.raises(BaselineError, match=r"harness_source_sha256: 'a{64}' in the ledger, 'b{64}' now.*finish the "
                                            r"recording with the code that measured them, or delete .* to start over"):
        record_baseline(config, fine_tune, seeds=6, ledger=SeedLedger.open(ledger_path))
    assert fine_tune.seeds == []


def test_a_ledger_identity_is_the_run_identity_but_the_seed():
    """Everything the run identity holds is shared by a ledger's seeds (the harness's source and every
    library's version too), except the seed, and the device asked for ("auto"), which is its kind."""
    identity = ledger_identity(smoke_run_config().identity(), with_source(run_result(), "c" * 64).provenance)
    assert identity["task"] == "mrpc" and identity["recipe"]["name"] == "smoke"
    assert identity["harness_source_sha256"] == "c" * 64 and identity["world_size"] == 1
    assert {"pandas", "pyarrow", "safetensors", "scipy", "torch"} <= set(identity["versions"])
    assert "seed" not in identity and "device" not in identity and identity["device_kind"] == "cpu"
    assert identity == ledger_identity(smoke_run_config(seed=7).replace(device="auto").identity(),
                                       with_source(run_result(smoke_run_config(seed=7)), "c" * 64).provenance)


def test_a_task_of_ones_own_carries_its_spec_in_the_ledger():
    from harness.tasks import TaskSpec

    reviews = TaskSpec(name="reviews", text_columns=("text",), num_labels=2, label_names=("bad", "good"), metrics=("accuracy",))
    identity = ledger_identity(smoke_run_config(task=reviews).identity(), run_result().provenance)
    assert identity["task"] == "reviews" and identity["task_spec"] == reviews.to_dict()


@pytest.mark.parametrize("partial", REPO_PARTIALS or [None], ids=lambda path: path.name if path else "none")
def test_the_committed_ledgers_convert_and_then_resume(partial, tmp_path):
    """The committed ledgers were written before the harness's source was in a ledger's identity (and
    their seeds were measured by several versions of it): they are not resumed as they are, the refusal
    names the one command that converts them, and a converted copy resumes under this harness, each
    held seed's own record checked against the parts its identity held."""
    if partial is None:
        pytest.skip("no recording in progress in baselines/")
    from harness.run.config import RunConfig

    copy = Path(shutil.copy(partial, tmp_path / partial.name))
    if SeedLedger.open(copy).schema == seed_ledger.LEGACY_SCHEMA:
        with pytest.raises(BaselineError, match=f"harness convert-ledger {copy}"):
            SeedLedger.open(copy).check_resumable({})
        said = seed_ledger.convert_legacy_ledger(copy)
        assert said.startswith(f"{copy}: converted to schema {seed_ledger.LEDGER_SCHEMA}")
    ledger = SeedLedger.open(copy)
    seed = min(ledger.seeds)
    config = RunConfig.from_recipe(ledger.identity["recipe"]["name"], device="cpu", seed=seed,
                                   precision=ledger.identity["precision"], faults=tuple(ledger.identity.get("faults", ())))
    # Today's recipe, task and faults with the seed's provenance; the code and libraries are the ledger's
    # (right after a conversion, this harness's: whether they still are later is the checkout's business).
    now = {**ledger.seeds[seed]["provenance"], "harness_source_sha256": ledger.identity["harness_source_sha256"],
           "versions": ledger.identity["versions"]}
    assert ledger_identity(config.identity(), now) == ledger.identity
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


def test_a_ledger_written_by_an_older_harness_converts_with_one_command(ledger_path, capsys):
    """A schema-1 ledger whose seeds two versions of the code measured: refused as it is, converted by
    `harness convert-ledger`, then resumed by this harness; seeds of two recipes cannot be converted."""
    from harness.cli import main
    from harness.run.provenance import harness_source_sha256, library_versions

    config = smoke_run_config()
    records = [{"seed": seed, "config": result.config.to_dict(), "metrics": result.metrics,
                "throughput": dataclasses.asdict(result.throughput), "provenance": result.provenance}
               for seed, result in ((seed, with_source(run_result(config.replace(seed=seed)), source))
                                    for seed, source in ((42, "a" * 64), (43, "b" * 64)))]
    ledger_path.parent.mkdir(parents=True)
    ledger_path.write_text(json.dumps({"schema": 1, "kind": "seed-ledger", "identity": {"task": "mrpc"}, "seeds": records}))
    with pytest.raises(BaselineError, match="convert-ledger"):
        SeedLedger.open(ledger_path).check_resumable({"task": "mrpc"})
    assert main(["convert-ledger", str(ledger_path)]) == 0
    assert "converted to schema 2; seeds 42-43 were measured by 2 version(s) of the harness's source" in capsys.readouterr().out
    ledger = SeedLedger.open(ledger_path)
    versions = {**library_versions(), **{name: run_result().provenance["versions"].get(name) for name in seed_ledger.LEGACY_VERSIONS}}
    now = {**run_result(config).provenance, "versions": versions, "harness_source_sha256": harness_source_sha256()}
    ledger.check_resumable(ledger_identity(config.identity(), now))
    assert ledger.converted == {"from_schema": 1, "seeds": [42, 43], "harness_source_sha256": ["a" * 64, "b" * 64]}

    other = other_learning_rate(config)
    records[1] |= {"config": other.replace(seed=43).to_dict()}
    ledger_path.write_text(json.dumps({"schema": 1, "kind": "seed-ledger", "identity": {"task": "mrpc"}, "seeds": records}))
    assert main(["convert-ledger", str(ledger_path)]) == 2
    assert "seeds 42 and 43 were not measured under one identity (recipe.learning_rate" in capsys.readouterr().err
