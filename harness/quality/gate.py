"""The metric-regression gate: a run against its measured baseline, metric by metric.

The gated metrics are the task's own unless the policy names others; which way each one is better
comes from the policy's metric registry (``GatePolicy.metric_registry``: the built-ins of
:func:`harness.tasks.metrics.builtin_metrics` unless a project registers its own). Each gated metric
gets an allowed band around the baseline mean, ``max(sigmas * seed std, floor)`` wide on the side
that is worse (below for accuracy, F1 or a correlation, above for loss). Falling outside it on the
worse side fails; outside it on the better side is reported as an improvement ("consider updating
the baseline"), never failed. The measured value is shown with a bootstrap confidence interval over
the evaluation set (:func:`harness.tasks.bootstrap.bootstrap_intervals`), so a reader can see how
much of a delta is noise.

A run whose identity differs from the baseline's where it must match (data, model weights, precision,
world size, task spec: :data:`harness.run.run_identity.BASELINE_MATCHES`) is a mismatch: it fails,
because comparing it would silently gate one thing against another.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.quality.baselines import MeasuredBaseline, PublishedReference
from harness.run.config import ConfigError
from harness.run.result import RunResult
from harness.run.run_identity import NOTED_VERSIONS, RunIdentity
from harness.quality.sequential_gate import MAX_RUNS_LIMIT, SequentialGateParameters
from harness.tables import markdown_table
from harness.tasks.bootstrap import Interval, bootstrap_intervals
from harness.tasks.metrics import MetricRegistry, MetricUndefinedError, builtin_metrics
from harness.tasks.spec import TaskSpec

PASS, FAIL, IMPROVED, MISMATCH, MISSING = "pass", "FAIL", "improved", "MISMATCH", "MISSING"
REPRODUCED = "reproduced"  # the run repeated a baseline seed (to rounding): nothing changed that training can see
# How far, relatively, a metric computed from real-valued outputs (the loss, a correlation) may be
# from a baseline seed's recorded value, on another CPU model, and still count as that seed
# reproduced: 16x the drift measured between two CPU models (6.3e-6). See reproduced_seed.
REPRODUCTION_TOLERANCE = 1e-4
MAX_BOOTSTRAP_SAMPLES = 100_000  # the bound on GatePolicy.bootstrap_samples; see __post_init__


PROCEDURES = ("auto", "sequential", "band")
DEFAULT_EFFECT = 0.02  # the drop the sequential gate must catch, in the metric's units: 2 points of accuracy or F1
# The Trainer reports it for every task, so it can be gated on any, though no task lists it among its metrics.
LOSS = "loss"


def metric_direction(metric: str, metrics: MetricRegistry | None = None) -> str:
    """``"higher"`` or ``"lower"``: which way ``metric`` is better, from ``metrics`` (default: the built-ins)."""
    return (builtin_metrics() if metrics is None else metrics).spec(metric).direction


@dataclass(frozen=True)
class GatePolicy:
    """How strict the gate is; every number here is printed with the verdict.

    ``procedure``: ``sequential`` runs candidate seeds until the evidence decides, with the stated
    false-alarm rate ``alpha`` (for the gated metrics together: their boundaries are calibrated
    jointly, with their correlation) and ``power`` against a drop of each metric's ``effect``
    (:mod:`harness.quality.sequential_gate`), for candidates whose seed spread is from
    ``1/spread_ratio`` to ``spread_ratio`` times the baseline's; ``guarantee`` says whether alpha is
    the rate averaged over baselines (``"average"``) or bounds the committed baseline's own rate with
    90% confidence (``"this-baseline"``, stricter, so more runs); ``band`` is the one-run check against
    ``mean - max(sigmas x std, floor)``, run only when named, whose simulated error rates the verdict
    prints. ``auto`` is the sequential gate too; on a baseline too small for it, the one check it can
    still make is exact reproduction of a baseline seed (unchanged code), and any other first run
    fails, naming the seeds the gate needs: it never falls back to the band.
    ``max_runs`` is the cap on candidate runs; when the rates need more, the cap grows to what they
    need up to ``max_runs_limit`` (said before anything trains), and beyond that the gate refuses.
    ``margins`` is the practical margin per metric: fail only if the metric fell by more than it.
    ``reproduction_tolerance``: on another CPU model than the seed's, how far (relatively) a metric
    computed from real-valued outputs (loss, correlations) may be from a baseline seed's recorded
    value for the run to count as that seed reproduced, passing after one run; metrics counted from
    predicted classes must be identical, and on the seed's own CPU model everything must be. 0
    demands bit-for-bit equality everywhere.
    ``metrics`` are the gated metrics; empty (the default) means the task's own, which
    :meth:`for_task` fills in. ``metric_registry`` says what each metric is (which way is better,
    how it is computed for the bootstrap): the built-ins, or a project's registry with its own.
    """

    metrics: tuple[str, ...] = ()
    sigmas: float = 3.0
    floor: float = 0.01
    bootstrap_samples: int = 1000
    confidence: float = 0.95
    procedure: str = "auto"
    alpha: float = 0.01
    power: float = 0.95
    max_runs: int = 12
    max_runs_limit: int = 20
    spread_ratio: float = SequentialGateParameters.spread_ratio
    variance_prior_runs: float = SequentialGateParameters.variance_prior_runs
    guarantee: str = SequentialGateParameters.guarantee
    effects: tuple[tuple[str, float], ...] = ()
    margins: tuple[tuple[str, float], ...] = ()
    reproduction_tolerance: float = REPRODUCTION_TOLERANCE
    metric_registry: MetricRegistry = field(default_factory=builtin_metrics, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._check_band_and_bootstrap()
        self._check_metrics()
        if not 0 < self.alpha < 0.5:
            raise ConfigError(f"gate alpha (the false-alarm rate) must be in (0, 0.5), got {self.alpha!r}")
        if self.procedure not in PROCEDURES:
            raise ConfigError(f"unknown gate procedure {self.procedure!r}; use one of {', '.join(PROCEDURES)}")
        if self.procedure != "band":
            self._check_sequential()
        elif self.guarantee != SequentialGateParameters.guarantee:
            raise ConfigError(f"gate guarantee = {self.guarantee!r} applies to the sequential gate; procedure = \"band\" "
                              "is one run against mean - max(sigmas x std, floor) with no alpha to guarantee: remove "
                              "guarantee, or use procedure = \"auto\"")

    def _check_band_and_bootstrap(self) -> None:
        if not 0 <= self.reproduction_tolerance <= 1e-3:
            raise ConfigError(f"gate reproduction_tolerance must be in [0, 1e-3] (a relative difference small enough "
                              f"to be rounding; 0 demands bit-for-bit equality), got {self.reproduction_tolerance!r}")
        if self.sigmas < 0 or self.floor < 0:
            raise ConfigError("gate sigmas and floor must be >= 0")
        if not 0 < self.confidence < 1:
            raise ConfigError(f"gate confidence must be in (0, 1) (the level of the bootstrap intervals), got {self.confidence!r}")
        # 100 times the default: beyond it a percentile interval's Monte-Carlo error is far below its
        # width, so a larger count (a typo's extra zeros) only costs time, linear in resamples x rows.
        if (isinstance(self.bootstrap_samples, bool) or not isinstance(self.bootstrap_samples, int)
                or not 1 <= self.bootstrap_samples <= MAX_BOOTSTRAP_SAMPLES):
            raise ConfigError(f"gate bootstrap_samples must be a whole number from 1 to {MAX_BOOTSTRAP_SAMPLES:,} "
                              f"(resamples of the evaluation set), got {self.bootstrap_samples!r}")

    def _check_metrics(self) -> None:
        if len(set(self.metrics)) != len(self.metrics):
            raise ConfigError(f"gate metrics {list(self.metrics)} repeat a metric; name each once")
        unknown = self._unknown_metrics(self.metrics)
        if unknown:
            raise ConfigError(f"cannot gate unknown metric(s) {unknown}; known: {', '.join(self.metric_registry.names())}")
        for field_name in ("effects", "margins"):
            for metric in self._unknown_metrics([metric for metric, _ in getattr(self, field_name)]):
                raise ConfigError(f"gate {field_name} names unknown metric {metric!r}; known: {', '.join(self.metric_registry.names())}")

    def _check_sequential(self) -> None:
        """Validates alpha, power, max_runs, effect, margin and the spread settings now; a policy that
        gates the task's metrics checks the ones its effects and margins name."""
        named = self.metrics or tuple(dict.fromkeys(metric for metric, _ in (*self.effects, *self.margins)))
        SequentialGateParameters(alpha=self.alpha, power=self.power, max_runs=self.max_runs,
                                 spread_ratio=self.spread_ratio, variance_prior_runs=self.variance_prior_runs,
                                 guarantee=self.guarantee)
        for metric in named:
            self._parameters(metric)
        if not (isinstance(self.max_runs_limit, int) and not isinstance(self.max_runs_limit, bool)
                and self.max_runs <= self.max_runs_limit <= MAX_RUNS_LIMIT):
            raise ConfigError(f"gate max_runs_limit (how far the cap on candidate runs may grow when the rates need "
                              f"it) must be an integer from max_runs ({self.max_runs}) to {MAX_RUNS_LIMIT}, got "
                              f"{self.max_runs_limit!r}")

    def _unknown_metrics(self, names: Sequence[str]) -> list[str]:
        return [name for name in names if name not in self.metric_registry]

    def direction(self, metric: str) -> str:
        """``"higher"`` or ``"lower"``: which way ``metric`` is better, by this policy's metric registry."""
        return metric_direction(metric, self.metric_registry)

    def margin(self, std):
        """The band's half-width for a baseline of seed sd ``std`` (a number or an array: the band's
        simulated rates apply this very rule)."""
        return np.maximum(self.sigmas * np.asarray(std, dtype=float), self.floor)

    def for_task(self, task: TaskSpec) -> GatePolicy:
        """This policy for ``task``: its metrics are the task's when the policy names none, and a named
        metric the task does not report is an error that names the ones it does."""
        if not self.metrics:
            return self.with_default_metrics(task.metrics)
        lacking = [metric for metric in self.metrics if metric not in (*task.metrics, LOSS)]
        if lacking:
            raise ConfigError(
                f"the gate's metrics {list(self.metrics)} include {lacking}, which task {task.name!r} does not report; "
                f"its metrics are {', '.join(task.metrics)} (and {LOSS}). Gate some of those ([tool.harness.gate] "
                "metrics, or a case's metrics), or name none to gate the task's own"
            )
        return self

    def with_default_metrics(self, metrics: Sequence[str]) -> GatePolicy:
        """This policy, gating ``metrics`` unless it names its own."""
        return self if self.metrics else dataclasses.replace(self, metrics=tuple(metrics))

    def sequential_parameters(self, metric: str, *, max_runs: int | None = None) -> SequentialGateParameters:
        """The sequential gate's parameters for one metric (``max_runs``: a grown cap). Alpha is the
        whole check's, not split: the metrics are designed together (``design_gates``)."""
        if not self.metrics:
            raise ConfigError("the policy names no metrics yet: resolve it for a task first (GatePolicy.for_task)")
        return self._parameters(metric, max_runs=max_runs)

    def _parameters(self, metric: str, *, max_runs: int | None = None) -> SequentialGateParameters:
        return SequentialGateParameters(
            alpha=self.alpha,
            power=self.power,
            effect=dict(self.effects).get(metric, DEFAULT_EFFECT),
            margin=dict(self.margins).get(metric, 0.0),
            max_runs=self.max_runs if max_runs is None else max_runs,
            direction=self.direction(metric),
            spread_ratio=self.spread_ratio,
            variance_prior_runs=self.variance_prior_runs,
            guarantee=self.guarantee,
        )


