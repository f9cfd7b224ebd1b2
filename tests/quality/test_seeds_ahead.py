"""The sequential gate's later runs, named before the gate runs: the configs trained ahead must be
exactly the ones the gate then asks for (same seed, faults, data and recipe, so the same cache entry),
and every reason the gate will not ask for one is said. Hand-built runs; nothing trains."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from fake_runs import run_result, smoke_run_config
from harness.run.config import RunConfig
from harness.quality.baselines import BaselineStore, measured_from_runs
from harness.quality.gate import GatePolicy
from harness.quality.regression import GatePlan, name_for, procedure_for
from harness.quality.seeds_ahead import NothingAhead, candidate_config, planned_seeds
from harness.project import Project
from harness.session import HarnessSession
from harness.settings import Settings

BASELINE_SEEDS = range(42, 72)
POLICY = GatePolicy(bootstrap_samples=20, procedure="sequential", metrics=("accuracy",))  # its design ends before the cap


@dataclass
class RecordingFineTune:
    """Accuracy 0.785 with noise, drawn by the run's place in the gate (not its seed), so every case
    below takes the gate down the same path: a drop of 1.5 points, which it needs 4 runs to settle.
    Records every config it is asked for."""

    asked: list[RunConfig] = field(default_factory=list)

    def __call__(self, config: RunConfig):
        z = np.random.default_rng([len(self.asked), 1]).standard_normal()
        self.asked.append(config)
        return run_result(config, accuracy=0.785 + 0.01 * z, rows=4000)


def record_baseline(store: BaselineStore) -> None:
    config = smoke_run_config()
    runs = [run_result(config.replace(seed=seed), rows=4000,
                       accuracy=0.80 + 0.01 * np.random.default_rng([seed, 0]).standard_normal()) for seed in BASELINE_SEEDS]
    store.save(measured_from_runs(config, runs))


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> BaselineStore:
    store = BaselineStore(tmp_path_factory.mktemp("baselines"))
    record_baseline(store)
    return store


def session(store: BaselineStore, tmp_path, **changes) -> HarnessSession:
    return HarnessSession(Project.of(Settings(cache_dir=tmp_path / "cache", hub_offline=True), store.root,
                                     device="cpu", policy=POLICY), show_progress=False, **changes)


@pytest.mark.parametrize(
    ("seed", "faults", "expected"),
    [
        (None, (), [72, 73, 74]),  # the recipe's seed 42, a baseline seed: fresh seeds after the baseline's
        (50, ("label-noise-20",), [72, 73, 74]),  # --harness-seed inside the baseline, with an injected fault
        (100, ("truncated-inputs",), [101, 102, 103]),  # --harness-seed after the baseline: the seeds after it
    ],
)
def test_the_runs_trained_ahead_are_the_ones_the_gate_asks_for(store, tmp_path, seed, faults, expected):
    harness = session(store, tmp_path, seed=seed, faults=faults)
    recorder = RecordingFineTune()
    harness.fine_tune = recorder  # the session's cached fine-tune, replaced by hand-built runs
    config = harness.config("smoke")
    ahead = [harness.candidate_config(config, run=run) for run in (2, 3, 4)]

    outcome = harness.check_quality(config)

    asked = recorder.asked
    assert len(asked) >= 4, f"the gate must need several runs for this test to say anything:\n{outcome.report.table()}"
    assert [c.seed for c in ahead] == expected
    # The session's memo key and the cache entry's identity: the gate's runs 2-4 hit what was trained ahead.
    assert [c.to_json() for c in ahead] == [c.to_json() for c in asked[1:4]]
    assert [c.short_id for c in ahead] == [c.short_id for c in asked[1:4]]
    assert all(c.faults == faults for c in ahead)


def test_the_sequential_procedure_counts_the_configs_own_seed_as_run_one(store):
    baseline = store.load(name_for(smoke_run_config()))
    procedure = procedure_for(GatePlan.of(smoke_run_config(), POLICY), baseline, store)
    assert procedure.seeds(smoke_run_config(), baseline)[:3] == (42, 72, 73)
    assert planned_seeds(smoke_run_config(), store, 2) == procedure.seeds(smoke_run_config(), baseline)[1:3]


def ahead(store, policy=POLICY, *, run=2, config=None, force_regen=False) -> str:
    with pytest.raises(NothingAhead) as why:
        candidate_config(config or smoke_run_config(), run=run, store=store, policy=policy, force_regen=force_regen)
    return str(why.value)


def test_without_a_baseline_there_is_nothing_ahead_of_the_first_seed(tmp_path):
    empty = BaselineStore(tmp_path)
    reason = ahead(empty)
    assert f"no baseline at {empty.path(name_for(smoke_run_config()))}" in reason
    assert "trains only its first seed (42)" in reason
    assert planned_seeds(smoke_run_config(), empty, 2) is None


def test_the_band_procedure_and_a_baseline_too_small_train_one_run(store, tmp_path):
    assert "one-run band check here (procedure 'band')" in ahead(store, GatePolicy(procedure="band"))
    small = BaselineStore(tmp_path)
    config = smoke_run_config()
    small.save(measured_from_runs(config, [run_result(config.replace(seed=s), accuracy=0.7 + 0.01 * (s % 3)) for s in (42, 43, 44)]))
    assert "the baseline is too small for the sequential gate" in ahead(small, GatePolicy(bootstrap_samples=20))
    # An explicit sequential procedure makes that an error the gate reports before training.
    assert "the gate stops before it trains" in ahead(small, GatePolicy(procedure="sequential"))


def test_regeneration_and_runs_past_the_design_are_never_asked_for(store):
    assert "--harness-force-regen re-measures the baseline" in ahead(store, force_regen=True)
    cap = procedure_for(GatePlan.of(smoke_run_config(), POLICY), store.load(name_for(smoke_run_config())), store).max_runs
    assert candidate_config(smoke_run_config(), run=cap, store=store, policy=POLICY).seed == 72 + cap - 2
    assert f"decides within {cap} runs, so it never asks for run {cap + 1}" in ahead(store, POLICY, run=cap + 1)
    with pytest.raises(ValueError, match="run 1 is the gate's own"):
        candidate_config(smoke_run_config(), run=1, store=store, policy=POLICY)


def test_a_broken_baseline_is_the_gates_to_report(store, tmp_path):
    broken = BaselineStore(tmp_path)
    broken.path(name_for(smoke_run_config())).write_text("{not json")
    assert "the gate stops before it trains" in ahead(broken) and "not valid JSON" in ahead(broken)
    assert planned_seeds(smoke_run_config(), broken, 2) is None


def test_planned_seeds_name_runs_two_onwards(store):
    assert planned_seeds(smoke_run_config(), store, 3) == (72, 73, 74)
    assert planned_seeds(smoke_run_config(seed=100), store, 2) == (101, 102)
