"""Which recipe variant makes the gate's measurements least noisy, from their measured baselines.

The gate's cost is set by the seed-to-seed spread of its recipe: for a fixed drop to catch at a fixed
power, the candidate runs it needs grow with the variance. A noise study compares the baselines of a
reference recipe (the first) and its variance-reduction variants (``minilm-cpu-ema``,
``minilm-cpu-reinit``), each recorded over several seeds by ``harness record-baseline``. For every
gated metric it reports, per recipe:

- the mean and the standard deviation over seeds, with the sd's two-sided interval from the
  chi-square distribution of ``(n - 1) s^2 / sigma^2`` (exact for normal per-seed values);
- the sd's ratio to the reference's, with the interval from the F distribution of the variance
  ratio (exact for normal values), and a Brown-Forsythe test of equal spread (Levene's test centred
  on the median, ``scipy.stats.levene(center="median")``; Brown and Forsythe 1974). The test is
  Brown-Forsythe rather than the F-test because the F-test's false-alarm rate is far from its nominal
  level when the values are not normal (Box 1953; Conover, Johnson and Johnson 1981), and per-seed
  scores are bounded and can have a bad seed or two; Brown-Forsythe keeps its level at some cost in power;
- the difference of means from the reference, with Welch's interval (the variants may change the
  spread, so the variances are not pooled);
- the gate runs that spread implies: for a fixed effect and power the runs scale with the variance,
  so about ``max_runs x (sd / sd_reference)^2`` of the reference's ``max_runs`` (an approximation: it
  ignores the baseline's own size, which the sequential design also uses);
- the median training seconds per seed, where the baseline records them.

The recommendation is the recipe with the lowest sd on the recommendation metric (F1 where it is
gated) among those whose spread is significantly lower than the reference's (Brown-Forsythe) and whose
mean is not significantly worse (the Welch interval does not lie wholly on the worse side); where no
variant qualifies, the reference stays. A lower sd by point estimate alone is not enough: switching
the gate's recipe means re-recording its whole baseline (hours of CPU), and over ten seeds an sd
ratio of 0.87 is indistinguishable from 1 (its interval spans about 0.5 to 1.6), so a switch on it
would spend those hours on a gain the data cannot tell from none. The report says how small a ratio
the recorded seed counts could have shown. Every interval and test uses one confidence, :data:`CONFIDENCE`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

from harness.run.config import DEFAULT_TASK, RunConfig
from harness.quality.baselines import BaselineError, BaselineStore, MeasuredBaseline
from harness.quality.regression import name_for, record_command
from harness.tables import markdown_table
from harness.tasks.metrics import MetricRegistry, builtin_metrics

CONFIDENCE = 0.95  # every interval's level; a test is significant at alpha = 1 - CONFIDENCE
RECOMMENDATION_METRIC = "f1"  # the metric the recommendation is made on, where it is gated (else the first gated one)
STUDY_SEEDS = 10  # seeds per variant a study records (in the suggested record-baseline commands)


def sd_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The two-sided ``confidence`` interval of the standard deviation of normal ``values`` (chi-square).

    >>> low, high = sd_interval([0.84, 0.85, 0.86, 0.87, 0.88])
    >>> round(low, 4), round(statistics.stdev([0.84, 0.85, 0.86, 0.87, 0.88]), 4), round(high, 4)
    (0.0095, 0.0158, 0.0454)
    """
    n = len(values)
    if n < 2:
        raise ValueError(f"an sd interval needs at least 2 values, got {n}")
    s, alpha = statistics.stdev(values), 1 - confidence
    return (s * math.sqrt((n - 1) / stats.chi2.ppf(1 - alpha / 2, n - 1)),
            s * math.sqrt((n - 1) / stats.chi2.ppf(alpha / 2, n - 1)))


