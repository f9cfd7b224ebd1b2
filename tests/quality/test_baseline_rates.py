"""The committed baseline's rates: a statement over its truth's posterior, tied to the boundaries."""

import dataclasses

import numpy as np
import pytest

from harness.quality.baseline_rates import baseline_rates
from harness.quality.sequential_gate import SequentialGateParameters, design_gate


@pytest.fixture(scope="module")
def design():
    f1 = 0.86 + 0.0093 * np.random.default_rng(3).standard_normal(30)
    return design_gate(f1, SequentialGateParameters(calibration_draws=20_000, max_runs=16), metric="f1")


def test_a_loosened_fail_boundary_raises_this_baselines_false_alarms(design):
    tight = baseline_rates({"f1": design}, {}, truths=50, trials=2_000)
    looks = tuple(dataclasses.replace(look, fail_boundary=look.fail_boundary - 1.0) for look in design.looks)
    loose = baseline_rates({"f1": dataclasses.replace(design, looks=looks)}, {}, truths=50, trials=2_000)
    assert loose.mean > tight.mean + 3 * tight.monte_carlo_se
    assert tight.bound >= np.median(tight.per_truth) and tight.per_truth.size == 50


def test_power_at_the_pessimistic_sigma_is_below_the_average_over_sigma(design):
    drawn = baseline_rates({"f1": design}, {"f1": -0.02}, truths=50, trials=2_000)
    pessimistic = baseline_rates({"f1": design}, {"f1": -0.02}, truths=50, trials=2_000, pessimistic_sigma=True)
    assert pessimistic.mean < drawn.mean - 0.01
    assert drawn.expected_runs <= pessimistic.worst_case_runs <= design.max_runs


def test_noisier_candidates_fail_an_unchanged_recipe_more_often(design):
    calm = baseline_rates({"f1": design}, {}, mode="resample", truths=50, trials=2_000, sd_ratio=0.7)
    noisy = baseline_rates({"f1": design}, {}, mode="resample", truths=50, trials=2_000, sd_ratio=1.5)
    assert noisy.mean > calm.mean


@pytest.mark.parametrize("bad", [{"mode": "bootstrap"}, {"truths": 5}, {"trials": 10}, {"sd_ratio": 0}])
def test_bad_settings_are_refused(design, bad):
    with pytest.raises(ValueError):
        baseline_rates({"f1": design}, {}, **bad)


# --- guarantee = "this-baseline": calibrated to the bound ----------------------------------------


@pytest.fixture(scope="module")
def bounded(design):
    """The fixture's reference designed so that alpha bounds its own rate with 90% confidence."""
    return design_gate(design.reference_values, dataclasses.replace(design.parameters, guarantee="this-baseline",
                                                                    max_runs=20), metric="f1")


@pytest.mark.parametrize("mode", ["normal", "resample"])
def test_this_baselines_bound_holds_at_the_widest_spread_when_calibrated_to_it(design, bounded, mode):
    """The average guarantee leaves this baseline's 90% bound above alpha at a 1.5x spread (why the
    setting exists); calibrated to the bound, it is within alpha (other draws than the calibration's)."""
    average = baseline_rates({"f1": design}, {}, mode=mode, sd_ratio=1.5, truths=300, trials=2_000, seed=11)
    calibrated = baseline_rates({"f1": bounded}, {}, mode=mode, sd_ratio=1.5, truths=300, trials=2_000, seed=11)
    assert calibrated.bound <= 0.01 < average.bound
    assert all(b.fail_boundary >= a.fail_boundary for a, b in zip(design.looks, bounded.looks))


def test_the_bound_costs_runs_and_is_said_in_the_verdicts_words(design, bounded):
    assert bounded.max_runs >= design.max_runs
    assert "(for this baseline with 90% confidence)" in bounded.explain()
    assert "(on average over baselines)" in design.explain()


@pytest.mark.slow  # the runs search calibrates the bound at every cap it tries: about a minute
def test_a_cap_too_small_for_the_bound_names_the_runs_but_no_seed_count(bounded):
    """A search over seeds not yet recorded cannot know this baseline's offset: it would answer with
    the average guarantee's count (fewer seeds than there are), so it says what it can't say."""
    from harness.quality.sequential_gate import DesignError

    with pytest.raises(DesignError) as failure:
        design_gate(bounded.reference_values, dataclasses.replace(bounded.parameters, max_runs=bounded.max_runs - 3),
                    metric="f1")
    assert failure.value.seeds_needed is None and failure.value.runs_needed >= bounded.max_runs - 2
    assert "cannot be said before they are recorded" in str(failure.value)
    assert "it needs about" not in str(failure.value)


def test_too_few_seeds_for_the_bound_are_a_design_error_not_a_crash():
    """The bound needs the gated metrics' covariance: 3 seeds cannot inform two metrics, and the gate
    must say so as a DesignError (so `auto` falls back to exact reproduction), not raise a ValueError."""
    from harness.quality.sequential_gate import DesignError, design_gates

    parameters = SequentialGateParameters(guarantee="this-baseline", calibration_draws=20_000)
    with pytest.raises(DesignError, match="needs at least 4") as failure:
        design_gates({"accuracy": [0.80, 0.81, 0.79], "f1": [0.86, 0.87, 0.85]},
                     {"accuracy": parameters, "f1": parameters})
    assert failure.value.seeds_needed == 4


def test_values_equal_up_to_rounding_have_no_noise_to_design_from():
    """Three copies of MRPC's majority-class accuracy have a floating-point sd of 1e-16, not 0."""
    from harness.quality.sequential_gate import DesignError

    assert np.std([279 / 408] * 3, ddof=1) > 0
    with pytest.raises(DesignError, match="all equal"):
        design_gate([279 / 408] * 3, metric="accuracy")
