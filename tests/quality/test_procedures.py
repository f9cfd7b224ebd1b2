"""The check flow takes its procedure: each says which seeds it may ask for and decides; one function
chooses it, and the gate and the runs trained ahead of it ask that same procedure. Nothing trains."""

from __future__ import annotations

import numpy as np
import pytest

from fake_runs import run_result, smoke_run_config
from harness.quality.baselines import BaselineError, BaselineStore, measured_from_runs
from harness.quality.gate import GatePolicy
from harness.quality.procedures import BandProcedure, ReproductionProcedure, SequentialProcedure, choose_procedure
from harness.quality.regression import GatePlan, perform_quality_check, procedure_for
from harness.quality.seeds_ahead import NothingAhead, candidate_config
from harness.quality.sequential_check import designs_for
from harness.quality.sequential_gate import simulate, simulate_runs

from .test_seeds_ahead import POLICY, RecordingFineTune, record_baseline


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> BaselineStore:
    store = BaselineStore(tmp_path_factory.mktemp("baselines"))
    record_baseline(store)  # 30 seeds, 42-71
    return store


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> BaselineStore:
    small = BaselineStore(tmp_path_factory.mktemp("small"))
    config = smoke_run_config()
    small.save(measured_from_runs(config, [run_result(config.replace(seed=s), accuracy=0.7 + 0.01 * (s % 3)) for s in (42, 43, 44)]))
    return small


def _choose(store: BaselineStore, policy: GatePolicy, config=None):
    plan = GatePlan.of(config or smoke_run_config(), policy)
    return procedure_for(plan, store.load(plan.baseline), store)


def test_the_sequential_procedure_asks_for_the_configs_seed_then_seeds_after_the_baseline(store):
    procedure = _choose(store, POLICY)
    assert isinstance(procedure, SequentialProcedure) and procedure.note is None
    cap = procedure.max_runs
    assert 1 < cap < POLICY.max_runs  # the design ends at the look with enough power, inside the cap
    assert procedure.seeds(smoke_run_config(), store.load(GatePlan.of(smoke_run_config(), POLICY).baseline)) == (
        (42,) + tuple(range(72, 72 + cap - 1)))


def test_the_band_runs_only_by_name_or_without_a_baseline_and_auto_never_falls_back_to_it(store, small, tmp_path):
    by_name = _choose(store, GatePolicy(procedure="band", metrics=("accuracy",)))
    assert isinstance(by_name, BandProcedure) and by_name.seeds(smoke_run_config(), None) == (42,)
    assert "the band's simulated rates on this baseline" in by_name.note  # its rates, measured, beside the verdict
    none = _choose(BaselineStore(tmp_path), POLICY)
    assert isinstance(none, BandProcedure) and "no baseline at" in none.reason
    reproduction = _choose(small, GatePolicy(metrics=("accuracy",)))
    assert isinstance(reproduction, ReproductionProcedure) and reproduction.max_runs == 1
    assert "only a run that reproduces a baseline seed passes" in reproduction.note
    assert "harness record-baseline" in reproduction.problem  # the fix: a command that records enough seeds
    assert 'procedure = "band"' in reproduction.problem  # and the cheap alternative, by name
    with pytest.raises(BaselineError, match="too few seeds for the sequential gate"):
        _choose(small, POLICY)


def test_auto_on_a_small_baseline_passes_a_reproduced_seed_and_fails_anything_else(small):
    """No silent downgrade: the one-run band's rates are unknown here, so a run that is not unchanged
    code (it does not reproduce a baseline seed) fails with the fix, after one fine-tune."""
    config = smoke_run_config()
    policy = GatePolicy(metrics=("accuracy",), bootstrap_samples=20)
    reproduced = perform_quality_check(config, fine_tune=lambda c: run_result(c, accuracy=0.7 + 0.01 * (42 % 3)),
                                       store=small, policy=policy)
    assert reproduced.passed and not reproduced.report.problems
    other = perform_quality_check(config, fine_tune=lambda c: run_result(c, accuracy=0.71), store=small, policy=policy)
    assert not other.passed
    assert any("did not reproduce a baseline seed" in problem and "record-baseline" in problem for problem in other.report.problems)


