"""``harness record-baseline``: the way to record a baseline outside pytest.

It reads fine-tunes through the shared ``smoke_cache``, so the seeds it records are not retrained.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from fake_runs import no_settings
from harness.run.cache import RunCache
from harness.cli import main
from harness.run.config import RunConfig
from harness.quality.seed_ledger import SeedLedger
from harness.settings import Settings

pytest_plugins = ["smoke_cache"]

BASELINE_NAME = "mrpc--smoke--arch-bert-tiny--validation--cpu-fp32"


def record(smoke_dir: Path, baselines: Path, cache: Path) -> int:
    argv = [
        "record-baseline", "--recipe", "smoke", "--seeds", "2", "--data-dir", str(smoke_dir),
        "--device", "cpu", "--baselines-dir", str(baselines), "--quiet",
    ]  # fmt: skip
    return main(argv, settings=Settings(cache_dir=cache, hub_offline=True))


def test_record_baseline_writes_the_file_and_prints_the_diff(smoke_cache, smoke_dir, tmp_path, capsys):
    baselines = tmp_path / "baselines"
    assert record(smoke_dir, baselines, smoke_cache) == 0
    out = capsys.readouterr().out
    path = baselines / f"{BASELINE_NAME}.json"
    data = json.loads(path.read_text())
    assert data["kind"] == "measured" and data["seeds"] == [42, 43] and data["recipe"] == "smoke"
    assert "| metric" in out and "old baseline" in out and "new baseline" in out
    assert f"wrote {path}" in out


def test_re_recording_shows_the_old_values(smoke_cache, smoke_dir, tmp_path, capsys):
    """The diff against the committed file is what a reviewer reads before accepting a new baseline."""
    baselines = tmp_path / "baselines"
    record(smoke_dir, baselines, smoke_cache)
    capsys.readouterr()
    assert record(smoke_dir, baselines, smoke_cache) == 0
    accuracy_row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| accuracy"))
    cells = [cell.strip() for cell in accuracy_row.strip("|").split("|")]
    assert cells[1] == cells[2] != "-"  # old baseline == new baseline, from the same cached fine-tunes
    assert cells[3] == "+0.0000"


@pytest.mark.parametrize("content", ["{not json", '{"schema": 0, "kind": "measured"}'], ids=["not json", "old schema"])
def test_an_unreadable_existing_baseline_is_reported_and_replaced(smoke_cache, smoke_dir, tmp_path, capsys, content):
    """The error for a broken baseline says to run this command; the command must then not stop on it."""
    baselines = tmp_path / "baselines"
    baselines.mkdir()
    path = baselines / f"{BASELINE_NAME}.json"
    path.write_text(content)
    assert record(smoke_dir, baselines, smoke_cache) == 0
    assert f"the old baseline could not be read and is replaced: {path}" in capsys.readouterr().err
    assert json.loads(path.read_text())["seeds"] == [42, 43]


def test_recording_shows_progress_and_resumes_from_a_partial_recording(smoke_cache, smoke_dir, tmp_path, capsys):
    baselines = tmp_path / "baselines"
    config = RunConfig.from_recipe("smoke", data_dir=smoke_dir, device="cpu", seed=42)
    seed42 = RunCache(smoke_cache, hub_offline=True).get_or_run(config, lambda c: pytest.fail("seed 42 is cached"))
    marked = dataclasses.replace(seed42, metrics=seed42.metrics | {"accuracy": 0.123})  # proves it is not re-measured
    SeedLedger.open(baselines / f"{BASELINE_NAME}.partial.json").add(config, marked)
    assert record(smoke_dir, baselines, smoke_cache) == 0
    err = capsys.readouterr().err
    assert "seeds 42 already measured, 1 to go" in err
    assert "seed 43: accuracy" in err and "2/2 seeds, done" in err
    data = json.loads((baselines / f"{BASELINE_NAME}.json").read_text())
    assert data["metrics"]["accuracy"]["values"][0] == 0.123
    assert not (baselines / f"{BASELINE_NAME}.partial.json").exists()  # a finished recording leaves only the baseline


def test_an_impossible_precision_is_refused_before_training(capsys):
    assert main(["record-baseline", "--recipe", "smoke", "--precision", "fp16", "--device", "cpu"],
                settings=Settings(hub_offline=True)) == 2
    assert "fp16" in capsys.readouterr().err


@pytest.mark.parametrize(("seeds", "message"), [("0", "must be >= 1"), ("1", "a baseline needs at least 2 seeds")])
def test_too_few_seeds_is_a_usage_error_before_any_training(seeds, message, capsys):
    """One seed gives no spread; finding that out after a MiniLM fine-tune would cost minutes."""
    with pytest.raises(SystemExit) as exit_info:
        main(["record-baseline", "--recipe", "smoke", "--seeds", seeds], settings=Settings(hub_offline=True))
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_measure_fault_keeps_each_seed_and_reports_the_effect(smoke_dir, tmp_path, capsys):
    """End to end on the smoke tier: the faulted seeds land in baselines/faults/, resumable, and the
    report states the effect against the clean baseline (a 2-seed baseline is too small for the
    sequential gate, and the report says so)."""
    baselines, cache = tmp_path / "baselines", tmp_path / "cache"
    assert record(smoke_dir, baselines, cache) == 0
    argv = ["measure-fault", "--recipe", "smoke", "--fault", "label-noise-50", "--seeds", "2", "--data-dir", str(smoke_dir),
            "--device", "cpu", "--baselines-dir", str(baselines), "--quiet", "--output", str(tmp_path / "fault.md"),
            "--pyproject", str(no_settings(tmp_path / "pyproject.toml"))]
    assert main(argv, settings=Settings(cache_dir=cache, hub_offline=True)) == 0
    ledger = SeedLedger.open(baselines / "faults" / f"{BASELINE_NAME}--label-noise-50.json")
    assert sorted(ledger.seeds) == [42, 44]  # the gate's order: its own seed, then after the baseline's 42-43
    assert ledger.identity["faults"] == ["label-noise-50"]
    report = (tmp_path / "fault.md").read_text()
    assert f"# Fault label-noise-50 against {BASELINE_NAME}" in report and "95% CI (Welch)" in report
    assert any(line.startswith("| f1 ") for line in report.splitlines())
    assert "this baseline is too small for the sequential gate" in report
    capsys.readouterr()
    assert main(argv, settings=Settings(cache_dir=cache, hub_offline=True)) == 0  # again: nothing left to train
    assert "seeds 42, 44 already measured, 0 to go" in capsys.readouterr().err


def test_measure_fault_needs_a_baseline_first(smoke_dir, tmp_path, capsys):
    argv = ["measure-fault", "--recipe", "smoke", "--fault", "label-noise-10", "--data-dir", str(smoke_dir), "--device", "cpu",
            "--baselines-dir", str(tmp_path), "--pyproject", str(no_settings(tmp_path / "pyproject.toml"))]
    assert main(argv, settings=Settings(cache_dir=tmp_path / "cache", hub_offline=True)) == 2
    assert "to measure the fault against; record one with `harness record-baseline --recipe smoke`" in capsys.readouterr().err


def test_auto_precision_records_the_baseline_of_the_precision_it_resolves_to(smoke_cache, smoke_dir, tmp_path, monkeypatch):
    """On a CPU without native bf16, auto is fp32: the recording is the fp32 baseline (from the shared cache)."""
    from harness.run import precision as hardware

    monkeypatch.setattr(hardware, "cpu_flags", lambda cpuinfo=None: frozenset({"avx2"}))
    baselines = tmp_path / "baselines"
    argv = ["record-baseline", "--recipe", "smoke", "--seeds", "2", "--data-dir", str(smoke_dir), "--device", "cpu",
            "--precision", "auto", "--baselines-dir", str(baselines), "--quiet"]
    assert main(argv, settings=Settings(cache_dir=smoke_cache, hub_offline=True)) == 0
    assert [p.name for p in baselines.glob("*.json")] == [f"{BASELINE_NAME}.json"]


def _ledger_with_seeds(smoke_cache: Path, smoke_dir: Path, path: Path, seeds) -> None:
    """A killed recording's ledger: seed 42's cached result, relabelled for each seed (the ledger trusts its file)."""
    config = RunConfig.from_recipe("smoke", data_dir=smoke_dir, device="cpu", seed=42)
    seed42 = RunCache(smoke_cache, hub_offline=True).get_or_run(config, lambda c: pytest.fail("seed 42 is cached"))
    ledger = SeedLedger.open(path)
    for seed in seeds:
        ledger.add(config, dataclasses.replace(seed42, provenance=seed42.provenance | {"seed": seed}))


def test_a_shorter_recording_never_deletes_seeds_its_baseline_does_not_hold(smoke_cache, smoke_dir, tmp_path, capsys):
    """Issue 19, item 3: over a killed 10-seed recording holding 42-46, ``--seeds 2`` wrote a baseline of
    42-43 and deleted the ledger: 44-46 were gone. They stay, and the command says so."""
    baselines = tmp_path / "baselines"
    partial = baselines / f"{BASELINE_NAME}.partial.json"
    _ledger_with_seeds(smoke_cache, smoke_dir, partial, range(42, 47))
    assert record(smoke_dir, baselines, smoke_cache) == 0
    assert json.loads((baselines / f"{BASELINE_NAME}.json").read_text())["seeds"] == [42, 43]
    assert sorted(SeedLedger.open(partial).seeds) == [42, 43, 44, 45, 46]
    err = capsys.readouterr().err
    assert f"kept {partial}: it holds seeds 44-46, which this baseline (seeds 42-43) does not" in err
    assert "(e.g. --seed 42 --seeds 5)" in err


def test_a_second_recording_of_the_same_baseline_stops_at_once(smoke_cache, smoke_dir, tmp_path, capsys):
    """Issue 19, item 3: two ``record-baseline`` of one recipe at once each overwrote the other's seeds,
    and both said "wrote". The second now stops before training, naming the lock, and the first's
    ledger is untouched."""
    baselines = tmp_path / "baselines"
    partial = baselines / f"{BASELINE_NAME}.partial.json"
    _ledger_with_seeds(smoke_cache, smoke_dir, partial, [200])
    before = partial.read_bytes()
    with SeedLedger.recording(partial):  # the first recording, still running
        assert record(smoke_dir, baselines, smoke_cache) == 2
    err = capsys.readouterr().err
    assert "another process is recording this baseline" in err and f"{BASELINE_NAME}.partial.lock" in err
    assert partial.read_bytes() == before
    assert not (baselines / f"{BASELINE_NAME}.json").exists()


def test_a_resumed_recording_whose_recipe_changed_is_refused_before_anything_trains(smoke_cache, smoke_dir, tmp_path, capsys):
    """The reviewer's reproduction: project recipe ``mysmoke`` (smoke at lr 1e-3), ``--seeds 3 --seed 600``
    killed after two seeds, lr changed to 3e-5, then ``--seeds 2 --seed 600``: it said "wrote", and the
    baseline said lr 3e-5 with lr 1e-3's numbers. Now it is refused, naming the ledger and what differs;
    back at 1e-3 the same command resumes. (The held seeds are seed 42's cached fine-tune, relabelled.)"""
    from harness.project_config import read_recipes

    pyproject, baselines = tmp_path / "pyproject.toml", tmp_path / "baselines"
    pyproject.write_text('[tool.harness.recipes.mysmoke]\nbase = "smoke"\nlearning_rate = 1e-3\n')
    config = RunConfig.from_recipe("mysmoke", recipes=read_recipes(pyproject), data_dir=smoke_dir, device="cpu", seed=600)
    seed42 = RunCache(smoke_cache, hub_offline=True).get_or_run(
        RunConfig.from_recipe("smoke", data_dir=smoke_dir, device="cpu", seed=42), lambda c: pytest.fail("seed 42 is cached"))
    name = BASELINE_NAME.replace("--smoke--", "--mysmoke--")
    partial = baselines / f"{name}.partial.json"
    ledger = SeedLedger.open(partial)
    for seed in (600, 601):  # the killed 3-seed recording at lr 1e-3
        ledger.add(config, dataclasses.replace(seed42, config=config.replace(seed=seed),
                                               provenance=seed42.provenance | {"seed": seed}))
    before = partial.read_bytes()
    argv = ["record-baseline", "--recipe", "mysmoke", "--seeds", "2", "--seed", "600", "--data-dir", str(smoke_dir),
            "--device", "cpu", "--baselines-dir", str(baselines), "--pyproject", str(pyproject), "--quiet"]
    pyproject.write_text('[tool.harness.recipes.mysmoke]\nbase = "smoke"\nlearning_rate = 3e-5\n')
    assert main(argv, settings=Settings(cache_dir=tmp_path / "empty-cache", hub_offline=True)) == 2
    err = capsys.readouterr().err
    assert f"{partial}: seeds 600-601 were measured under another identity" in err
    assert "recipe.learning_rate: 0.001 in the ledger, 3e-05 now" in err
    assert f"Restore the settings they were measured with, or delete {partial}" in err
    assert not (baselines / f"{name}.json").exists() and partial.read_bytes() == before

    pyproject.write_text('[tool.harness.recipes.mysmoke]\nbase = "smoke"\nlearning_rate = 1e-3\n')
    assert main(argv, settings=Settings(cache_dir=tmp_path / "empty-cache", hub_offline=True)) == 0
    assert "seeds 600-601 already measured, 0 to go" in capsys.readouterr().err
    data = json.loads((baselines / f"{name}.json").read_text())
    assert data["seeds"] == [600, 601] and data["recipe_config"]["learning_rate"] == 0.001
    assert not partial.exists()
