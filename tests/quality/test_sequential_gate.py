"""The sequential gate, checked by simulation against the error rates it claims.

Monte Carlo slack: a rate estimated from T trials has standard error sqrt(p (1 - p) / T); the
tests allow 3 standard errors at the claimed rate (a 0.13% one-sided chance of a spurious
failure per check), which is still far too little to let a gate that used the wrong alpha (2x)
or lost a third of its power pass. Seeds are fixed, so each test is deterministic.
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from scipy import stats

import harness.quality.sequential_gate as sequential_gate
from harness.run.config import ConfigError
from harness.quality.sequential_gate import (
    CONTINUE,
    NO_REGRESSION,
    REGRESSION,
    DesignError,
    SequentialDecision,
    SequentialGateParameters,
    decide,
    design_gate,
    operating_table,
    simulate,
)

SIGMA = 0.0093  # the seed-to-seed sd of validation F1
F1_MEAN = 0.86


def normal_reference(n: int, *, mean: float = F1_MEAN, sd: float = SIGMA) -> np.ndarray:
    """n values laid out on normal scores (Blom 1958), rescaled to exactly this mean and sd."""
    scores = stats.norm.ppf((np.arange(1, n + 1) - 0.375) / (n + 0.25))
    return mean + sd * (scores - scores.mean()) / scores.std(ddof=1)


def slack(rate: float, trials: int) -> float:
    return 3 * math.sqrt(rate * (1 - rate) / trials)


@pytest.fixture(scope="module")
def f1_design():
    return design_gate(normal_reference(30), metric="f1")


@pytest.fixture(scope="module")
def margin_design():
    """"Fail only if F1 fell by more than half a point", still catching a 2.5-point fall."""
    return design_gate(normal_reference(30), SequentialGateParameters(margin=0.005, effect=0.025), metric="f1")


@pytest.fixture(scope="module")
def loss_design():
    reference = normal_reference(30, mean=0.35, sd=0.02)
    return design_gate(reference, SequentialGateParameters(direction="lower", effect=0.045), metric="loss")


# --- what the design claims, against simulation -------------------------------------------------


@pytest.mark.parametrize("mode", ["normal", "resample"])
def test_an_unchanged_recipe_fails_at_most_alpha_of_the_time_and_passes_in_few_runs(f1_design, mode):
    trials = 40_000
    unchanged = simulate(f1_design, 0.0, mode=mode, trials=trials, seed=11)
    alpha = f1_design.parameters.alpha
    assert unchanged.fail_rate <= alpha + slack(alpha, trials)
    # Reported in the module's table: about 2.4 runs of at most 8.
    assert unchanged.expected_runs < f1_design.max_runs / 2
    assert unchanged.worst_case_runs <= f1_design.max_runs


@pytest.mark.parametrize("mode", ["normal", "resample"])
def test_a_two_point_drop_is_caught_with_the_power_asked_for(f1_design, mode):
    assert f1_design.power_at_effect >= 0.95
    trials = 4_000
    dropped = simulate(f1_design, -0.02, mode=mode, trials=trials, seed=12)
    assert dropped.fail_rate >= 0.95 - slack(0.95, trials)


def test_the_detectable_worsening_it_reports_is_detected(f1_design):
    assert f1_design.detectable_worsening <= f1_design.parameters.effect
    trials = 4_000
    at_claim = simulate(f1_design, -f1_design.detectable_worsening, trials=trials, seed=13)
    assert at_claim.fail_rate >= 0.95 - slack(0.95, trials)
    # and it is not a vacuous claim: half of that drop is caught far less often
    assert simulate(f1_design, -f1_design.detectable_worsening / 2, trials=trials, seed=13).fail_rate < 0.7


@pytest.fixture(scope="module")
def one_look_design():
    """K = 1 under the normal model at the reference's spread: a fixed-sample test whose exact
    behaviour is known in closed form (at one look the candidate's own spread has no weight yet)."""
    parameters = SequentialGateParameters(max_runs=1, effect=0.045, spread_ratio=1.0, calibrate_on_seeds=False)
    return design_gate(normal_reference(30), parameters)


def test_a_one_look_design_is_the_one_sided_t_test_and_redraws_the_reference(one_look_design):
    """With K = 1 the pivotal statistic is Student's t with n - 1 df, so the calibrated fail boundary
    must be the t quantile at the calibrated alpha; a boundary from the wrong alpha, or one that
    ignored the noise in the reference sd (a normal quantile), lies outside the tolerance."""
    design, parameters = one_look_design, one_look_design.parameters
    p = parameters.calibrated_alpha
    quantile = stats.t.isf(p, 29)
    tolerance = 4 * math.sqrt(p * (1 - p) / parameters.calibration_draws) / stats.t.pdf(quantile, 29)
    assert design.looks[0].fail_boundary == pytest.approx(quantile, abs=tolerance)
    assert abs(stats.norm.isf(p) - quantile) > tolerance
    # Simulated over fresh references and candidates the rate is the calibrated alpha, not the lower
    # rate a fixed reference would give (P(Z >= quantile * sqrt(1 + 1/30)) = 0.006).
    trials = 50_000
    rate = simulate(design, 0.0, trials=trials, seed=14).fail_rate
    assert rate == pytest.approx(p, abs=slack(p, trials))


def test_power_is_averaged_over_the_uncertainty_in_sigma(one_look_design):
    """The claimed power is the noncentral-t power averaged over sigma = sd * sqrt(29 / chi2_29),
    not the (higher) power at sigma = sd that plugging the estimate in would promise."""
    design = one_look_design
    boundary = design.looks[0].fail_boundary
    noncentrality = design.parameters.effect / design.reference_sd / math.sqrt(1 / 30 + 1)
    sigma_ratio = np.sqrt(29 / stats.chi2.ppf((np.arange(2_000) + 0.5) / 2_000, 29))
    averaged = np.mean(stats.nct.sf(boundary, 29, noncentrality / sigma_ratio))
    plugged_in = stats.nct.sf(boundary, 29, noncentrality)
    tolerance = 4 * math.sqrt(averaged * (1 - averaged) / design.parameters.calibration_draws)
    assert design.power_at_effect == pytest.approx(averaged, abs=tolerance)
    assert plugged_in - averaged > tolerance


def test_errors_are_spent_as_hwang_shih_decani_functions_of_the_information(f1_design):
    p = f1_design.parameters
    runs = np.arange(1, p.max_runs + 1)  # the schedule is laid out over the cap, then cut
    information = 1 / (1 / 30 + 1 / runs)
    fraction = (information / information[-1])[: f1_design.max_runs]

    def spent(total, gamma):
        return total * (1 - np.exp(-gamma * fraction)) / (1 - np.exp(-gamma))

    assert (p.alpha_spending_gamma, p.beta_spending_gamma) == (-2.0, 1.0)  # alpha late, beta early
    assert [look.alpha_spent for look in f1_design.looks] == pytest.approx(spent(p.calibrated_alpha, -2.0))
    assert [look.beta_spent for look in f1_design.looks] == pytest.approx(spent(1 - p.power, 1.0))


# --- direction and margin -----------------------------------------------------------------------


def test_for_a_loss_a_rise_is_the_regression(loss_design):
    design = loss_design
    assert all(look.fail_threshold > design.reference_mean for look in design.looks)
    assert decide(design, [0.50]).verdict == REGRESSION
    assert decide(design, [0.20]).verdict == NO_REGRESSION
    trials = 4_000
    assert simulate(design, +0.045, trials=trials, seed=21).fail_rate >= 0.95 - slack(0.95, trials)
    assert simulate(design, -0.045, trials=trials, seed=21).fail_rate == 0.0


def test_lower_is_better_mirrors_higher_is_better(loss_design):
    lower = loss_design
    higher = design_gate(-normal_reference(30, mean=0.35, sd=0.02), SequentialGateParameters(effect=0.045))
    assert [look.fail_boundary for look in lower.looks] == [look.fail_boundary for look in higher.looks]
    for mine, mirrored in zip(lower.looks, higher.looks):
        assert mine.fail_threshold == pytest.approx(-mirrored.fail_threshold, abs=1e-12)
        assert mine.pass_threshold == pytest.approx(-mirrored.pass_threshold, abs=1e-12)


def test_with_a_margin_a_drop_of_exactly_the_margin_fails_at_most_alpha(margin_design, f1_design):
    design, margin = margin_design, margin_design.parameters.margin
    trials = 40_000
    at_margin = simulate(design, -margin, trials=trials, seed=31)
    assert at_margin.fail_rate <= 0.01 + slack(0.01, trials)
    assert simulate(design, 0.0, trials=trials, seed=31).fail_rate < at_margin.fail_rate
    # The fail boundary does not depend on the margin, so in metric units it moves by exactly m.
    for with_margin, without in zip(design.looks, f1_design.looks):
        assert with_margin.fail_boundary == without.fail_boundary
        assert with_margin.fail_threshold == pytest.approx(without.fail_threshold - margin, abs=1e-12)


# --- the boundaries follow alpha ----------------------------------------------------------------


def test_halving_alpha_moves_every_fail_boundary_further_out(f1_design):
    stricter = design_gate(normal_reference(30), SequentialGateParameters(alpha=0.005))
    for strict, plain in zip(stricter.looks, f1_design.looks):
        assert strict.fail_boundary > plain.fail_boundary
        assert strict.fail_threshold < plain.fail_threshold
        assert strict.alpha_spent == pytest.approx(plain.alpha_spent / 2, rel=0.05)


def test_a_generous_cap_is_cut_to_the_looks_the_power_needs(f1_design):
    generous = design_gate(normal_reference(30), SequentialGateParameters(max_runs=20))
    assert f1_design.max_runs < 12 and generous.max_runs < 20
    assert generous.looks[-1].fail_boundary == generous.looks[-1].pass_boundary
    trials = 20_000
    assert simulate(generous, 0.0, trials=trials, seed=71).fail_rate <= 0.01 + slack(0.01, trials)
    assert simulate(generous, -0.02, trials=4_000, seed=71).fail_rate >= 0.95 - slack(0.95, 4_000)


def test_the_design_is_deterministic(f1_design):
    sequential_gate._designed.cache_clear()  # calibrate afresh, not the remembered design
    again = design_gate(normal_reference(30), metric="f1")
    assert again == f1_design and again is not f1_design


# --- decide ---------------------------------------------------------------------------------------


def test_a_candidate_far_below_fails_after_one_run(f1_design):
    decision = decide(f1_design, [F1_MEAN - 0.06])
    assert (decision.verdict, decision.runs, decision.max_runs) == (REGRESSION, 1, f1_design.max_runs)
    assert decision.values == (F1_MEAN - 0.06,)
    assert decision.candidate_mean == pytest.approx(F1_MEAN - 0.06)
    assert decision.worsening == pytest.approx(0.06)
    assert decision.statistic >= decision.look.fail_boundary
    opening = f"REGRESSION: after 1 of {f1_design.max_runs} runs the candidate mean f1 0.8"
    assert decision.sentence.startswith(opening)


def test_a_candidate_far_above_passes_after_one_run(f1_design):
    decision = decide(f1_design, [F1_MEAN + 0.03])
    assert (decision.verdict, decision.runs) == (NO_REGRESSION, 1)
    assert decision.candidate_mean >= decision.look.pass_threshold
    assert "NO REGRESSION" in decision.sentence


def test_a_candidate_near_the_reference_asks_for_another_run(f1_design):
    decision = decide(f1_design, [F1_MEAN - SIGMA])
    assert decision.verdict == CONTINUE
    assert decision.look.fail_threshold < decision.candidate_mean < decision.look.pass_threshold
    assert "run another seed" in decision.sentence


@pytest.mark.parametrize("name", ["f1_design", "margin_design", "loss_design"])
def test_decide_never_continues_at_the_cap_and_agrees_with_the_thresholds_in_metric_units(name, request):
    design = request.getfixturevalue(name)
    # Orient every mean so that larger is better; the thresholds are in the metric's own units.
    better = 1.0 if design.parameters.direction == "higher" else -1.0
    sd, effect = design.reference_sd, design.parameters.effect
    rng = np.random.default_rng(41)
    verdicts = set()
    for _ in range(300):
        true_mean = design.reference_mean - better * rng.uniform(-0.5 * effect, 1.5 * effect)
        values = true_mean + sd * rng.standard_normal(design.max_runs)
        decision = decide(design, values)
        verdicts.add(decision.verdict)
        assert decision.verdict in (REGRESSION, NO_REGRESSION)
        assert decision.candidate_mean == pytest.approx(values[: decision.runs].mean())
        mean = better * decision.candidate_mean
        if decision.verdict == REGRESSION:
            assert mean <= better * decision.fail_threshold + 1e-12
        elif decision.runs < design.max_runs:
            assert mean >= better * decision.pass_threshold - 1e-12
        else:
            assert mean > better * decision.fail_threshold - 1e-12
        if decision.runs == 1:  # one run has no spread of its own: the design's thresholds apply as printed
            assert (decision.fail_threshold, decision.pass_threshold) == (decision.look.fail_threshold,
                                                                          decision.look.pass_threshold)
    assert verdicts == {REGRESSION, NO_REGRESSION}


def test_the_last_look_has_one_boundary_and_a_decision_cannot_continue_there(f1_design):
    last = f1_design.looks[-1]
    assert last.fail_boundary == last.pass_boundary
    assert last.fail_threshold == last.pass_threshold
    with pytest.raises(ValueError, match="cannot continue"):
        SequentialDecision(CONTINUE, 8, 8, (0.86,) * 8, 0.86, 0.0, 0.0, last, "")


def test_runs_after_a_decision_do_not_change_it(f1_design):
    decision = decide(f1_design, [F1_MEAN - 0.06, F1_MEAN + 0.05])
    assert (decision.verdict, decision.runs, decision.values) == (REGRESSION, 1, (F1_MEAN - 0.06,))
    assert "1 later run(s) were not used" in decision.sentence


@pytest.mark.parametrize(
    ("values", "message"),
    [([], "at least one"), (None, "decides by run"), ([0.86, float("nan")], "finite")],
)
def test_decide_rejects_impossible_candidate_lists(f1_design, values, message):
    values = [0.86] * (f1_design.max_runs + 1) if values is None else values
    with pytest.raises(ValueError, match=message):
        decide(f1_design, values)


# --- when the reference cannot support the claim ------------------------------------------------


def test_three_reference_seeds_raise_and_name_the_seeds_that_would_do():
    with pytest.raises(DesignError) as failure:
        design_gate(normal_reference(3), metric="f1")
    error = failure.value
    assert isinstance(error, ValueError)
    assert error.seeds_needed is not None and error.seeds_needed > 3
    assert f"it needs about {error.seeds_needed} reference seeds" in str(error)
    assert "With 3 reference seeds no max_runs up to 50 is enough" in str(error)
    # "about": the search designs for more seeds under the normal model alone (there are no seeds to
    # resample yet), and the real design also calibrates on resampled seeds, so allow one more
    design = design_gate(normal_reference(error.seeds_needed + 1), metric="f1")
    assert design.power_at_effect >= 0.95
    with pytest.raises(DesignError):
        design_gate(normal_reference(error.seeds_needed - 1), metric="f1")


def test_too_few_candidate_runs_raise_and_name_the_runs_that_would_do():
    with pytest.raises(DesignError) as failure:
        design_gate(normal_reference(30), SequentialGateParameters(max_runs=2))
    error = failure.value
    assert error.seeds_needed is None
    assert "No number of reference seeds (up to 100000) is enough with max_runs=2" in str(error)
    assert error.runs_needed is not None and f"it needs max_runs={error.runs_needed}" in str(error)
    design_gate(normal_reference(30), SequentialGateParameters(max_runs=error.runs_needed))


@pytest.mark.parametrize("reference", [[0.86], [0.86, 0.86, 0.86]])
def test_a_reference_without_measurable_noise_raises(reference):
    with pytest.raises(DesignError, match="reference values"):
        design_gate(reference)


# --- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("alpha", 0.0, r"alpha must be in \(0, 0.5\)"),
        ("alpha", 0.5, r"alpha must be in \(0, 0.5\)"),
        ("alpha", float("nan"), r"alpha must be in \(0, 0.5\)"),
        ("power", 0.5, r"power must be in \(0.5, 1\)"),
        ("power", 1.0, r"power must be in \(0.5, 1\)"),
        ("effect", 0.0, r"effect .* must be a finite number > 0"),
        ("effect", -0.02, r"effect .* must be a finite number > 0"),
        ("effect", float("inf"), r"effect .* must be a finite number > 0"),
        ("margin", -0.001, r"margin must be in \[0, effect\)"),
        ("margin", 0.02, r"margin must be in \[0, effect\)"),
        ("direction", "up", r"direction must be one of \('higher', 'lower'\)"),
        ("max_runs", 0, r"max_runs must be an integer in \[1, 50\]"),
        ("max_runs", 2.5, r"max_runs must be an integer in \[1, 50\]"),
        ("max_runs", True, r"max_runs must be an integer in \[1, 50\]"),
        ("calibration_draws", 1_000, r"calibration_draws must be an integer >= 10000"),
        ("alpha_spending_gamma", float("inf"), r"alpha_spending_gamma must be a finite number"),
    ],
)
def test_each_parameter_is_validated_with_its_range(field, value, message):
    with pytest.raises(ConfigError, match=message):
        SequentialGateParameters(**{field: value})


