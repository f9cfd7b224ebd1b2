"""The one quality-check flow: missing baselines, explicit regeneration, obtained files."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex

import pytest

from fake_runs import FakeFineTune, smoke_run_config
from harness.quality.baselines import BaselineError, BaselineStore
from harness.cli import build_parser
from harness.quality.gate import FAIL, GatePolicy
from harness.quality.regression import name_for, perform_quality_check, record_baseline

POLICY = GatePolicy(bootstrap_samples=50)


@pytest.fixture
def store(tmp_path) -> BaselineStore:
    return BaselineStore(tmp_path / "baselines")


@pytest.fixture
def config():
    return smoke_run_config(seed=42)


def check(config, store, fine_tune, **kwargs):
    return perform_quality_check(config, fine_tune=fine_tune, store=store, policy=POLICY, seeds=3, **kwargs)


def test_a_missing_baseline_fails_and_says_how_to_record_one(config, store):
    outcome = check(config, store, FakeFineTune())
    assert not outcome.passed
    assert f"no baseline at {store.path(name_for(config))}" in outcome.message
    assert "from 3 seeds" in outcome.message
    assert "`pytest --harness-force-regen`" in outcome.message
    assert store.obtained_path(name_for(config), config.short_id).is_file()
    assert f"obtained values written to {store.obtained_path(name_for(config), config.short_id)}" in outcome.message


def test_the_suggested_record_command_exists(config, store):
    """Advice to run a command that the CLI rejects is worse than no advice."""
    message = check(config, store, FakeFineTune()).message
    commands = [c for c in re.findall(r"`([^`]+)`", message) if c.startswith("harness ")]
    assert commands, message
    for command in commands:
        args = build_parser().parse_args(shlex.split(command)[1:])
        assert args.command == "record-baseline"
        assert args.recipe == config.recipe.name and args.seeds == 3


def test_force_regen_records_writes_and_still_fails(config, store):
    """Regeneration that passed would let a baseline be loosened without anyone looking at it."""
    fine_tune = FakeFineTune()
    name = name_for(config)
    store.write_obtained(name, config.short_id, {"kind": "obtained"})  # left by an earlier failure
    outcome = check(config, store, fine_tune, force_regen=True)
    assert not outcome.passed
    assert outcome.report.passed  # the run itself is fine; only the regeneration fails it
    assert outcome.message.startswith(f"REGENERATED {store.path(name)} from seeds [42, 43, 44]")
    assert "| metric" in outcome.message and "old baseline" in outcome.message and "new baseline" in outcome.message
    assert sorted(set(fine_tune.seeds)) == [42, 43, 44]
    baseline = store.load(name)
    assert baseline is not None and baseline.seeds == (42, 43, 44)
    assert baseline.metrics["accuracy"].values == pytest.approx((0.70, 0.75, 0.80))
    assert not store.obtained_path(name, config.short_id).exists()


def test_regen_diff_shows_the_change_from_the_old_baseline(config, store):
    check(config, store, FakeFineTune(), force_regen=True)
    outcome = check(config, store, FakeFineTune(accuracy_offset=0.1), force_regen=True)
    accuracy_row = next(line for line in outcome.message.splitlines() if line.startswith("| accuracy"))
    assert "0.7500 ± 0.0500" in accuracy_row and "0.8500 ± 0.0500" in accuracy_row and "+0.1000" in accuracy_row


def test_after_regen_a_plain_check_passes_and_clears_a_stale_obtained_file(config, store):
    check(config, store, FakeFineTune(), force_regen=True)
    name = name_for(config)
    store.write_obtained(name, config.short_id, {"kind": "obtained", "stale": True})
    outcome = check(config, store, FakeFineTune())
    assert outcome.passed, outcome.report.table()
    assert outcome.message == ""
    assert outcome.baseline_path == str(store.path(name))
    assert not store.obtained_path(name, config.short_id).exists()


def test_a_failing_check_leaves_the_obtained_values_beside_the_baseline(config, store):
    """The obtained file is what a reviewer diffs against the baseline, so it carries the evidence."""
    check(config, store, FakeFineTune(), force_regen=True)
    outcome = check(config, store, FakeFineTune(accuracy_offset=-0.3))
    assert not outcome.passed
    assert [c.verdict for c in outcome.report.checks][0] == FAIL
    obtained = json.loads(store.obtained_path(name_for(config), config.short_id).read_text())
    assert obtained["kind"] == "obtained"
    assert obtained["metrics"] == outcome.result.metrics
    assert obtained["provenance"]["seed"] == 42
    assert obtained["provenance"]["data"]["sha256"] == outcome.result.provenance["data"]["sha256"]
    assert obtained["config"]["recipe"]["name"] == "smoke"
    assert obtained["gate"]["passed"] is False
    assert obtained["gate"]["checks"][0]["verdict"] == FAIL
    assert f"obtained values written to {store.obtained_path(name_for(config), config.short_id)}" in outcome.message


def test_a_corrupt_baseline_is_reported_before_anything_trains(config, store):
    """Fail fast: a damaged baseline costs seconds, not a fine-tune."""
    store.root.mkdir(parents=True)
    store.path(name_for(config)).write_text('{"schema": 2, "kind": "meas')
    fine_tune = FakeFineTune()
    with pytest.raises(BaselineError, match="not valid JSON"):
        check(config, store, fine_tune)
    assert fine_tune.seeds == []


@pytest.mark.parametrize(
    "old_file",
    ['{"schema": 0, "kind": "measured"}', "not json at all", '{"schema": 2, "kind": "measured", "task": "mrpc"}'],
    ids=["old schema", "not json", "incomplete"],
)
def test_regeneration_replaces_an_unreadable_baseline(config, store, old_file):
    """The error for a broken baseline says 'regenerate it'; regeneration must then not stop on that error."""
    store.root.mkdir(parents=True)
    store.path(name_for(config)).write_text(old_file)
    outcome = check(config, store, FakeFineTune(), force_regen=True)
    assert outcome.regenerated
    assert "the old baseline could not be read and is replaced" in outcome.message
    assert store.load(name_for(config)).seeds == (42, 43, 44)


def test_a_faulted_config_never_records_a_baseline(config, store):
    """--harness-force-regen over a clean and a faulted check must leave the clean baseline, not the broken one."""
    check(config, store, FakeFineTune(), force_regen=True)
    clean = store.path(name_for(config)).read_text()
    faulted = config.replace(faults=("shuffled-labels",))
    assert name_for(faulted) == name_for(config)  # a fault is gated against the clean baseline
    outcome = check(faulted, store, FakeFineTune(accuracy_offset=-0.3), force_regen=True)
    assert not outcome.regenerated
    assert outcome.message.startswith(f"NOT REGENERATED {store.path(name_for(config))}")
    assert "deliberate faults (shuffled-labels)" in outcome.message
    assert store.path(name_for(config)).read_text() == clean
    assert not outcome.passed and outcome.report.checks[0].verdict == FAIL  # and it is still gated
    assert "shuffled-labels" in " ".join(outcome.report.notes)


def test_record_baseline_refuses_a_faulted_config_before_training(config):
    fine_tune = FakeFineTune()
    with pytest.raises(BaselineError, match="deliberate faults"):
        record_baseline(config.replace(faults=("truncated-inputs",)), fine_tune, seeds=3)
    assert fine_tune.seeds == []


def test_two_recipes_sharing_a_baseline_in_one_session_do_not_overwrite_each_other(config, store):
    regenerated = {}
    first = check(config, store, FakeFineTune(), force_regen=True, regenerated=regenerated)
    assert first.regenerated
    recorded = store.path(name_for(config)).read_text()
    fine_tune = FakeFineTune()
    variant = config.replace(recipe=dataclasses.replace(config.recipe, epochs=1.0))
    assert name_for(variant) == name_for(config)
    second = check(variant, store, fine_tune, force_regen=True, regenerated=regenerated)
    assert second.message.startswith("NOT REGENERATED") and "differs in epochs" in second.message
    assert store.path(name_for(config)).read_text() == recorded
    assert fine_tune.seeds == [42]  # the variant's own run, no baseline seeds
    again = check(config, store, FakeFineTune(), force_regen=True, regenerated=regenerated)
    assert again.regenerated and "earlier in this run" in again.message


def test_precision_is_part_of_the_baseline_identity(config, store):
    """A bf16 run is never gated against an fp32 baseline: it looks for its own, and without one it fails."""
    check(config, store, FakeFineTune(), force_regen=True)
    bf16 = config.replace(precision="bf16")
    assert name_for(bf16) == name_for(config).removesuffix("-fp32") + "-bf16"
    outcome = check(bf16, store, FakeFineTune())
    assert not outcome.passed
    assert f"no baseline at {store.path(name_for(bf16))}" in outcome.message
    commands = [c for c in re.findall(r"`([^`]+)`", outcome.message) if c.startswith("harness ")]
    assert commands and all(build_parser().parse_args(shlex.split(c)[1:]).precision == "bf16" for c in commands), (
        "the suggested command must record the bf16 baseline, not the fp32 one the run is never gated against")


def test_a_passing_config_leaves_another_configs_obtained_file(config, store):
    """A failure's evidence survives a later pass of a different config that shares its baseline."""
    check(config, store, FakeFineTune(), force_regen=True)
    failing = config.replace(faults=("shuffled-labels",))
    failed = check(failing, store, FakeFineTune(accuracy_offset=-0.3))
    assert not failed.passed
    evidence = store.obtained_path(name_for(failing), failing.short_id)
    assert evidence.is_file()
    assert check(config, store, FakeFineTune()).passed
    assert evidence.is_file()