@dataclass(frozen=True)
class MetricCheck:
    metric: str
    measured: float
    ci_low: float | None  # None: no interval (the metric had no value on too many resamples; see the notes)
    ci_high: float | None
    baseline_mean: float | None
    baseline_std: float | None
    band_low: float | None
    band_high: float | None
    verdict: str

    @property
    def delta(self) -> float | None:
        return None if self.baseline_mean is None else self.measured - self.baseline_mean


@dataclass(frozen=True)
class GateReport:
    """The verdict of one run against one baseline, as data and as a table for people."""

    name: str
    checks: tuple[MetricCheck, ...]
    policy: GatePolicy
    problems: tuple[str, ...] = ()
    context: tuple[PublishedReference, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    sequential: tuple[dict[str, Any], ...] = ()  # one entry per metric when the sequential gate decided
    reproduction: dict[str, Any] | None = None  # the baseline seed the run reproduced, when it did

    @property
    def passed(self) -> bool:
        return not self.problems and all(c.verdict in (PASS, IMPROVED, REPRODUCED) for c in self.checks)

    @property
    def improved(self) -> bool:
        return any(c.verdict == IMPROVED for c in self.checks)

    def table(self) -> str:
        def num(value: float | None, signed: bool = False) -> str:
            return "-" if value is None else (f"{value:+.4f}" if signed else f"{value:.4f}")

        pct = round(self.policy.confidence * 100)
        rows = [
            [
                c.metric,
                f"{c.measured:.4f}" + ("" if c.ci_low is None else f" [{c.ci_low:.4f}, {c.ci_high:.4f}]"),
                "-" if c.baseline_mean is None else f"{c.baseline_mean:.4f} ± {c.baseline_std:.4f}",
                num(c.delta, signed=True),
                "-" if c.band_low is None else f"[{c.band_low:.4f}, {c.band_high:.4f}]",
                c.verdict,
            ]
            for c in self.checks
        ]
        lines = [
            f"Quality gate: {self.name}",
            markdown_table(["metric", f"measured [{pct}% CI]", "baseline mean ± std", "delta", "allowed band", "verdict"], rows),
            f"band = baseline mean ∓ max({self.policy.sigmas:g} × seed std, {self.policy.floor:g}) on the worse side; "
            f"CI = bootstrap over the evaluation set, {self.policy.bootstrap_samples} resamples",
        ]
        if self.sequential:
            lines[-1] = (
                "band = the sequential gate's pass and fail thresholds on the candidate mean at its last look; "
                f"CI = bootstrap over the evaluation set (first run), {self.policy.bootstrap_samples} resamples"
            )
            lines += [entry["summary"] for entry in self.sequential]
        lines += [f"problem: {p}" for p in self.problems]
        lines += [f"note: {n}" for n in self.notes]
        if self.context:
            lines.append("Published references (context only, never gated):")
            ctx = [[r.name, r.model, r.split, ", ".join(f"{k} {v:.4f}" for k, v in r.metrics.items()), r.note] for r in self.context]
            lines.append(markdown_table(["reference", "model", "split", "reported", "caveat"], ctx))
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "problems": list(self.problems),
            "notes": list(self.notes),
            "policy": {"metrics": list(self.policy.metrics), "sigmas": self.policy.sigmas, "floor": self.policy.floor,
                       "bootstrap_samples": self.policy.bootstrap_samples, "confidence": self.policy.confidence,
                       "procedure": self.policy.procedure, "alpha": self.policy.alpha, "power": self.policy.power,
                       "max_runs": self.policy.max_runs, "effects": dict(self.policy.effects),
                       "reproduction_tolerance": self.policy.reproduction_tolerance,
                       "margins": dict(self.policy.margins)},
            "checks": [c.__dict__ | {"delta": c.delta} for c in self.checks],
            "sequential": list(self.sequential),
            "reproduction": self.reproduction,
        }


