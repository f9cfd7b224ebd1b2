"""The noise study: its intervals hold their stated confidence (checked by simulation), its
recommendation follows its rule, and its report and command work on fabricated baselines."""

from __future__ import annotations

import dataclasses
import math
import statistics

import numpy as np
import pytest
from fake_runs import no_settings, run_result
from scipy import stats

from harness.cli import main
from harness.run.config import RunConfig
from harness.quality.baselines import BaselineError, BaselineStore, MeasuredBaseline, MetricStats, measured_from_runs
from harness.quality.noise_study import (
    RecipeSpread,
    mean_difference_interval,
    noise_study_markdown,
    recommend,
    recommendation_line,
    sd_interval,
    sd_ratio_interval,
    smallest_visible_ratio,
    spread_p_value,
    study_baselines,
    study_record_command,
)
from harness.settings import Settings

OFFLINE = Settings(hub_offline=True)


def normal_values(rng, n, *, mean=0.85, sd=0.01) -> tuple[float, ...]:
    return tuple(float(v) for v in rng.normal(mean, sd, size=n))


def fabricated(recipe: str, f1: tuple[float, ...], *, accuracy: tuple[float, ...] | None = None,
               seconds: list[float] | None = None, **recipe_changes) -> MeasuredBaseline:
    """A measured baseline of ``recipe`` on the CPU with exactly these per-seed values."""
    config = RunConfig.from_recipe(recipe, device="cpu", **recipe_changes)
    base = measured_from_runs(config, [run_result(config.replace(seed=42 + i)) for i in range(len(f1))])
    accuracy = accuracy or tuple(v - 0.06 for v in f1)
    provenance = {**base.provenance, "train_seconds": seconds or [300.0 + i for i in range(len(f1))]}
    metrics = {"accuracy": MetricStats(accuracy), "f1": MetricStats(f1), "loss": MetricStats(tuple(0.4 for _ in f1))}
    return dataclasses.replace(base, metrics=metrics, provenance=provenance)


# --- the statistics hold what they claim ------------------------------------------------------------


@pytest.mark.parametrize("confidence", [0.80, 0.95])
def test_the_sd_interval_covers_the_true_sd_as_often_as_its_confidence_says(confidence):
    rng = np.random.default_rng(1)
    trials, true_sd = 3000, 0.0106
    covered = 0
    for _ in range(trials):
        low, high = sd_interval(normal_values(rng, 10, sd=true_sd), confidence)
        covered += low <= true_sd <= high
    se = math.sqrt(confidence * (1 - confidence) / trials)
    assert abs(covered / trials - confidence) < 4 * se


def test_the_sd_interval_is_the_chi_square_one_and_widens_with_confidence():
    values = (0.84, 0.86, 0.85, 0.87, 0.83, 0.86, 0.85, 0.88, 0.84, 0.86)
    s, n = statistics.stdev(values), len(values)
    low, high = sd_interval(values, 0.95)
    assert low == pytest.approx(s * math.sqrt((n - 1) / stats.chi2.ppf(0.975, n - 1)))
    assert high == pytest.approx(s * math.sqrt((n - 1) / stats.chi2.ppf(0.025, n - 1)))
    wide_low, wide_high = sd_interval(values, 0.99)
    narrow_low, narrow_high = sd_interval(values, 0.80)
    assert wide_low < low < narrow_low < s < narrow_high < high < wide_high
    # more seeds, narrower interval: the width is what 10 seeds buy against 30
    more = values * 3
    assert sd_interval(more)[1] - sd_interval(more)[0] < high - low


def test_the_sd_ratio_interval_covers_the_true_ratio_as_often_as_its_confidence_says():
    rng = np.random.default_rng(2)
    trials, covered = 3000, 0
    for _ in range(trials):
        ratio, low, high = sd_ratio_interval(normal_values(rng, 10, sd=0.006), normal_values(rng, 30, sd=0.0106))
        covered += low <= 0.006 / 0.0106 <= high
        assert low < ratio < high
    assert abs(covered / trials - 0.95) < 4 * math.sqrt(0.95 * 0.05 / trials)


def test_brown_forsythe_keeps_its_level_on_equal_spreads_and_sees_a_halved_sd():
    rng = np.random.default_rng(3)
    trials = 2000
    false_alarms = sum(spread_p_value(normal_values(rng, 10), normal_values(rng, 30)) < 0.05 for _ in range(trials))
    assert false_alarms / trials < 0.05 + 4 * math.sqrt(0.05 * 0.95 / trials)
    caught = sum(spread_p_value(normal_values(rng, 10, sd=0.004), normal_values(rng, 30, sd=0.0106)) < 0.05
                 for _ in range(300))
    assert caught / 300 > 0.5
    assert math.isnan(spread_p_value((0.8, 0.8), (0.7, 0.7)))


