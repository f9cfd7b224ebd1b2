"""The spread-robust, joint calibration of the sequential gate, against the rates it claims (issue 21).

The reference here is shaped like this repository's MRPC baseline: 30 seeds, accuracy sd 0.0163 and
F1 sd 0.0106, correlated at r = 0.97. Monte Carlo slack as in test_sequential_gate: 3 standard
errors at the claimed rate.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from harness.quality.sequential_calibration import (
    conservative_correlation,
    correlation_root,
    fail_boundaries,
    running_moments,
    statistic,
)
from harness.quality.sequential_gate import SequentialGateParameters, design_gates, simulate_runs

ALPHA = 0.01
TRIALS = 40_000
RATIOS = (1 / 1.5, 1.0, 1.5)


def mrpc_like_reference() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    z = rng.standard_normal((30, 2))
    z -= z.mean(axis=0)
    z = np.linalg.qr(z)[0] * math.sqrt(29)  # exactly uncorrelated, unit sd: the sds below are exact
    common, own = z[:, 0], z[:, 1]
    return {"accuracy": 0.80 + 0.0163 * common,
            "f1": 0.86 + 0.0106 * (0.97 * common + math.sqrt(1 - 0.97**2) * own)}


def design(**changes):
    parameters = SequentialGateParameters(**{"calibration_draws": TRIALS, "max_runs": 16, **changes})
    return design_gates(mrpc_like_reference(), {"accuracy": dataclasses.replace(parameters, effect=0.03),
                                                "f1": parameters})


@pytest.fixture(scope="module")
def designs():
    return design()


def assert_false_alarms_within_alpha(designs, *, mode: str, ratio: float) -> float:
    """The whole check (both metrics) at no change fails at most alpha of the time, up to MC slack."""
    failed, used = simulate_runs(designs, {}, mode=mode, trials=TRIALS, seed=5, sd_ratio=ratio)
    rate = float(failed.mean())
    assert rate <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / TRIALS), f"{mode} at spread x{ratio:.2f}: {rate:.4f}"
    return rate


@pytest.mark.parametrize("mode", ["normal", "resample"])
@pytest.mark.parametrize("ratio", RATIOS, ids=["x0.67", "x1", "x1.5"])
def test_false_alarms_hold_for_every_spread_in_the_range_under_both_models(designs, mode, ratio):
    assert_false_alarms_within_alpha(designs, mode=mode, ratio=ratio)


def test_the_worst_spread_binds_so_the_claim_is_not_vacuous(designs):
    """The rate rises with the candidates' spread and reaches close to alpha at 1.5x: the calibration
    spends its alpha where it must, rather than passing the tests by being needlessly strict."""
    rates = [float(simulate_runs(designs, {}, mode="normal", trials=TRIALS, seed=6, sd_ratio=r)[0].mean()) for r in RATIOS]
    assert rates[0] < rates[1] < rates[2]
    assert rates[2] > ALPHA / 2


def without_passes(designs):
    """The designs with every pass boundary but the last removed: the rate the fail boundaries are
    calibrated to (non-binding futility), which early passes only lower."""
    return {metric: dataclasses.replace(d, looks=tuple(dataclasses.replace(look, pass_boundary=-math.inf)
                                                       for look in d.looks))
            for metric, d in designs.items()}


@pytest.mark.parametrize("mode", ["normal", "resample"])
def test_false_alarms_hold_even_when_no_pass_stops_a_run(designs, mode):
    assert_false_alarms_within_alpha(without_passes(designs), mode=mode, ratio=1.5)


def test_a_loosened_fail_boundary_is_caught_by_the_false_alarm_test(designs):
    """The mutation test the issue asks for: moving every fail boundary 0.3 standard errors inwards
    (or calibrating for an unchanged spread only) must fail the rate tests above."""
    loosened = {metric: dataclasses.replace(d, looks=tuple(dataclasses.replace(look, fail_boundary=look.fail_boundary - 0.3)
                                                           for look in d.looks))
                for metric, d in designs.items()}
    with pytest.raises(AssertionError):
        assert_false_alarms_within_alpha(without_passes(loosened), mode="normal", ratio=1.5)
    with pytest.raises(AssertionError):
        assert_false_alarms_within_alpha(without_passes(design(spread_ratio=1.0)), mode="normal", ratio=1.5)


def test_the_statistic_on_the_references_spread_alone_breaks_at_a_wider_candidate_spread():
    """Why the candidates' own spread enters T: the pre-issue-21 gate (the reference's sd only)
    fails an unchanged but 1.5x noisier recipe several times as often as it states."""
    old = design(spread_ratio=1.0, variance_prior_runs=math.inf, calibrate_on_seeds=False)
    assert_false_alarms_within_alpha(old, mode="normal", ratio=1.0)
    failed, _ = simulate_runs(old, {}, mode="normal", trials=TRIALS, seed=5, sd_ratio=1.5)
    assert failed.mean() > 2 * ALPHA


def test_metrics_share_alpha_by_their_correlation_not_by_a_bonferroni_split():
    """At r = 0.97 the two metrics nearly always fail together, so the joint boundary sits inside the
    boundary each would need at alpha / 2 (Bonferroni), and buys power for it."""
    joint = design(max_runs=20)["accuracy"]
    reference = mrpc_like_reference()["accuracy"]
    parameters = SequentialGateParameters(calibration_draws=TRIALS, max_runs=20, effect=0.03, alpha=ALPHA / 2)
    split = design_gates({"accuracy": reference}, {"accuracy": parameters})["accuracy"]
    looks = range(5, min(joint.max_runs, split.max_runs))  # late looks: well estimated at 40k draws
    assert np.mean([joint.looks[k].fail_boundary for k in looks]) < np.mean([split.looks[k].fail_boundary for k in looks])
    assert joint.max_runs <= split.max_runs


def test_a_drop_is_still_caught_with_the_power_asked_for(designs):
    failed, used = simulate_runs(designs, {"accuracy": -0.03, "f1": -0.02}, mode="normal", trials=4_000, seed=7)
    assert failed.mean() >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / 4_000)
    assert used.max() <= max(d.max_runs for d in designs.values())


# --- the pieces ---------------------------------------------------------------------------------


def test_running_moments_are_each_prefixs_mean_and_sample_variance():
    values = np.random.default_rng(1).normal(0.86, 0.01, size=(3, 6))
    mean, variance = running_moments(values, axis=1)
    for k in range(1, 7):
        np.testing.assert_allclose(mean[:, k - 1], values[:, :k].mean(axis=1), rtol=1e-12)
        expected = values[:, :k].var(axis=1, ddof=1) if k > 1 else np.zeros(3)
        np.testing.assert_allclose(variance[:, k - 1], expected, rtol=1e-9, atol=1e-18)


def test_the_moderated_variance_moves_from_the_references_to_the_candidates():
    """After one run T uses the reference's spread; with many runs, the candidates' own."""
    one = statistic(0.01, 0.01, 0.04, 1, 30, 5.0)
    assert one == pytest.approx(0.01 / math.sqrt(0.01**2 / 30 + 0.01**2))
    many = statistic(0.01, 0.01, 0.04, 10_000, 30, 5.0)
    assert many == pytest.approx(0.01 / math.sqrt(0.01**2 / 30 + 0.04 / 10_000), rel=1e-3)
    fixed = statistic(0.01, 0.01, 0.04, 10_000, 30, math.inf)
    assert fixed == pytest.approx(0.01 / math.sqrt(0.01**2 / 30 + 0.01**2 / 10_000))


def test_fail_boundaries_spend_exactly_the_alpha_asked_for_on_the_worst_set():
    rng = np.random.default_rng(2)
    calm, wild = rng.standard_normal((100_000, 4)), 1.3 * rng.standard_normal((100_000, 4))
    spent = np.array([0.001, 0.002, 0.004, 0.01])
    boundary = fail_boundaries([calm, wild], spent)
    assert np.all(np.diff(spent) > 0)
    for i in range(4):  # the wilder set binds: it fails exactly what was spent, the calm one less
        crossed_wild = (wild[:, : i + 1] >= boundary[: i + 1]).any(axis=1).mean()
        crossed_calm = (calm[:, : i + 1] >= boundary[: i + 1]).any(axis=1).mean()
        assert crossed_wild <= spent[i] and crossed_wild == pytest.approx(spent[i], abs=2e-5)
        assert crossed_calm < crossed_wild


def test_the_correlation_is_taken_at_its_lower_bound_and_stays_a_valid_matrix():
    reference = mrpc_like_reference()
    goodness = np.column_stack([reference["accuracy"], reference["f1"]])
    sample = np.corrcoef(goodness, rowvar=False)[0, 1]
    lowered = conservative_correlation(goodness)
    assert sample == pytest.approx(0.97, abs=1e-9)
    assert 0.9 < lowered[0, 1] < sample and lowered[0, 0] == lowered[1, 1] == 1.0
    root = correlation_root(lowered)
    np.testing.assert_allclose(root @ root.T, lowered, atol=1e-12)
    twins = np.column_stack([goodness[:, 0], goodness[:, 0]])  # r = 1 exactly: singular, still a root
    root = correlation_root(conservative_correlation(twins))
    assert np.isfinite(root).all()