def _verdict(direction: str, value: float, low: float, high: float) -> str:
    """FAIL, IMPROVED or PASS for ``value`` against the band; a value that is not a number fails.

    Every comparison with NaN is false, so without the first line a NaN metric (a diverged run)
    would fall inside every band and pass.

    >>> _verdict("higher", float("nan"), 0.8, 0.9), _verdict("higher", 0.85, 0.8, 0.9), _verdict("lower", 0.7, 0.8, 0.9)
    ('FAIL', 'pass', 'improved')
    """
    if not math.isfinite(value):
        return FAIL
    worse, better = (value < low, value > high) if direction == "higher" else (value > high, value < low)
    return FAIL if worse else IMPROVED if better else PASS


def environment_problems(result: RunResult, baseline: MeasuredBaseline) -> list[str]:
    """Reasons the run and the baseline measured different things, which makes them incomparable: where
    the run's identity differs from the baseline's in :data:`~harness.run.run_identity.BASELINE_MATCHES`."""
    run = RunIdentity.of_result(result).baseline_parts()
    base = baseline.identity_parts()
    problems = []
    if run["data_sha256"] != base["data_sha256"]:
        problems.append(f"data differs: run sha256 {run['data_sha256'][:12]}…, baseline {base['data_sha256'][:12]}…")
    if run["precision"] != base["precision"]:
        problems.append(f"precision differs: run {run['precision']}, baseline {base['precision']}; "
                        f"record a baseline for {run['precision']}")
    for key in ("weights_sha256", "architecture_sha256"):
        if run[key] != base[key]:
            problems.append(f"model {key} differs: run {str(run[key])[:12]}…, baseline {str(base[key])[:12]}…")
    if run["world_size"] != base["world_size"]:
        problems.append(f"world size differs: run {run['world_size']} training process(es), baseline {base['world_size']} "
                        f"(the global batch is world size x batch size, so the recipe trains differently); record a "
                        f"baseline with the same number of processes, or run with {base['world_size']}")
    if base["task_spec_sha256"] is not None and run["task_spec_sha256"] != base["task_spec_sha256"]:
        problems.append(f"task {result.config.task.name!r} differs from the baseline's (its columns, labels or metrics: spec "
                        f"sha256 run {run['task_spec_sha256'][:12]}…, baseline {base['task_spec_sha256'][:12]}…); "
                        "record a baseline for the task as it is now")
    return problems