def test_the_mean_difference_is_welchs():
    a, b = (0.84, 0.86, 0.85, 0.88), (0.80, 0.83, 0.81, 0.86, 0.84, 0.79)
    difference, low, high = mean_difference_interval(a, b)
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (difference, low, high) == pytest.approx((statistics.fmean(a) - statistics.fmean(b), ci.low, ci.high))
    assert mean_difference_interval((0.8, 0.8), (0.7, 0.7)) == pytest.approx((0.1, 0.1, 0.1))


# --- the recommendation ---------------------------------------------------------------------------


def spreads(**recipes: tuple[float, ...]) -> list[RecipeSpread]:
    reference = next(iter(recipes.values()))
    return [RecipeSpread(name, values, reference, higher_is_better=True) for name, values in recipes.items()]


def test_the_lowest_significantly_calmer_sd_wins_unless_its_mean_is_significantly_worse():
    rng = np.random.default_rng(4)
    reference = normal_values(rng, 30, sd=0.0106)
    calm = normal_values(rng, 10, sd=0.005)
    calmer_but_worse = normal_values(rng, 10, mean=0.80, sd=0.002)
    noisy = normal_values(rng, 10, sd=0.02)
    chosen = recommend(spreads(ref=reference, calm=calm, worse=calmer_but_worse, noisy=noisy))
    assert chosen.recipe == "calm"
    assert recommend(spreads(ref=reference, noisy=noisy, worse=calmer_but_worse)).recipe == "ref"


def test_a_lower_sd_within_noise_does_not_replace_the_reference():
    """The noise study's real case: a variant whose sd is lower by point estimate (ratio about 0.87 over
    10 seeds against 30) is not a reason to re-record the gate's baseline; a halved sd is."""
    rng = np.random.default_rng(7)
    reference = normal_values(rng, 30, sd=0.0106)
    slightly = tuple(0.85 + (v - statistics.fmean(reference)) * 0.87 for v in reference[:10])
    assert statistics.stdev(slightly) < statistics.stdev(reference)
    spread = spreads(ref=reference, slightly=slightly)
    assert not spread[1].significantly_calmer and recommend(spread).recipe == "ref"
    line = recommendation_line("f1", spread, max_runs=12)
    assert line.startswith("**Recommendation: keep ref.**") and "The lowest by point estimate, slightly" in line
    assert f"only a ratio below about {smallest_visible_ratio(10, 30):.2f} would have shown" in line
    halved = tuple(0.85 + (v - 0.85) * 0.4 for v in normal_values(rng, 10, sd=0.0106))
    assert recommend(spreads(ref=reference, halved=halved)).recipe == "halved"


def test_the_smallest_visible_ratio_is_where_the_f_interval_reaches_one():
    for n, n_ref in ((10, 30), (5, 5), (30, 30)):
        ratio = smallest_visible_ratio(n, n_ref)
        values = normal_values(np.random.default_rng(n), n, sd=1.0)
        reference = normal_values(np.random.default_rng(n_ref + 100), n_ref, sd=1.0)
        scale = ratio * statistics.stdev(reference) / statistics.stdev(values)
        scaled = tuple(v * scale for v in values)
        assert sd_ratio_interval(scaled, reference)[2] == pytest.approx(1.0)
    assert smallest_visible_ratio(30, 30) > smallest_visible_ratio(10, 30) > smallest_visible_ratio(5, 5)


def test_lower_is_better_metrics_call_a_higher_mean_worse():
    rng = np.random.default_rng(5)
    reference = normal_values(rng, 30, mean=0.40, sd=0.02)
    higher_loss = RecipeSpread("v", normal_values(rng, 10, mean=0.50, sd=0.005), reference, higher_is_better=False)
    lower_loss = RecipeSpread("w", normal_values(rng, 10, mean=0.30, sd=0.005), reference, higher_is_better=False)
    assert higher_loss.significantly_worse and not lower_loss.significantly_worse


# --- the report and the command --------------------------------------------------------------------


@pytest.fixture
def study(tmp_path):
    rng = np.random.default_rng(6)
    store = BaselineStore(tmp_path / "baselines")
    store.save(fabricated("minilm-cpu", normal_values(rng, 30, sd=0.0106), seconds=[320.0] * 29 + [1500.0]))
    store.save(fabricated("minilm-cpu-ema", normal_values(rng, 10, sd=0.005), seconds=[330.0] * 10))
    store.save(fabricated("minilm-cpu-reinit", normal_values(rng, 10, mean=0.80, sd=0.003)))
    return store


def configs(*names: str, **changes) -> list[RunConfig]:
    return [RunConfig.from_recipe(name, device="cpu", **changes) for name in names]