def test_the_datas_warnings_reach_the_verdicts_message_and_report(config, store):
    """Issue 19, item 4: an evaluation split copied from training gave no word; the data check's
    warning is carried by the result, and the gate shows it beside its verdict."""
    from harness.quality.report import QualitySummary, quality_markdown

    warning = "validation: 32 of 408 rows (7.8%) also appear in train"

    def warned(run_config):
        return dataclasses.replace(FakeFineTune()(run_config), data_warnings=(warning,))

    perform_quality_check(config, fine_tune=FakeFineTune(), store=store, policy=POLICY, force_regen=True)
    outcome = perform_quality_check(config, fine_tune=warned, store=store, policy=POLICY)
    assert f"data warning: {warning}" in outcome.message
    summary = QualitySummary.of(outcome)
    assert summary.record["data_warnings"] == [warning]
    assert f"data warning: {warning}" in quality_markdown([summary])


def test_two_processes_of_one_run_regenerating_one_baseline_do_not_overwrite_each_other(config, store):
    """Issue 19 review: under xdist each worker has its own record of what it re-measured, so two
    configs mapping to one baseline file both said REGENERATED and the last writer won. What any
    process of the run wrote since the run began (``run_started``) now counts as re-measured."""
    import time

    started = time.time() - 1
    first = check(config, store, FakeFineTune(), force_regen=True, regenerated={}, run_started=started)
    assert first.regenerated
    recorded = store.path(name_for(config)).read_text()
    variant = config.replace(recipe=dataclasses.replace(config.recipe, epochs=1.0))
    second = check(variant, store, FakeFineTune(), force_regen=True, regenerated={}, run_started=started)  # another worker
    assert second.message.startswith("NOT REGENERATED") and "this run already re-measured it" in second.message
    assert store.path(name_for(config)).read_text() == recorded
    fine_tune = FakeFineTune()
    same = check(config, store, fine_tune, force_regen=True, regenerated={}, run_started=started)
    assert same.regenerated and "earlier in this run" in same.message and fine_tune.seeds == [42]  # reused, not re-measured
    assert not (store.root / f"{name_for(config)}.partial.json").exists()  # the lock, not a ledger


def test_a_baseline_from_before_the_run_is_re_measured(config, store):
    check(config, store, FakeFineTune(), force_regen=True)
    fine_tune = FakeFineTune()
    outcome = check(config, store, fine_tune, force_regen=True, regenerated={}, run_started=time_after_now())
    assert outcome.regenerated and "REGENERATED" in outcome.message and "earlier in this run" not in outcome.message
    assert len(fine_tune.seeds) > 1


def time_after_now() -> float:
    import time

    return time.time() + 60