@dataclass(frozen=True)
class Reproduction:
    """A baseline seed the run repeated: exactly, or to within rounding (``largest_difference`` > 0)."""

    seed: int
    largest_difference: float  # the largest relative difference over the recorded metrics
    metric: str  # where it is
    tolerance: float  # what the score metrics were allowed (0 on the seed's own CPU model)
    recorded_on: str | None  # the seed's CPU model, where the baseline records it
    run_on: str | None

    def note(self) -> str:
        if not self.largest_difference:
            return f"reproduced baseline seed {self.seed} exactly (every recorded metric identical): passed after one run"
        recorded_on = self.recorded_on or "a CPU model the baseline does not record"
        return (f"reproduced baseline seed {self.seed} to rounding (metrics counted from predictions identical; largest "
                f"relative difference {self.largest_difference:.1e}, in {self.metric}, within the reproduction tolerance "
                f"{self.tolerance:.0e}; recorded on {recorded_on}, run on {self.run_on or 'an unknown CPU'}): passed after one run")

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "largest_relative_difference": self.largest_difference, "metric": self.metric,
                "recorded_on": self.recorded_on, "run_on": self.run_on}


def reproduced_seed(result: RunResult, baseline: MeasuredBaseline, tolerance: float = REPRODUCTION_TOLERANCE,
                    metrics: MetricRegistry | None = None) -> Reproduction | None:
    """The baseline seed this run reproduced, or None.

    Training is deterministic for a seed on a given software stack and CPU, so a change that leaves
    every recorded metric of a baseline seed as it was did not change what training computes: one run
    settles it. Across CPU models the same fp32 run differs in the last bits (fused kernels round in
    another order: seed 42 of minilm-cpu, recorded on an AMD EPYC and re-run on an Intel Xeon with
    AMX, kept accuracy and F1 identical and moved the loss by 6.3e-6 relative). So where the seed was
    recorded on another CPU model, or on one not recorded, a metric computed from real-valued outputs
    (the loss, a correlation) may differ from its recorded value by ``tolerance``, relatively. Metrics
    counted from predicted classes (accuracy, F1, Matthews) must be identical everywhere: one flipped
    prediction is a real difference however many rows there are, and a custom metric is held to
    identity too. On the seed's own CPU model every metric must be identical, bit for bit. Anything
    else is left to the statistical check. ``metrics`` says which metric is which kind (default: the built-ins).
    """
    metrics = builtin_metrics() if metrics is None else metrics
    seed = result.provenance.get("seed")
    if seed not in baseline.seeds or result.config.faults or baseline.recipe_config != result.config.recipe_record():
        return None
    run_definition = result.provenance["model"].get("definition_sha256")
    if run_definition != baseline.model_provenance.get("definition_sha256", run_definition):
        return None
    index = baseline.seeds.index(seed)
    recorded = {metric: stats.values[index] for metric, stats in baseline.metrics.items()}
    if not recorded or any(metric not in result.metrics for metric in recorded):
        return None
    recorded_on, run_on = baseline.seed_cpu(seed), result.provenance.get("device", {}).get("cpu")
    if recorded_on is not None and recorded_on == run_on:
        tolerance = 0.0
    differences = {}
    for metric, value in recorded.items():
        differences[metric] = _relative_difference(float(result.metrics[metric]), value)
        if differences[metric] > (tolerance if _from_scores(metric, metrics) else 0.0):
            return None
    worst = max(differences, key=differences.get)
    return Reproduction(seed, differences[worst], worst, tolerance, recorded_on, run_on)