# --- simulation modes and reports -----------------------------------------------------------------


def test_resampling_keeps_the_reference_shape_the_normal_model_ignores():
    """A reference with a long lower tail (three bad seeds) makes one-sided false alarms more likely;
    the normal model cannot see it, resampling the recorded values does. A design calibrated on the
    normal model alone fails an unchanged recipe nearly twice as often as it states when the seeds are
    resampled; the default also calibrates on the resampled seeds and keeps its rate under both."""
    scores = normal_reference(30, mean=0.0, sd=1.0)
    scores[:3] *= 2.5
    reference = F1_MEAN + SIGMA * (scores - scores.mean()) / scores.std(ddof=1)
    trials = 20_000
    # at an unchanged spread, where this design spends all its alpha (the default also covers 1.5x)
    normal_only = design_gate(reference, SequentialGateParameters(calibrate_on_seeds=False, spread_ratio=1.0))
    assert simulate(normal_only, 0.0, mode="normal", trials=trials, seed=51).fail_rate <= 0.01 + slack(0.01, trials)
    assert simulate(normal_only, 0.0, mode="resample", trials=trials, seed=51).fail_rate > 0.015
    design = design_gate(reference)
    for mode in ("normal", "resample"):
        assert simulate(design, 0.0, mode=mode, trials=trials, seed=51).fail_rate <= 0.01 + slack(0.01, trials)