def sd_ratio_interval(values: Sequence[float], reference: Sequence[float],
                      confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """``sd(values) / sd(reference)`` and its two-sided ``confidence`` interval (F distribution, normal values).

    The ratio is NaN when the reference does not vary (and its interval is then unbounded).
    """
    s, s_ref, alpha = statistics.stdev(values), statistics.stdev(reference), 1 - confidence
    if s_ref == 0:
        return math.nan, 0.0, math.inf
    variance_ratio, dfn, dfd = (s / s_ref) ** 2, len(values) - 1, len(reference) - 1
    return (s / s_ref, math.sqrt(variance_ratio / stats.f.ppf(1 - alpha / 2, dfn, dfd)),
            math.sqrt(variance_ratio / stats.f.ppf(alpha / 2, dfn, dfd)))


def spread_p_value(values: Sequence[float], reference: Sequence[float]) -> float:
    """Brown-Forsythe's p-value for equal spread (Levene's test about the median); NaN when neither varies."""
    if len(set(values)) == 1 and len(set(reference)) == 1:
        return math.nan
    return float(stats.levene(values, reference, center="median").pvalue)


def mean_difference_interval(values: Sequence[float], reference: Sequence[float],
                             confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """``mean(values) - mean(reference)`` and Welch's two-sided ``confidence`` interval (a point when neither varies)."""
    difference = statistics.fmean(values) - statistics.fmean(reference)
    if len(set(values)) == 1 and len(set(reference)) == 1:
        return difference, difference, difference
    ci = stats.ttest_ind(values, reference, equal_var=False).confidence_interval(confidence)
    return difference, float(ci.low), float(ci.high)


@dataclass(frozen=True)
class RecipeSpread:
    """One recipe's spread on one metric, against the reference recipe's."""

    recipe: str
    values: tuple[float, ...]
    reference: tuple[float, ...]
    higher_is_better: bool
    confidence: float = CONFIDENCE

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def sd(self) -> float:
        return statistics.stdev(self.values)

    @property
    def significantly_worse(self) -> bool:
        """Whether the mean is worse than the reference's at this confidence (Welch)."""
        _, low, high = mean_difference_interval(self.values, self.reference, self.confidence)
        return high < 0 if self.higher_is_better else low > 0

    @property
    def significantly_calmer(self) -> bool:
        """Whether the spread is lower than the reference's at this confidence (Brown-Forsythe)."""
        p = spread_p_value(self.values, self.reference)
        return self.sd < statistics.stdev(self.reference) and p < 1 - self.confidence


def smallest_visible_ratio(n: int, n_reference: int, confidence: float = CONFIDENCE) -> float:
    """The sd ratio below which the F interval of a variant with ``n`` seeds against a reference with
    ``n_reference`` seeds lies wholly below 1: how large a noise reduction these seed counts can show.

    >>> round(smallest_visible_ratio(10, 30), 2)
    0.53
    """
    return math.sqrt(stats.f.ppf((1 - confidence) / 2, n - 1, n_reference - 1))


def recommend(spreads: Sequence[RecipeSpread]) -> RecipeSpread:
    """The lowest-sd variant whose spread is significantly lower and whose mean is not significantly worse
    than the reference's (``spreads[0]``); the reference where none is."""
    eligible = [s for s in spreads[1:] if s.significantly_calmer and not s.significantly_worse]
    return min(eligible, key=lambda s: s.sd) if eligible else spreads[0]


def _interval(low: float, high: float) -> str:
    return f"[{low:.4f}, {high:.4f}]"


def metric_table(metric: str, spreads: Sequence[RecipeSpread], *, max_runs: int,
                 seconds: dict[str, float | None]) -> str:
    """One metric's table: each recipe's mean, sd, ratio to the reference, mean difference and implied gate runs."""
    reference = spreads[0]
    level = f"{reference.confidence:.0%}"
    rows = []
    for spread in spreads:
        low, high = sd_interval(spread.values, spread.confidence)
        secs = seconds.get(spread.recipe)
        common = [spread.recipe, str(len(spread.values)), f"{spread.mean:.4f}", f"{spread.sd:.4f} {_interval(low, high)}"]
        if spread is reference:
            rows.append(common + ["1 (reference)", "-", "-", f"{max_runs} (reference)", "-" if secs is None else f"{secs:.0f}"])
            continue
        ratio, r_low, r_high = sd_ratio_interval(spread.values, reference.values, spread.confidence)
        difference, d_low, d_high = mean_difference_interval(spread.values, reference.values, spread.confidence)
        runs = f"{math.ceil(max_runs * ratio ** 2)} (x{ratio ** 2:.2f})" if math.isfinite(ratio) else "-"
        rows.append(common + [f"{ratio:.2f} [{r_low:.2f}, {r_high:.2f}]", f"{spread_p_value(spread.values, reference.values):.3f}",
                              f"{difference:+.4f} {_interval(d_low, d_high)}", runs, "-" if secs is None else f"{secs:.0f}"])
    better = "higher" if reference.higher_is_better else "lower"
    headers = ["recipe", "seeds", "mean", f"sd [{level} CI, chi-square]", f"sd / {reference.recipe} [{level} CI, F]",
               "p, equal spread (Brown-Forsythe)", f"mean - {reference.recipe} [{level} CI, Welch]",
               "gate runs for the same power", "train s/seed (median)"]
    return f"## {metric} ({better} is better)\n\n" + markdown_table(headers, rows)


def recommendation_line(metric: str, spreads: Sequence[RecipeSpread], *, max_runs: int) -> str:
    """The recommendation in one paragraph: which recipe, by how much, and how sure."""
    reference, chosen = spreads[0], recommend(spreads)
    worse = [s.recipe for s in spreads[1:] if s.significantly_worse]
    excluded = (f" Left out for a significantly {'lower' if reference.higher_is_better else 'higher'} mean {metric}: "
                f"{', '.join(worse)}." if worse else "")
    if chosen is reference:
        lower = [s for s in spreads[1:] if s.sd < reference.sd and not s.significantly_worse]
        if not lower:
            return (f"**Recommendation: keep {reference.recipe}.** No variant has a lower {metric} sd "
                    f"({reference.sd:.4f}) without a significantly worse mean.{excluded}")
        best = min(lower, key=lambda s: s.sd)
        ratio, r_low, r_high = sd_ratio_interval(best.values, reference.values, best.confidence)
        visible = smallest_visible_ratio(len(best.values), len(reference.values), best.confidence)
        return (f"**Recommendation: keep {reference.recipe}.** No variant's {metric} spread is significantly lower. "
                f"The lowest by point estimate, {best.recipe} ({best.sd:.4f} against {reference.sd:.4f}; ratio {ratio:.2f}, "
                f"{best.confidence:.0%} CI [{r_low:.2f}, {r_high:.2f}]; Brown-Forsythe p = "
                f"{spread_p_value(best.values, reference.values):.3f}), is within noise of no change: switching to it "
                f"means re-recording the gate's baseline for a gain these seeds cannot tell from none. With "
                f"{len(best.values)} seeds against {len(reference.values)}, only a ratio below about {visible:.2f} "
                f"would have shown.{excluded}")
    ratio, r_low, r_high = sd_ratio_interval(chosen.values, reference.values, chosen.confidence)
    p = spread_p_value(chosen.values, reference.values)
    alpha = 1 - chosen.confidence
    difference, d_low, d_high = mean_difference_interval(chosen.values, reference.values, chosen.confidence)
    return (f"**Recommendation: {chosen.recipe}**, the lowest {metric} sd among the variants whose spread is "
            f"significantly lower and whose mean is not significantly worse than {reference.recipe}'s: {chosen.sd:.4f} against {reference.sd:.4f} (ratio {ratio:.2f}, "
            f"{chosen.confidence:.0%} CI [{r_low:.2f}, {r_high:.2f}]; Brown-Forsythe p = {p:.3f}, significant at alpha = {alpha:.2g}), "
            f"mean {difference:+.4f} [{d_low:+.4f}, {d_high:+.4f}]. Runs scale with the variance, so the gate would need "
            f"about {math.ceil(max_runs * ratio ** 2)} candidate runs where it needs {max_runs} now "
            f"({max_runs} x {ratio:.2f}^2).{excluded}")


def median_train_seconds(baseline: MeasuredBaseline) -> float | None:
    """The median training time of the baseline's seeds (robust to a seed slowed by a busy machine), if recorded."""
    seconds = baseline.provenance.get("train_seconds") or []
    return statistics.median(seconds) if seconds else None


def noise_study_markdown(baselines: dict[str, MeasuredBaseline], metrics: Sequence[str], *, max_runs: int,
                         confidence: float = CONFIDENCE, notes: Sequence[str] = (),
                         registry: MetricRegistry | None = None) -> str:
    """The study's report: a table per metric over ``baselines`` (recipe -> baseline; the first is the
    reference), the recommendation, and how each number was computed; which way each metric is
    better comes from ``registry`` (default: the built-ins)."""
    names = list(baselines)
    if len(names) < 2:
        raise ValueError("a noise study compares at least two recipes: the reference and a variant")
    registry = builtin_metrics() if registry is None else registry
    reference = baselines[names[0]]
    missing = [f"{name}: {metric}" for name in names for metric in metrics if metric not in baselines[name].metrics]
    if missing:
        raise ValueError(f"the baselines lack gated metrics ({', '.join(missing)}); re-record them")
    seconds = {name: median_train_seconds(baseline) for name, baseline in baselines.items()}
    tables, spreads_by_metric = [], {}
    for metric in metrics:
        higher = registry.spec(metric).direction == "higher" if metric in registry else True
        ref_values = reference.metrics[metric].values
        spreads = [RecipeSpread(name, baselines[name].metrics[metric].values, ref_values, higher, confidence) for name in names]
        spreads_by_metric[metric] = spreads
        tables.append(metric_table(metric, spreads, max_runs=max_runs, seconds=seconds))
    chosen = RECOMMENDATION_METRIC if RECOMMENDATION_METRIC in metrics else metrics[0]
    lines = [f"# Noise study: {', '.join(names)}", "",
             f"Task {reference.task}, {reference.split} split, {reference.device_kind}-{reference.precision}; each recipe's "
             f"measured baseline (seeds: {'; '.join(f'{n} {_seed_span(baselines[n].seeds)}' for n in names)}). "
             f"Reference: {names[0]}. Intervals are two-sided at {confidence:.0%}.", ""]
    for table in tables:
        lines += [table, ""]
    lines += [recommendation_line(chosen, spreads_by_metric[chosen], max_runs=max_runs), ""]
    lines += [*(f"Note: {note}" for note in notes), *([""] if notes else [])]
    lines += ["How: sd interval from the chi-square distribution of (n-1)s^2/sigma^2; sd ratio interval from the F "
              "distribution of the variance ratio (both exact for normal per-seed values); equal spread tested by "
              "Brown-Forsythe (Levene about the median), which keeps its level when per-seed values are not normal, "
              "where the F-test does not; mean difference with Welch's interval; gate runs as the reference's "
              f"max_runs ({max_runs}) times the variance ratio, since for a fixed effect and power the runs grow with "
              "the variance. See harness/quality/noise_study.py.", ""]
    return "\n".join(lines)


def _seed_span(seeds: Sequence[int]) -> str:
    ordered = sorted(seeds)
    contiguous = ordered == list(range(ordered[0], ordered[-1] + 1))
    return f"{ordered[0]}-{ordered[-1]}" if contiguous and len(ordered) > 1 else ", ".join(map(str, ordered))


def study_record_command(config: RunConfig, seeds: int = STUDY_SEEDS) -> str:
    """The ``harness record-baseline`` command that records ``config``'s baseline for a study, with its
    data folder, device and precision spelled out, so it records exactly the baseline the study reads."""
    command = record_command(config, seeds)
    if config.task.name == DEFAULT_TASK and config.data_dir is not None:
        command += f" --data-dir {config.data_dir}"
    if config.device != "auto":
        command += f" --device {config.device}"
    if config.precision != "fp32":
        command += f" --precision {config.precision}"
    return command


def study_baselines(configs: Sequence[RunConfig], store: BaselineStore) -> tuple[dict[str, MeasuredBaseline], list[str]]:
    """Each config's measured baseline by recipe name, and notes on any recorded under other recipe settings.

    A missing baseline is a BaselineError naming every one missing, each with the command that records it.
    """
    found: dict[str, MeasuredBaseline] = {}
    missing, notes = [], []
    for config in configs:
        baseline = store.load(name_for(config))
        if baseline is None:
            missing.append(f"{config.recipe.name}: no baseline at {store.path(name_for(config))}; record it with "
                           f"`{study_record_command(config)}`")
            continue
        if len(baseline.seeds) < 2:
            missing.append(f"{config.recipe.name}: {store.path(name_for(config))} holds {len(baseline.seeds)} seed; "
                           f"re-record it with `{study_record_command(config)}`")
            continue
        recipe = config.identity()["recipe"]
        changed = sorted(k for k in {*recipe, *baseline.recipe_config} if recipe.get(k) != baseline.recipe_config.get(k))
        if changed:
            notes.append(f"{store.path(name_for(config))} was recorded with {config.recipe.name} differing from today's in "
                         f"{', '.join(changed)}; re-record it for a study of the recipe as it is now")
        found[config.recipe.name] = baseline
    if missing:
        raise BaselineError("the noise study needs a measured baseline of each recipe:\n  " + "\n  ".join(missing))
    return found, notes