def test_the_report_has_a_table_per_metric_and_recommends_by_f1(study):
    baselines, notes = study_baselines(configs("minilm-cpu", "minilm-cpu-ema", "minilm-cpu-reinit"), study)
    assert notes == []
    text = noise_study_markdown(baselines, ("accuracy", "f1"), max_runs=12)
    assert "## accuracy (higher is better)" in text and "## f1 (higher is better)" in text
    f1_table = text.split("## f1")[1]
    ema_row = next(line for line in f1_table.splitlines() if line.startswith("| minilm-cpu-ema "))
    ema, ref = baselines["minilm-cpu-ema"].metrics["f1"], baselines["minilm-cpu"].metrics["f1"]
    ratio = ema.std / ref.std
    low, high = sd_interval(ema.values)
    assert f"{ema.std:.4f} [{low:.4f}, {high:.4f}]" in ema_row
    assert f"{ratio:.2f} [" in ema_row and f"{math.ceil(12 * ratio ** 2)} (x{ratio ** 2:.2f})" in ema_row
    assert "| 330 " in ema_row + " "  # the median seconds per seed
    ref_row = next(line for line in f1_table.splitlines() if line.startswith("| minilm-cpu "))
    assert "12 (reference)" in ref_row and "| 320 " in ref_row + " "  # the median ignores the one slow seed
    assert "**Recommendation: minilm-cpu-ema**" in text
    assert "Left out for a significantly lower mean f1: minilm-cpu-reinit." in text
    assert "Brown-Forsythe" in text and "Welch" in text and "chi-square" in text


def test_a_missing_baseline_names_the_command_that_records_it(study, tmp_path):
    wanted = configs("minilm-cpu", "minilm-cpu-ema", "smoke", data_dir=tmp_path / "MRPC")
    with pytest.raises(BaselineError) as error:
        study_baselines(wanted, study)
    assert f"`harness record-baseline --recipe smoke --seeds 10 --data-dir {tmp_path / 'MRPC'} --device cpu`" in str(error.value)
    assert "minilm-cpu-ema" not in str(error.value)


def test_the_record_command_is_exactly_the_one_the_study_needs():
    config = RunConfig.from_recipe("minilm-cpu-ema", device="cpu", data_dir="../shared/data/glue/MRPC")
    assert study_record_command(config) == (
        "harness record-baseline --recipe minilm-cpu-ema --seeds 10 --data-dir ../shared/data/glue/MRPC --device cpu")


def test_a_baseline_of_other_recipe_settings_is_noted(tmp_path):
    store = BaselineStore(tmp_path)
    rng = np.random.default_rng(7)
    store.save(fabricated("minilm-cpu", normal_values(rng, 5)))
    store.save(fabricated("minilm-cpu-ema", normal_values(rng, 5), weight_average="ema-0.9"))
    _, notes = study_baselines(configs("minilm-cpu", "minilm-cpu-ema"), store)
    assert len(notes) == 1 and "differing from today's in weight_average" in notes[0]


def test_the_command_writes_the_report(study, tmp_path, capsys):
    output = tmp_path / "reports" / "noise-study.md"
    argv = ["noise-study", "--recipes", "minilm-cpu,minilm-cpu-ema", "--device", "cpu", "--baselines-dir", str(study.root),
            "--output", str(output), "--pyproject", str(no_settings(tmp_path / "none.toml"))]
    assert main(argv, settings=OFFLINE) == 0
    text = output.read_text()
    assert text.startswith("# Noise study: minilm-cpu, minilm-cpu-ema") and "## f1" in text
    assert "12 (reference)" in text  # the default gate's max_runs, as no pyproject says otherwise
    assert text in capsys.readouterr().out


def test_the_command_reports_a_missing_baseline_without_a_traceback(tmp_path, capsys):
    argv = ["noise-study", "--recipes", "minilm-cpu,minilm-cpu-reinit", "--device", "cpu", "--baselines-dir",
            str(tmp_path), "--data-dir", "../shared/data/glue/MRPC", "--output", str(tmp_path / "r.md"),
            "--pyproject", str(no_settings(tmp_path / "none.toml"))]
    assert main(argv, settings=OFFLINE) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for recipe in ("minilm-cpu", "minilm-cpu-reinit"):
        assert f"`harness record-baseline --recipe {recipe} --seeds 10 --data-dir ../shared/data/glue/MRPC --device cpu`" in err
    assert not (tmp_path / "r.md").exists()


@pytest.mark.parametrize("recipes", ["minilm-cpu", "minilm-cpu,minilm-cpu", "minilm-cpu,"])
def test_the_recipes_flag_needs_two_different_names(recipes, capsys):
    with pytest.raises(SystemExit):
        main(["noise-study", "--recipes", recipes], settings=OFFLINE)
    assert "--recipes" in capsys.readouterr().err