def _from_scores(metric: str, registry: MetricRegistry) -> bool:
    """Whether ``metric`` is computed from real-valued outputs (so rounding moves it a little), not
    counted from predicted classes (where any change is a changed prediction).

    >>> builtins = builtin_metrics()
    >>> [_from_scores(name, builtins) for name in ("loss", "pearson", "f1", "my_custom_metric")]
    [True, True, False, False]
    """
    return metric in registry and registry.spec(metric).kind == "score"


def _relative_difference(measured: float, recorded: float) -> float:
    """``|measured - recorded|`` relative to the recorded value (absolute where that is 0).

    >>> _relative_difference(0.5128628611564636, 0.5128660798072815) < 1e-5
    True
    >>> _relative_difference(0.25, 0.25), _relative_difference(1e-9, 0.0)
    (0.0, 1e-09)
    """
    if measured == recorded:
        return 0.0
    if not (math.isfinite(measured) and math.isfinite(recorded)):
        return math.inf
    return abs(measured - recorded) / (abs(recorded) or 1.0)


def check_run(
    result: RunResult,
    baseline: MeasuredBaseline | None,
    *,
    name: str,
    policy: GatePolicy = GatePolicy(),
    published: tuple[PublishedReference, ...] = (),
) -> GateReport:
    """Gate ``result`` against ``baseline`` (``None``: a missing baseline, which fails).

    A policy that names no metrics gates what the run reports besides the loss: the task's metrics.
    """
    policy = policy.with_default_metrics([metric for metric in result.metrics if metric != LOSS])
    missing = [metric for metric in policy.metrics if metric not in result.metrics]
    if missing:
        raise ConfigError(f"the gate's metric {missing[0]!r} is not among the run's ({', '.join(result.metrics)}); "
                          "resolve the policy for the run's task (GatePolicy.for_task)")
    notes: list[str] = []
    intervals = _intervals(result, policy, notes)
    if baseline is None:
        problems = ["no measured baseline for this run; record one (see below)"]
    else:
        problems = environment_problems(result, baseline)
        notes += _differences_gated_all_the_same(result, baseline)
    reproduced = _reproduction(result, baseline, policy) if not problems else None
    if reproduced is not None:
        notes.append(reproduced.note())
    checks = _metric_checks(result, baseline, policy, intervals, problems, reproduced=reproduced is not None)
    if result.config.faults:
        notes.append(f"deliberate faults injected in this run: {', '.join(result.config.faults)}")
    if any(c.verdict == IMPROVED for c in checks):
        notes.append("improved beyond the band: consider updating the baseline")
    context = tuple(r for r in published if r.task == result.config.task.name)
    return GateReport(name, tuple(checks), policy, tuple(problems), context, tuple(notes),
                      reproduction=None if reproduced is None else reproduced.to_json())