def test_simulate_rejects_unknown_modes_and_tiny_trial_counts(f1_design):
    with pytest.raises(ValueError, match="mode must be one of"):
        simulate(f1_design, 0.0, mode="bootstrap")
    with pytest.raises(ValueError, match="trials must be an integer >= 100"):
        simulate(f1_design, 0.0, trials=10)


def test_the_operating_table_has_a_row_per_shift(f1_design):
    results = [simulate(f1_design, shift, trials=500, seed=61) for shift in (0.0, -0.02)]
    table = operating_table(results).splitlines()
    assert table[0].split("|")[1:-1] == [
        " true shift ",
        " mode   ",
        " P(fail) ± MC s.e. ",
        " expected runs ",
        " worst-case runs ",
        " trials ",
    ]
    assert table[2].startswith("| +0 ") and table[3].startswith("| -0.02 ")
    assert f"{results[1].fail_rate:.4f}" in table[3]


def test_the_design_explains_its_promise_and_every_look(f1_design):
    text = f1_design.explain()
    assert ("A recipe whose true fall is at most 0 fails at most 1.00% of the time (on average over baselines) "
            "over all its metrics") in text
    assert f"within {f1_design.max_runs} candidate runs" in text
    table_lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table_lines) == 2 + f1_design.max_runs  # header, rule, one row per look


