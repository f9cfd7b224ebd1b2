"""The one quality-check flow: missing baselines, explicit regeneration, obtained files."""

from __future__ import annotations

import json
import re
import shlex

import pytest

from fake_runs import FakeFineTune, smoke_run_config
from harness.baselines import BaselineStore
from harness.cli import build_parser
from harness.gate import FAIL, GatePolicy
from harness.regression import name_for, perform_quality_check

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
    assert store.obtained_path(name_for(config)).is_file()
    assert f"obtained values written to {store.obtained_path(name_for(config))}" in outcome.message


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
    store.write_obtained(name, {"kind": "obtained"})  # left by an earlier failure
    outcome = check(config, store, fine_tune, force_regen=True)
    assert not outcome.passed
    assert outcome.report.passed  # the run itself is fine; only the regeneration fails it
    assert outcome.message.startswith(f"REGENERATED {store.path(name)} from seeds [42, 43, 44]")
    assert "| metric" in outcome.message and "old baseline" in outcome.message and "new baseline" in outcome.message
    assert sorted(set(fine_tune.seeds)) == [42, 43, 44]
    baseline = store.load(name)
    assert baseline is not None and baseline.seeds == (42, 43, 44)
    assert baseline.metrics["accuracy"].values == pytest.approx((0.70, 0.75, 0.80))
    assert not store.obtained_path(name).exists()


def test_regen_diff_shows_the_change_from_the_old_baseline(config, store):
    check(config, store, FakeFineTune(), force_regen=True)
    outcome = check(config, store, FakeFineTune(accuracy_offset=0.1), force_regen=True)
    accuracy_row = next(line for line in outcome.message.splitlines() if line.startswith("| accuracy"))
    assert "0.7500 ± 0.0500" in accuracy_row and "0.8500 ± 0.0500" in accuracy_row and "+0.1000" in accuracy_row


def test_after_regen_a_plain_check_passes_and_clears_a_stale_obtained_file(config, store):
    check(config, store, FakeFineTune(), force_regen=True)
    name = name_for(config)
    store.write_obtained(name, {"kind": "obtained", "stale": True})
    outcome = check(config, store, FakeFineTune())
    assert outcome.passed, outcome.report.table()
    assert outcome.message == ""
    assert outcome.baseline_path == str(store.path(name))
    assert not store.obtained_path(name).exists()


def test_a_failing_check_leaves_the_obtained_values_beside_the_baseline(config, store):
    """The obtained file is what a reviewer diffs against the baseline, so it carries the evidence."""
    check(config, store, FakeFineTune(), force_regen=True)
    outcome = check(config, store, FakeFineTune(accuracy_offset=-0.3))
    assert not outcome.passed
    assert [c.verdict for c in outcome.report.checks][0] == FAIL
    obtained = json.loads(store.obtained_path(name_for(config)).read_text())
    assert obtained["kind"] == "obtained"
    assert obtained["metrics"] == outcome.result.metrics
    assert obtained["provenance"]["seed"] == 42
    assert obtained["provenance"]["data"]["sha256"] == outcome.result.provenance["data"]["sha256"]
    assert obtained["config"]["recipe"]["name"] == "smoke"
    assert obtained["gate"]["passed"] is False
    assert obtained["gate"]["checks"][0]["verdict"] == FAIL
    assert f"obtained values written to {store.obtained_path(name_for(config))}" in outcome.message
