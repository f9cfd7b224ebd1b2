"""Change points: a planted step is found at its run with its size, pure noise rarely shows one, and
the simulation that states those rates measures what it says.

The rates asserted here were measured with these seeds and trials (2026-05, ruptures 1.1.10); the
bounds leave room for Monte Carlo error and no more, so a looser penalty or a noisier noise estimate
fails them.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.history.change_points import (
    CONFIDENCE, MIN_CV, ChangePoint, detect_change_points, detection_table, noise_sd, simulate_detection,
)


def noisy(length: int, *, cv: float, seed: int, slower_from: int | None = None, step: float = 0.0) -> np.ndarray:
    values = 1000.0 * (1 + cv * np.random.default_rng(seed).standard_normal(length))
    if slower_from is not None:
        values[slower_from:] *= 1 - step
    return values


def test_a_20_percent_slowdown_at_2_percent_noise_is_found_at_its_commit_with_its_size():
    values = noisy(12, cv=0.02, seed=3, slower_from=7, step=0.20)
    commits = [f"c{i}" for i in range(12)]
    [change] = detect_change_points(values, commits)
    assert (change.index, change.commit, change.slowdown) == (7, "c7", True)
    assert change.interval[0] <= -0.20 <= change.interval[1]
    assert change.interval[0] <= change.relative_change <= change.interval[1]
    assert change.before == pytest.approx(np.exp(np.log(values[:7]).mean()))
    assert change.sentence().startswith(f"slower by {-change.relative_change * 100:.1f}% ({CONFIDENCE:.0%} interval")
    assert "from run 8 (c7)" in change.sentence()  # the 8th run, commit c7 (commits counted from c0)


def test_a_speedup_is_a_change_too_and_the_scale_does_not_matter():
    values = noisy(16, cv=0.02, seed=4, slower_from=8, step=-0.15)
    [fast] = detect_change_points(values)
    [scaled] = detect_change_points(values * 1000)
    assert fast.index == scaled.index == 8 and not fast.slowdown
    assert fast.relative_change == pytest.approx(scaled.relative_change)
    assert fast.sentence().startswith("faster by")


def test_two_steps_are_two_changes_each_measured_against_its_neighbours():
    values = np.concatenate([noisy(8, cv=0.01, seed=5), 0.8 * noisy(8, cv=0.01, seed=6), 0.6 * noisy(8, cv=0.01, seed=7)])
    first, second = detect_change_points(values)
    assert (first.index, second.index) == (8, 16)
    assert first.relative_change == pytest.approx(-0.2, abs=0.02)
    assert second.relative_change == pytest.approx(0.6 / 0.8 - 1, abs=0.02)


def test_steady_and_short_series_show_no_change():
    assert detect_change_points([500.0] * 20) == ()
    assert detect_change_points([100.0, 50.0, 100.0]) == ()  # under two runs a side, nothing can be confirmed
    assert noise_sd(np.log([500.0] * 20)) == MIN_CV


def test_identical_runs_either_side_of_a_step_give_an_exact_size():
    [change] = detect_change_points([100.0] * 5 + [90.0] * 5)
    assert change.relative_change == pytest.approx(-0.1)
    assert change.interval == pytest.approx((-0.1, -0.1))


@pytest.mark.parametrize("values, commits, message", [
    ([100.0, 0.0, 100.0, 100.0], None, "finite numbers > 0"),
    ([100.0, float("nan"), 100.0, 100.0], None, "finite numbers > 0"),
    ([[100.0, 100.0]], None, "finite numbers > 0"),
    ([100.0] * 4, ["c0"], "1 commits for 4 values"),
])
def test_what_cannot_be_a_series_of_samples_per_second_is_refused(values, commits, message):
    with pytest.raises(ValueError, match=message):
        detect_change_points(values, commits)


def test_the_noise_estimate_ignores_the_step():
    values = np.log(noisy(20, cv=0.02, seed=8, slower_from=10, step=0.5))
    assert noise_sd(values) < 0.03  # the 50% step's difference is left out


# --- the simulation and the rates it states ------------------------------------------------------


def test_pure_noise_rarely_shows_a_change():
    """Measured with these seeds: 2.7% over 10 runs at a CV of 2% and 0.75% over 15 runs at 3%. A
    penalty factor of 6 instead of 8 gives 5.8% and 1.95%, and fails here."""
    assert simulate_detection(length=10, cv=0.02, trials=2000, seed=1).alarm <= 0.045
    assert simulate_detection(length=15, cv=0.03, trials=2000, seed=2).alarm <= 0.015


def test_a_20_percent_step_is_found_at_its_run_nearly_always():
    rates = simulate_detection(length=10, cv=0.02, step=0.20, trials=500, seed=3)
    assert rates.exact >= 0.99 and rates.within_one == 1.0
    assert rates.coverage >= 0.92  # measured 95.6%: the interval holds the planted size about as often as it says


def test_detection_grows_with_the_step_and_the_series():
    small = simulate_detection(length=10, cv=0.02, step=0.05, trials=500, seed=4)
    medium = simulate_detection(length=10, cv=0.02, step=0.10, trials=500, seed=4)
    longer = simulate_detection(length=30, cv=0.02, step=0.05, trials=500, seed=4)
    assert 0.38 <= small.exact <= 0.58 < 0.95 <= medium.exact  # measured 47.8% and 98.4%; a factor of 12: 29%
    assert longer.exact > small.exact + 0.15
    assert small.exact <= small.within_one <= small.alarm


def test_a_step_placed_off_centre_is_found_where_it_is():
    rates = simulate_detection(length=20, cv=0.02, step=0.10, step_at=15, trials=300, seed=5)
    assert rates.step_at == 15 and rates.exact >= 0.95


def test_the_simulation_is_reproducible_and_tabled():
    rates = simulate_detection(length=10, cv=0.03, step=0.1, trials=50, seed=6)
    assert simulate_detection(length=10, cv=0.03, step=0.1, trials=50, seed=6) == rates
    table = detection_table([rates, simulate_detection(length=10, cv=0.03, trials=50, seed=6)])
    assert table.splitlines()[0].startswith("| runs | CV | slowdown | at run |")
    assert f"| 10   | 3% | 10%      | 5      | 50     | {rates.alarm:.1%}" in table


@pytest.mark.parametrize("arguments, message", [
    (dict(length=3, cv=0.02), "length >= 4"),
    (dict(length=10, cv=0.0), "0 < cv < 0.5"),
    (dict(length=10, cv=0.02, step=1.0), "0 <= step < 1"),
    (dict(length=10, cv=0.02, step=0.1, step_at=10), "step_at must lie inside the series"),
])
def test_a_simulation_that_cannot_be_run_is_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        simulate_detection(**arguments)


def test_a_change_point_says_where_and_how_much():
    change = ChangePoint(5, None, 100.0, 120.0, 0.2, (0.15, 0.25))
    assert change.sentence() == "faster by 20.0% (95% interval 15.0% to 25.0%) from run 6: 100 -> 120 samples/s"


def test_a_slowdown_only_the_newest_run_shows_is_put_on_the_newest_commit():
    """The pull request's own commit, not the innocent one before it (PELT's two-run segments put
    it one run early), with an interval from the other runs' spread."""
    series = [1000, 1010, 990, 1005, 995, 1000, 1008, 992, 1000, 700]
    (change,) = detect_change_points(series, [f"c{i}" for i in range(10)])
    assert (change.index, change.commit) == (9, "c9")
    assert change.relative_change == pytest.approx(-0.3, abs=0.005)
    assert change.interval[0] < change.relative_change < change.interval[1] < -0.25


def test_a_slow_first_run_is_a_change_after_it_not_at_run_two():
    (change,) = detect_change_points([700, 1000, 1010, 990, 1005, 995, 1000, 1008, 992, 1000])
    assert change.index == 1 and not change.slowdown
