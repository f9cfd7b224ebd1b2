"""The sequential quality check end to end on hand-built runs: exact reproduction, an early fail,
a pass after several seeds, a baseline too small for the stated error rates."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pytest

from fake_runs import no_settings, run_result, smoke_run_config
from harness.quality.baselines import BaselineError, BaselineStore, measured_from_runs
from harness.quality.gate import FAIL, PASS, REPRODUCED, GatePolicy
from harness.quality.regression import name_for, perform_quality_check
from harness.quality.sequential_gate import NO_REGRESSION, REGRESSION

SD = 0.0093  # the MiniLM recipe's seed-to-seed sd of F1, in F1 units


@dataclass
class NoisyFineTune:
    """Accuracy ``0.80 + shift + SD * z``, z drawn from the seed: ``stream`` stands for the code, so
    another stream is a code change that moves every run a little while the true mean stays put."""

    shift: float = 0.0
    stream: int = 0
    seeds: list[int] = field(default_factory=list)

    def __call__(self, config):
        self.seeds.append(config.seed)
        z = np.random.default_rng([config.seed, self.stream]).standard_normal()
        return run_result(config, accuracy=0.80 + self.shift + SD * z, rows=4000)


@pytest.fixture(scope="module")
def baseline_store(tmp_path_factory):
    config = smoke_run_config(seed=42)
    store = BaselineStore(tmp_path_factory.mktemp("baselines"))
    fine_tune = NoisyFineTune()
    store.save(measured_from_runs(config, [fine_tune(config.replace(seed=s)) for s in range(42, 72)]))
    return store


POLICY = GatePolicy(bootstrap_samples=20, procedure="sequential")


def check(store, fine_tune, policy=POLICY, config=None):
    return perform_quality_check(config or smoke_run_config(seed=42), fine_tune=fine_tune, store=store, policy=policy)


def test_unchanged_code_reproduces_seed_42_and_passes_after_one_run(baseline_store):
    fine_tune = NoisyFineTune()
    outcome = check(baseline_store, fine_tune)
    assert outcome.passed and fine_tune.seeds == [42]
    assert {c.verdict for c in outcome.report.checks} == {REPRODUCED}
    assert not outcome.report.sequential


def test_a_large_drop_fails_after_one_run_with_the_boundaries_in_the_report(baseline_store):
    fine_tune = NoisyFineTune(shift=-0.06)
    outcome = check(baseline_store, fine_tune)
    assert not outcome.passed and fine_tune.seeds == [42]
    assert [c.verdict for c in outcome.report.checks] == [FAIL, FAIL]
    entry = next(e for e in outcome.report.sequential if e["metric"] == "accuracy")
    assert entry["verdict"] == REGRESSION and entry["runs"] == 1 and entry["seeds"] == [42]
    assert entry["reference_seeds"] == 30 and entry["alpha"] == pytest.approx(0.01)  # the whole check's, both metrics together
    table = outcome.report.table()
    assert "accuracy: REGRESSION after 1 of at most" in table and "detects a drop of >=" in table


def test_a_code_change_that_leaves_quality_alone_passes_on_new_seeds(baseline_store):
    fine_tune = NoisyFineTune(stream=1)
    outcome = check(baseline_store, fine_tune)
    assert outcome.passed, outcome.report.table()
    assert [c.verdict for c in outcome.report.checks] == [PASS, PASS]
    assert fine_tune.seeds[0] == 42 and all(seed > 71 for seed in fine_tune.seeds[1:])  # fresh seeds after the baseline's
    entries = {e["metric"]: e for e in outcome.report.sequential}
    assert {e["verdict"] for e in entries.values()} == {NO_REGRESSION}
    assert len(fine_tune.seeds) == max(e["runs"] for e in entries.values()) <= entries["accuracy"]["max_runs"]


def test_a_baseline_too_small_for_the_stated_rates_is_an_error_before_training(tmp_path):
    config = smoke_run_config(seed=42)
    store = BaselineStore(tmp_path)
    fine_tune = NoisyFineTune()
    store.save(measured_from_runs(config, [fine_tune(config.replace(seed=s)) for s in range(42, 47)]))
    fine_tune.seeds.clear()
    with pytest.raises(BaselineError, match=r"too few seeds for the sequential gate.*--seeds \d+"):
        check(store, fine_tune)
    assert fine_tune.seeds == []
    auto = check(store, fine_tune, policy=GatePolicy(bootstrap_samples=20))  # auto: only reproduction passes, and it says so
    assert auto.passed and fine_tune.seeds == [42]
    assert any("only a run that reproduces a baseline seed passes" in note for note in auto.report.notes)
    changed = check(store, NoisyFineTune(stream=1), policy=GatePolicy(bootstrap_samples=20))
    assert not changed.passed and any("record-baseline" in problem for problem in changed.report.problems)
    assert store.path(name_for(config)).is_file()


def test_a_practical_margin_lets_a_small_drop_pass(baseline_store):
    """A team that says 'fail only if accuracy fell by more than 1.5 points' does not fail a 1-point drop."""
    policy = GatePolicy(bootstrap_samples=20, procedure="sequential", metrics=("accuracy",), margins=(("accuracy", 0.015),),
                        effects=(("accuracy", 0.035),))
    assert check(baseline_store, NoisyFineTune(shift=-0.01, stream=2), policy=policy).passed
    assert not check(baseline_store, NoisyFineTune(shift=-0.05, stream=2), policy=policy).passed


def test_the_whole_check_simulated_matches_the_one_metric_simulation(baseline_store):
    from harness.quality.sequential_check import designs_for, simulate_check
    from harness.quality.sequential_gate import simulate

    baseline = baseline_store.load(name_for(smoke_run_config()))
    policy = GatePolicy(metrics=("accuracy",), max_runs=10)
    design = designs_for(baseline, policy).designs["accuracy"]
    for mode in ("resample", "normal"):
        whole = simulate_check({"accuracy": design}, {"accuracy": -0.02}, mode=mode, trials=2000, seed=1)
        single = simulate(design, -0.02, mode=mode, trials=2000, seed=1)
        assert (whole.fail_rate, whole.expected_runs) == (single.fail_rate, single.expected_runs)


def test_two_metrics_keep_the_false_alarm_rate_and_stop_when_both_have_decided(baseline_store):
    from harness.quality.sequential_check import designs_for, simulate_check

    baseline = baseline_store.load(name_for(smoke_run_config()))
    designs = designs_for(baseline, GatePolicy(max_runs=10)).designs
    unchanged = simulate_check(designs, {}, mode="normal", trials=20_000)
    assert unchanged.fail_rate <= 0.01 + 3 * unchanged.fail_rate_se
    assert unchanged.worst_case_runs <= max(d.max_runs for d in designs.values())
    dropped = simulate_check(designs, {"accuracy": -0.03, "f1": -0.03}, mode="normal", trials=5_000)
    assert dropped.fail_rate >= 0.95 - 3 * dropped.fail_rate_se


def test_simulate_gate_reports_error_rates_for_a_recorded_baseline(baseline_store, tmp_path, capsys):
    from harness.cli import main

    output = tmp_path / "gate-simulation.md"
    argv = ["simulate-gate", "--recipe", "smoke", "--device", "cpu", "--baselines-dir", str(baseline_store.root),
            "--pyproject", str(no_settings(tmp_path / "none.toml")), "--trials", "500", "--truths", "20",
            "--truth-trials", "200", "--output", str(output)]
    assert main(argv) == 0
    text = output.read_text()
    grid = [[cell.strip() for cell in line.split("|")[1:-1]] for line in text.splitlines() if line.startswith("| ") and line.split("|")[1].strip().endswith("points")]
    cells = {(change, ratio, mode) for change, ratio, mode, *_ in grid}
    # the whole grid: change 0, -1, -2, -3 x sd ratio 0.7, 1, 1.3, 1.5 x both noise models, each with both views
    assert cells == {(f"{c:+d} points", r, m) for c in (0, -1, -2, -3) for r in ("0.7", "1", "1.3", "1.5")
                     for m in ("resample", "normal")}
    assert all(len(row) == 8 and row[6].endswith("%") and row[7].endswith("%") for row in grid)
    unchanged = {(ratio, mode): float(row[0].split("%")[0]) for change, ratio, mode, *row in grid if change == "+0 points"}
    dropped = {(ratio, mode): float(row[0].split("%")[0]) for change, ratio, mode, *row in grid if change == "-3 points"}
    assert all(dropped[key] > unchanged[key] for key in unchanged)  # a drop fails more often than no change
    assert "pessimistic sigma" in text
    assert "a fall of >= " in text and "is caught with 95% probability" in text and "30 reference seeds" in text
    assert "drop caught with the power asked, pessimistic sigma" in text


def test_a_baseline_too_small_names_the_seeds_every_metric_needs(tmp_path):
    from harness.quality.sequential_check import designs_for
    from harness.quality.sequential_gate import DesignError

    config = smoke_run_config(seed=42)
    fine_tune = NoisyFineTune()
    baseline = measured_from_runs(config, [fine_tune(config.replace(seed=s)) for s in range(42, 52)])
    policy = GatePolicy(max_runs=10, effects=(("accuracy", 0.02), ("f1", 0.015)))
    with pytest.raises(DesignError) as error:
        designs_for(baseline, policy)
    short = str(error.value).split(":")[0]
    singles = []
    for metric in ("accuracy", "f1"):
        try:
            designs_for(baseline, dataclasses.replace(policy, metrics=(metric,)))
            singles.append(10)
        except DesignError as single:
            singles.append(single.seeds_needed)
            assert metric in short  # every metric short on its own is named
    # designed together the metrics share alpha, so they need at least the seeds either needs alone
    assert error.value.seeds_needed >= max(singles) > 10
