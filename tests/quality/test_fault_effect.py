"""Measuring a fault's effect: the gate's seeds in its order, resumable, with the effect's interval
and the gate's decision replayed through the real sequential loop (fakes; nothing trains)."""

from __future__ import annotations

import pytest
from fake_runs import run_result, smoke_run_config
from quality.test_sequential_check import NoisyFineTune

from harness.quality.baselines import BaselineStore, measured_from_runs
from harness.quality.fault_effect import (
    effect_markdown,
    fault_effects,
    fault_ledger_path,
    gate_replay,
    gate_seeds,
    measure_fault,
)
from harness.quality.gate import GatePolicy
from harness.quality import seed_ledger
from harness.quality.seed_ledger import SeedLedger
from harness.quality.sequential_check import designs_for

POLICY = GatePolicy(bootstrap_samples=20, procedure="sequential")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    config = smoke_run_config(seed=42)
    clean = NoisyFineTune()
    return measured_from_runs(config, [clean(config.replace(seed=s)) for s in range(42, 72)])


def faulted(seed: int = 42):
    return smoke_run_config(seed=seed, faults=("label-noise-10",))


def test_the_seeds_are_the_gates_own_in_its_order(baseline):
    assert gate_seeds(faulted(), baseline, 4) == [42, 72, 73, 74]


def test_a_measurement_resumes_without_training_a_seed_twice(baseline, tmp_path, monkeypatch):
    # Before training, the faulted config's seeds would be recorded with the fakes' provenance.
    monkeypatch.setattr(seed_ledger, "identity_before_training",
                        lambda config, *, hub_offline=False: seed_ledger.ledger_identity(config.identity(), run_result(config).provenance))
    ledger_path = fault_ledger_path(tmp_path, baseline.name, ("label-noise-10",))
    fine_tune = NoisyFineTune(shift=-0.05, stream=1)

    class Killed(Exception):
        pass

    def dies_at_the_third(config):
        if len(fine_tune.seeds) == 2:
            raise Killed
        return fine_tune(config)

    with pytest.raises(Killed):
        measure_fault(faulted(), dies_at_the_third, baseline, seeds=4, ledger=SeedLedger.open(ledger_path))
    assert sorted(SeedLedger.open(ledger_path).seeds) == [42, 72]
    lines = []
    results = measure_fault(faulted(), fine_tune, baseline, seeds=4, ledger=SeedLedger.open(ledger_path), progress=lines.append)
    assert fine_tune.seeds == [42, 72, 73, 74]  # 42 and 72 once each, before and after the kill
    assert [r.provenance["seed"] for r in results] == [42, 72, 73, 74]
    assert lines[0].startswith(f"resuming from {ledger_path}: seeds 42, 72 already measured, 2 to go")
    assert "4/4 seeds, done" in lines[-1]
    assert SeedLedger.open(ledger_path).identity["faults"] == ["label-noise-10"]


def test_a_clean_config_is_not_a_fault_measurement(baseline, tmp_path):
    with pytest.raises(ValueError, match="needs a config with a fault"):
        measure_fault(smoke_run_config(), NoisyFineTune(), baseline, seeds=2, ledger=SeedLedger.open(tmp_path / "x.json"))


def test_the_effect_and_its_welch_interval(baseline, tmp_path):
    fine_tune = NoisyFineTune(shift=-0.05, stream=1)
    results = [fine_tune(faulted(s)) for s in gate_seeds(faulted(), baseline, 10)]
    (effect,) = fault_effects(results, baseline, ("accuracy",))
    assert effect.effect == pytest.approx(sum(r.metrics["accuracy"] for r in results) / 10 - baseline.metrics["accuracy"].mean)
    low, high = effect.interval()
    assert low < effect.effect < high and low < -0.03 and high < 0  # a 5-point drop, clearly below zero
    wider = effect.interval(0.99)
    assert wider[0] < low and wider[1] > high
    text = effect_markdown(baseline.name, ("label-noise-10",), [effect], replay=("fail", 1))
    assert "| accuracy |" in text and "**fail** after 1 run(s)" in text


@pytest.mark.parametrize(("shift", "verdict"), [(-0.06, "fail"), (0.0, "pass")])
def test_the_replay_is_the_gates_decision(baseline, shift, verdict):
    designs = designs_for(baseline, POLICY).designs
    fine_tune = NoisyFineTune(shift=shift, stream=1)
    results = [fine_tune(faulted(s)) for s in gate_seeds(faulted(), baseline, max(d.max_runs for d in designs.values()))]
    decided, runs = gate_replay(results, faulted(), designs, baseline)
    assert decided == verdict and 1 <= runs <= len(results)


def test_too_few_measured_seeds_leave_the_replay_undecided(baseline):
    designs = designs_for(baseline, POLICY).designs
    fine_tune = NoisyFineTune(shift=-0.008, stream=1)  # small: one run cannot decide
    decided, runs = gate_replay([fine_tune(faulted(42))], faulted(), designs, baseline)
    assert (decided, runs) == ("undecided", 1)