def test_choose_procedure_is_given_the_baseline_and_the_resolved_policy(store):
    plan = GatePlan.of(smoke_run_config(), POLICY)
    baseline = store.load(plan.baseline)
    chosen = choose_procedure(baseline, plan.policy, store.path(plan.baseline), plan.config, record_command=plan.record_command)
    assert chosen.designs.keys() == designs_for(baseline, plan.policy).designs.keys() == {"accuracy"}


@pytest.mark.parametrize("policy", [POLICY, GatePolicy(procedure="band", metrics=("accuracy",), bootstrap_samples=20),
                                    GatePolicy(metrics=("accuracy",), bootstrap_samples=20)],
                         ids=["sequential", "band", "auto"])
@pytest.mark.parametrize("which", ["full", "small", "none"])
def test_the_gate_fine_tunes_only_seeds_its_procedure_names_and_seeds_ahead_names_the_same(store, small, tmp_path,
                                                                                        policy, which):
    stores = {"full": store, "small": small, "none": BaselineStore(tmp_path)}
    chosen = stores[which]
    config = smoke_run_config()
    if which == "small" and policy.procedure == "sequential":
        with pytest.raises(BaselineError):
            perform_quality_check(config, fine_tune=RecordingFineTune(), store=chosen, policy=policy)
        return
    plan = GatePlan.of(config, policy)
    seeds = procedure_for(plan, chosen.load(plan.baseline), chosen).seeds(config, chosen.load(plan.baseline))
    fine_tune = RecordingFineTune()
    perform_quality_check(config, fine_tune=fine_tune, store=chosen, policy=policy)
    asked = tuple(c.seed for c in fine_tune.asked)
    assert asked == seeds[: len(asked)]
    for run in range(2, len(seeds) + 2):
        if run <= len(seeds):
            assert candidate_config(config, run=run, store=chosen, policy=policy).seed == seeds[run - 1]
        else:
            with pytest.raises(NothingAhead):
                candidate_config(config, run=run, store=chosen, policy=policy)


def test_one_simulator_a_single_metric_is_the_check_with_one_design(store):
    """simulate() is simulate_runs() with one design: same draws, same stopping rule, same numbers."""
    baseline = store.load(GatePlan.of(smoke_run_config(), POLICY).baseline)
    design = designs_for(baseline, GatePolicy(metrics=("accuracy",), max_runs=10)).designs["accuracy"]
    for mode in ("resample", "normal"):
        failed, used = simulate_runs({"accuracy": design}, {"accuracy": -0.02}, mode=mode, trials=3000, seed=5)
        single = simulate(design, -0.02, mode=mode, trials=3000, seed=5)
        assert (single.fail_rate, single.expected_runs, single.worst_case_runs) == (failed.mean(), used.mean(), used.max())


def test_the_simulators_stopping_rule_matches_a_trial_by_trial_replay_of_decide(store):
    """The vectorised rule against the gate's own decide(), one simulated trial at a time."""
    from harness.quality.sequential_gate import NO_REGRESSION, REGRESSION, _draws, decide

    baseline = store.load(GatePlan.of(smoke_run_config(), POLICY).baseline)
    design = designs_for(baseline, GatePolicy(metrics=("accuracy",), max_runs=6)).designs["accuracy"]
    failed, used = simulate_runs({"accuracy": design}, {"accuracy": -0.01}, mode="normal", trials=200, seed=9)
    reference, candidates = _draws({"accuracy": design}, ["accuracy"], mode="normal", trials=200,
                                runs=design.max_runs, seed=9)
    for trial in range(200):
        redrawn = design_for_reference(design, reference[trial, :, 0])
        values = list(candidates[trial, :, 0] - 0.01)
        verdict, runs = None, 0
        for k in range(1, design.max_runs + 1):
            decision = decide(redrawn, values[:k])
            if decision.verdict in (REGRESSION, NO_REGRESSION):
                verdict, runs = decision.verdict, k
                break
        assert (verdict == REGRESSION, runs) == (bool(failed[trial]), int(used[trial]))
    assert 0 < failed.mean() < 1 and used.min() < used.max()  # the replay saw both verdicts and several stopping times


def design_for_reference(design, reference: np.ndarray):
    """The same boundaries (standardized) against another reference sample, as a re-recorded baseline."""
    import dataclasses

    return dataclasses.replace(design, reference_values=tuple(float(v) for v in reference),
                               reference_mean=float(np.mean(reference)), reference_sd=float(np.std(reference, ddof=1)))