def test_the_docstring_examples_run():
    assert doctest.testmod(sequential_gate).failed == 0


def test_the_normal_simulation_draws_metrics_correlated_as_the_reference_seeds_are():
    """Accuracy and F1 of one seed move together (r = 0.97 on MRPC); drawn independently, the simulated
    check would disagree with itself more often and need more runs than the real one."""
    rng = np.random.default_rng(3)
    common, own = rng.standard_normal(30), rng.standard_normal(30)
    accuracy = 0.80 + 0.008 * common
    f1 = 0.86 + 0.006 * (0.97 * common + math.sqrt(1 - 0.97**2) * own)
    designs = {"accuracy": design_gate(accuracy, metric="accuracy"), "f1": design_gate(f1, metric="f1")}
    observed = np.corrcoef(accuracy, f1)[0, 1]
    reference, candidates = sequential_gate._draws(designs, ["accuracy", "f1"], mode="normal", trials=4000, runs=2, seed=1)
    drawn = candidates.reshape(-1, 2)
    assert np.corrcoef(drawn.T)[0, 1] == pytest.approx(observed, abs=0.01)
    assert drawn.std(axis=0, ddof=1) == pytest.approx([designs["accuracy"].reference_sd, designs["f1"].reference_sd], rel=0.02)
    assert np.corrcoef(reference.reshape(-1, 2).T)[0, 1] == pytest.approx(observed, abs=0.01)
    # A metric that never varied, or two that are one: still a valid draw, no NaN.
    flat = {"accuracy": designs["accuracy"], "twin": design_gate(accuracy + 0.01, metric="twin")}
    _, twins = sequential_gate._draws(flat, ["accuracy", "twin"], mode="normal", trials=200, runs=2, seed=2)
    assert np.isfinite(twins).all() and np.corrcoef(twins.reshape(-1, 2).T)[0, 1] == pytest.approx(1.0, abs=1e-9)


def test_a_candidate_spread_other_than_the_baselines_is_simulated(f1_design):
    """sd_ratio scales the candidates' spread about the true mean: 1 is the default draw itself, a wider
    spread fails an unchanged recipe more often (what issue 21 measures), and nonsense is refused."""
    same = sequential_gate.simulate_runs({"f1": f1_design}, {}, mode="normal", trials=4000, seed=4)
    ratio_one = sequential_gate.simulate_runs({"f1": f1_design}, {}, mode="normal", trials=4000, seed=4, sd_ratio=1.0)
    np.testing.assert_array_equal(same[0], ratio_one[0])
    np.testing.assert_array_equal(same[1], ratio_one[1])
    wider, _ = sequential_gate.simulate_runs({"f1": f1_design}, {}, mode="normal", trials=4000, seed=4, sd_ratio=1.5)
    assert wider.mean() > same[0].mean() + 3 * math.sqrt(0.01 / 4000)
    with pytest.raises(ValueError, match="sd_ratio must be a number in"):
        sequential_gate.simulate_runs({"f1": f1_design}, {}, sd_ratio=0)