def _reproduction(result: RunResult, baseline: MeasuredBaseline | None, policy: GatePolicy) -> Reproduction | None:
    """The baseline seed the run reproduced, if any. A baseline that lacks a gated metric cannot have been
    reproduced in it: that check is a MISMATCH, and "passed after one run" beside it would contradict it."""
    if baseline is None or not all(metric in baseline.metrics for metric in policy.metrics):
        return None
    return reproduced_seed(result, baseline, policy.reproduction_tolerance, policy.metric_registry)


def _metric_checks(result: RunResult, baseline: MeasuredBaseline | None, policy: GatePolicy,
                   intervals: dict[str, Interval | None], problems: list[str], *, reproduced: bool) -> list[MetricCheck]:
    """Every gated metric's row, in order; adds to ``problems`` a metric the baseline lacks (which makes
    the metrics after it MISMATCH too, as a mismatch found before them would) and a value that is not a
    number (after the loop, so a NaN in one metric leaves the others' verdicts as they are)."""
    checks, not_numbers = [], []
    for metric in policy.metrics:
        check = _metric_check(metric, result, baseline, policy, intervals[metric], mismatch=bool(problems), reproduced=reproduced)
        checks.append(check)
        if baseline is not None and check.baseline_mean is None:
            problems.append(f"the baseline has no {metric!r}")
        if not math.isfinite(check.measured):
            not_numbers.append(f"the run's {metric} is {check.measured}, not a number (a diverged fine-tune?): it cannot pass any band")
    problems += not_numbers
    return checks


def _differences_gated_all_the_same(result: RunResult, baseline: MeasuredBaseline) -> list[str]:
    """What the run changed that a baseline may differ in (a recipe setting, the model's config files,
    a library upgrade): each gated, and said beside the verdict."""
    notes = []
    recipe = result.config.recipe_record()
    if baseline.recipe_config != recipe:
        changed = sorted(k for k in baseline.recipe_config if baseline.recipe_config.get(k) != recipe.get(k))
        notes.append(f"recipe settings differ from the baseline's ({', '.join(changed)}): gated all the same")
    run_definition = result.provenance["model"].get("definition_sha256")
    base_definition = baseline.model_provenance.get("definition_sha256")
    if base_definition and run_definition and run_definition != base_definition:
        notes.append("the model's config or tokenizer files differ from the baseline's (same weights): gated all the same")
    base_versions, run_versions = baseline.provenance.get("versions", {}), result.provenance["versions"]
    upgraded = [f"{k} {base_versions[k]} → {run_versions.get(k)}" for k in NOTED_VERSIONS
                if k in base_versions and base_versions[k] != run_versions.get(k)]
    if upgraded:
        notes.append("library versions differ from the baseline's: " + "; ".join(upgraded))
    return notes


def _metric_check(metric: str, result: RunResult, baseline: MeasuredBaseline | None, policy: GatePolicy,
                  interval: Interval | None, *, mismatch: bool, reproduced: bool) -> MetricCheck:
    """One gated metric's row: MISSING without a baseline, MISMATCH where the baseline lacks it or the run
    measured something else (``mismatch``), REPRODUCED, or the band's verdict."""
    low_ci, high_ci = (None, None) if interval is None else (interval.low, interval.high)
    measured = float(result.metrics[metric])
    stats = baseline.metrics.get(metric) if baseline else None
    if stats is None:
        return MetricCheck(metric, measured, low_ci, high_ci, None, None, None, None, MISSING if baseline is None else MISMATCH)
    width = float(policy.margin(stats.std))
    low, high = stats.mean - width, stats.mean + width
    verdict = MISMATCH if mismatch else REPRODUCED if reproduced else _verdict(policy.direction(metric), measured, low, high)
    return MetricCheck(metric, measured, low_ci, high_ci, stats.mean, stats.std, low, high, verdict)


def _intervals(result: RunResult, policy: GatePolicy, notes: list[str]) -> dict[str, Interval | None]:
    """Each gated metric's bootstrap interval over the evaluation rows; None, with a note, where it has none.

    One metric at a time, each from the same seed, so each metric sees the same resamples as it
    would with all of them together, and one metric without an interval (F1 on a handful of rows,
    where many resamples draw no positive) leaves the others theirs.
    """
    num_labels = result.logits.shape[1] if result.logits.ndim == 2 else 1
    intervals: dict[str, Interval | None] = {}
    for metric in policy.metrics:
        try:
            intervals[metric] = bootstrap_intervals(
                result.logits, result.labels, metrics=(metric,), num_labels=num_labels,
                samples=policy.bootstrap_samples, confidence=policy.confidence, seed=0, registry=policy.metric_registry,
            )[metric]
        except MetricUndefinedError as error:
            intervals[metric] = None
            notes.append(f"no {policy.confidence:.0%} interval for {metric}: {error}")
    return intervals
