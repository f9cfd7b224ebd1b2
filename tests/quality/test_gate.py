"""The metric-regression gate on hand-built results: verdicts, bands, mismatches and the table."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from fake_runs import model_provenance, run_result
from harness.quality.baselines import MeasuredBaseline, MetricStats, PublishedReference
from harness.run.config import ConfigError
from harness.quality.gate import FAIL, IMPROVED, MISMATCH, MISSING, PASS, REPRODUCED, GatePolicy, check_run, reproduced_seed
from harness.run.result import RunResult

NAME = "mrpc--smoke--arch-bert-tiny--validation--cpu-fp32"
# A small bootstrap keeps each check fast; the intervals are not what these tests are about.
POLICY = GatePolicy(bootstrap_samples=50)


def baseline_for(result: RunResult, *, shift: float = 0.0, std: float = 0.0, **changes) -> MeasuredBaseline:
    """A baseline of two seeds whose mean is the run's value + ``shift`` and whose seed std is ``std``."""
    half_gap = std / math.sqrt(2)  # two values m ± d have sample std d·√2
    metrics = {
        name: MetricStats((value + shift - half_gap, value + shift + half_gap)) for name, value in result.metrics.items()
    }
    baseline = MeasuredBaseline(
        task="mrpc",
        split="validation",
        model="arch:bert-tiny",
        recipe="smoke",
        device_kind="cpu",
        precision="fp32",
        metrics=metrics,
        seeds=(142, 143),  # not the run's seed: these tests are about the band, not the exact-reproduction path
        recipe_config=result.config.recipe_record(),
        data_sha256=result.provenance["data"]["sha256"],
        model_provenance=result.provenance["model"],
        provenance={"versions": dict(result.provenance["versions"])},
    )
    return dataclasses.replace(baseline, **changes)


@pytest.fixture
def result() -> RunResult:
    return run_result(accuracy=0.75)


def test_within_band_passes(result):
    report = check_run(result, baseline_for(result, shift=0.005), name=NAME, policy=POLICY)
    assert [c.verdict for c in report.checks] == [PASS, PASS]
    assert report.passed
    assert not report.problems
    assert not report.improved


def test_below_band_fails(result):
    """Accuracy and F1 are better higher: a run clearly under the baseline is a regression."""
    report = check_run(result, baseline_for(result, shift=0.1), name=NAME, policy=POLICY)
    assert [c.verdict for c in report.checks] == [FAIL, FAIL]
    assert not report.passed


def test_above_band_is_an_improvement_not_a_failure(result):
    """Failing on improvements would punish good changes; they are reported with a nudge instead."""
    report = check_run(result, baseline_for(result, shift=-0.1), name=NAME, policy=POLICY)
    assert [c.verdict for c in report.checks] == [IMPROVED, IMPROVED]
    assert report.passed
    assert report.improved
    assert any("consider updating the baseline" in note for note in report.notes)


@pytest.mark.parametrize(("shift", "verdict", "passed"), [(-0.1, FAIL, False), (0.1, IMPROVED, True), (0.0, PASS, True)])
def test_loss_is_better_lower(result, shift, verdict, passed):
    """A loss above the baseline is the regression, the opposite side from accuracy."""
    policy = GatePolicy(metrics=("loss",), bootstrap_samples=50)
    report = check_run(result, baseline_for(result, shift=shift), name=NAME, policy=policy)
    assert [c.metric for c in report.checks] == ["loss"]
    assert report.checks[0].verdict == verdict
    assert report.passed is passed


def test_band_is_sigmas_times_std_when_that_exceeds_the_floor(result):
    policy = GatePolicy(sigmas=3.0, floor=0.01, bootstrap_samples=50)
    baseline = baseline_for(result, std=0.05)
    check = check_run(result, baseline, name=NAME, policy=policy).checks[0]
    mean = baseline.metrics["accuracy"].mean
    assert check.band_low == pytest.approx(mean - 0.15)
    assert check.band_high == pytest.approx(mean + 0.15)
    # 0.12 below the mean: inside a 3-sigma band, outside the floor alone.
    assert check_run(result, baseline_for(result, shift=0.12, std=0.05), name=NAME, policy=policy).checks[0].verdict == PASS


def test_band_falls_back_to_the_floor_when_seeds_agree(result):
    """Identical seeds give std 0; without a floor any change at all would fail."""
    policy = GatePolicy(sigmas=3.0, floor=0.02, bootstrap_samples=50)
    check = check_run(result, baseline_for(result, std=0.0), name=NAME, policy=policy).checks[0]
    assert check.band_low == pytest.approx(result.metrics["accuracy"] - 0.02)
    assert check.band_high == pytest.approx(result.metrics["accuracy"] + 0.02)
    assert check.verdict == PASS
    assert check_run(result, baseline_for(result, shift=0.015), name=NAME, policy=policy).checks[0].verdict == PASS
    assert check_run(result, baseline_for(result, shift=0.03), name=NAME, policy=policy).checks[0].verdict == FAIL


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"data_sha256": "e" * 64}, "data differs"),
        ({"model_provenance": model_provenance(weights_sha256="f" * 64)}, "weights_sha256 differs"),
        ({"model_provenance": model_provenance(architecture_sha256="b" * 64)}, "architecture_sha256 differs"),
        ({"precision": "bf16"}, "precision differs: run fp32, baseline bf16"),
    ],
    ids=["data", "weights", "architecture", "precision"],
)
def test_a_baseline_of_other_data_or_weights_is_a_mismatch(result, changes, named):
    """Gating one data set or model against another's numbers would pass or fail for the wrong reason."""
    report = check_run(result, baseline_for(result, **changes), name=NAME, policy=POLICY)
    assert [c.verdict for c in report.checks] == [MISMATCH, MISMATCH]
    assert not report.passed
    assert any(named in problem for problem in report.problems), report.problems
    assert "problem: " in report.table()


def test_a_missing_baseline_fails(result):
    """A check with nothing to compare against must not pass silently."""
    report = check_run(result, None, name=NAME, policy=POLICY)
    assert [c.verdict for c in report.checks] == [MISSING, MISSING]
    assert all(c.baseline_mean is None and c.band_low is None for c in report.checks)
    assert not report.passed
    assert any("no measured baseline" in problem for problem in report.problems)


def test_a_baseline_without_a_gated_metric_is_a_mismatch(result):
    baseline = baseline_for(result)
    baseline = dataclasses.replace(baseline, metrics={"accuracy": baseline.metrics["accuracy"]})
    report = check_run(result, baseline, name=NAME, policy=POLICY)
    assert {c.metric: c.verdict for c in report.checks}["f1"] == MISMATCH
    assert not report.passed
    assert any("'f1'" in problem for problem in report.problems)


def test_other_recipe_settings_are_noted_but_still_gated(result):
    """A recipe change is exactly what the gate exists to judge, so it is shown, not excused."""
    changed = result.config.recipe_record() | {"epochs": 5.0, "learning_rate": 0.01}
    within = check_run(result, baseline_for(result, recipe_config=changed), name=NAME, policy=POLICY)
    assert within.passed
    assert any("recipe settings differ" in n and "epochs" in n and "learning_rate" in n for n in within.notes)
    below = check_run(result, baseline_for(result, shift=0.1, recipe_config=changed), name=NAME, policy=POLICY)
    assert [c.verdict for c in below.checks] == [FAIL, FAIL]
    assert not below.passed


def test_other_library_versions_are_noted(result):
    baseline = baseline_for(result, provenance={"versions": result.provenance["versions"] | {"torch": "2.0.0"}})
    report = check_run(result, baseline, name=NAME, policy=POLICY)
    assert report.passed
    assert any("torch 2.0.0 → 2.13.0" in note for note in report.notes)


def test_the_table_shows_every_number_behind_the_verdict(result):
    """A failure is only actionable if the reader sees measured, CI, baseline, delta and band together."""
    report = check_run(result, baseline_for(result, shift=0.1, std=0.01), name=NAME, policy=POLICY)
    table = report.table()
    assert f"Quality gate: {NAME}" in table
    for check in report.checks:
        row = next(line for line in table.splitlines() if line.startswith(f"| {check.metric} "))
        assert f"{check.measured:.4f} [{check.ci_low:.4f}, {check.ci_high:.4f}]" in row
        assert f"{check.baseline_mean:.4f} ± {check.baseline_std:.4f}" in row
        assert f"{check.delta:+.4f}" in row
        assert f"[{check.band_low:.4f}, {check.band_high:.4f}]" in row
        assert row.rstrip(" |").endswith(FAIL)
    assert "measured [95% CI]" in table
    assert "3 × seed std" in table and "50 resamples" in table


def test_published_references_are_shown_as_context_only(result):
    reference = PublishedReference("GLUE paper", "mrpc", "test", "bert-base-uncased", {"f1": 0.889}, "paper", "test split")
    other_task = dataclasses.replace(reference, name="other", task="sst2")
    report = check_run(result, baseline_for(result), name=NAME, policy=POLICY, published=(reference, other_task))
    assert report.context == (reference,)
    assert "never gated" in report.table()
    assert "f1 0.8890" in report.table()
    assert report.passed


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"sigmas": -1.0}, "sigmas and floor must be >= 0"),
        ({"floor": -0.01}, "sigmas and floor must be >= 0"),
        ({"confidence": 1.0}, r"confidence must be in \(0, 1\)"),
        ({"confidence": 0.0}, r"confidence must be in \(0, 1\)"),
        ({"bootstrap_samples": 0}, "bootstrap_samples must be a whole number from 1 to 100,000"),
        ({"bootstrap_samples": 2.5}, "bootstrap_samples must be a whole number from 1 to 100,000"),
        ({"bootstrap_samples": 10_000_000}, "bootstrap_samples must be a whole number from 1 to 100,000"),
        ({"metrics": ("accuracy", "precision")}, "unknown metric.*precision"),
    ],
)
def test_policy_rejects_values_that_cannot_gate(changes, match):
    with pytest.raises(ConfigError, match=match):
        GatePolicy(**changes)


def test_report_json_carries_the_verdict_and_policy(result):
    report = check_run(result, baseline_for(result, shift=0.1), name=NAME, policy=POLICY)
    data = report.to_json()
    assert data["passed"] is False
    assert data["policy"]["bootstrap_samples"] == 50
    assert [c["verdict"] for c in data["checks"]] == [FAIL, FAIL]
    assert data["checks"][0]["delta"] == pytest.approx(-0.1)



def reproducing(result: RunResult, **changes) -> MeasuredBaseline:
    """A baseline whose seed 42 holds exactly the run's values, beside a seed 43 slightly off."""
    metrics = {name: MetricStats((value, value + 0.01)) for name, value in result.metrics.items()}
    return dataclasses.replace(baseline_for(result), seeds=(42, 43), metrics=metrics, **changes)


def test_a_run_that_reproduces_a_baseline_seed_exactly_passes_after_one_run(result):
    report = check_run(result, reproducing(result), name=NAME, policy=POLICY)
    assert [c.verdict for c in report.checks] == [REPRODUCED, REPRODUCED]
    assert report.passed
    assert "reproduced baseline seed 42 exactly" in " ".join(report.notes)
    assert "| reproduced |" in report.table()


@pytest.mark.parametrize(
    "change",
    ["last bit of one metric, exact policy", "loss beyond the tolerance", "one prediction", "another seed", "faulted",
     "other recipe"],
)
def test_any_difference_beyond_rounding_falls_through_to_the_statistical_check(result, change):
    baseline, policy = reproducing(result), POLICY
    if change == "last bit of one metric, exact policy":
        loss = baseline.metrics["loss"]
        baseline.metrics["loss"] = MetricStats((math.nextafter(loss.values[0], 1.0), loss.values[1]))
        policy = dataclasses.replace(POLICY, reproduction_tolerance=0.0)
    elif change == "loss beyond the tolerance":
        loss = baseline.metrics["loss"]
        baseline.metrics["loss"] = MetricStats((loss.values[0] * (1 + 2 * POLICY.reproduction_tolerance), loss.values[1]))
    elif change == "one prediction":
        accuracy = baseline.metrics["accuracy"]
        baseline.metrics["accuracy"] = MetricStats((accuracy.values[0] - 1 / len(result.labels), accuracy.values[1]))
    elif change == "another seed":
        baseline = dataclasses.replace(baseline, seeds=(44, 43))
    elif change == "faulted":
        result = dataclasses.replace(result, config=result.config.replace(faults=("shuffled-labels",)))
    else:
        baseline = dataclasses.replace(baseline, recipe_config=baseline.recipe_config | {"epochs": 9.0})
    report = check_run(result, baseline, name=NAME, policy=policy)
    assert REPRODUCED not in [c.verdict for c in report.checks]
    assert not any("reproduced baseline seed" in note for note in report.notes)


def test_a_seed_repeated_to_rounding_on_another_cpu_passes_and_says_so(result):
    """Seed 42 of minilm-cpu recorded on an AMD EPYC and re-run on an Intel Xeon: accuracy and F1
    identical, the loss 6.3e-6 (relative) away. Bit-for-bit equality holds only on the same CPU model."""
    baseline = reproducing(result)
    loss = baseline.metrics["loss"]
    baseline.metrics["loss"] = MetricStats((loss.values[0] * (1 + 6.3e-6), loss.values[1]))
    baseline = dataclasses.replace(baseline, provenance={"seed_cpus": ["AMD EPYC", "AMD EPYC"]})
    run = dataclasses.replace(result, provenance=result.provenance | {"device": {"cpu": "Intel(R) Xeon(R) Processor"}})

    report = check_run(run, baseline, name=NAME, policy=POLICY)

    assert [c.verdict for c in report.checks] == [REPRODUCED, REPRODUCED]
    note = " ".join(report.notes)
    assert ("reproduced baseline seed 42 to rounding (metrics counted from predictions identical; largest relative "
            "difference 6.3e-06, in loss") in note
    assert "recorded on AMD EPYC, run on Intel(R) Xeon(R) Processor" in note
    data = report.to_json()
    assert data["policy"]["reproduction_tolerance"] == POLICY.reproduction_tolerance
    assert data["reproduction"]["seed"] == 42 and data["reproduction"]["metric"] == "loss"
    assert data["reproduction"]["largest_relative_difference"] == pytest.approx(6.3e-6, rel=1e-3)
    assert (data["reproduction"]["recorded_on"], data["reproduction"]["run_on"]) == ("AMD EPYC", "Intel(R) Xeon(R) Processor")


def test_on_the_seeds_own_cpu_model_only_bit_for_bit_reproduces(result):
    baseline = reproducing(result)
    loss = baseline.metrics["loss"]
    baseline.metrics["loss"] = MetricStats((loss.values[0] * (1 + 6.3e-6), loss.values[1]))
    cpu = "AMD EPYC"
    baseline = dataclasses.replace(baseline, provenance={"seed_cpus": [cpu, cpu]})
    run = dataclasses.replace(result, provenance=result.provenance | {"device": {"cpu": cpu}})

    assert reproduced_seed(run, baseline) is None
    assert REPRODUCED not in [c.verdict for c in check_run(run, baseline, name=NAME, policy=POLICY).checks]
    exact = dataclasses.replace(reproducing(result), provenance={"seed_cpus": [cpu, cpu]})
    assert reproduced_seed(run, exact).largest_difference == 0.0


@pytest.mark.parametrize("metric", ["accuracy", "f1"])
def test_metrics_counted_from_predictions_must_be_identical_on_any_cpu(result, metric):
    """A flipped prediction on a large evaluation set is a tiny relative change, but a real one."""
    baseline = reproducing(result)
    stats = baseline.metrics[metric]
    baseline.metrics[metric] = MetricStats((stats.values[0] * (1 - 1e-6), stats.values[1]))

    assert reproduced_seed(result, baseline, tolerance=1e-4) is None


def test_reproduced_seed_measures_the_largest_relative_difference(result):
    baseline = reproducing(result)  # records no CPU per seed: the tolerance applies
    loss = baseline.metrics["loss"]
    baseline.metrics["loss"] = MetricStats((loss.values[0] * (1 - 3e-5), loss.values[1]))

    reproduction = reproduced_seed(result, baseline, tolerance=1e-4)

    assert reproduction.seed == 42 and reproduction.metric == "loss"
    assert reproduction.largest_difference == pytest.approx(3e-5, rel=1e-3)
    assert reproduced_seed(result, baseline, tolerance=2e-5) is None
    assert reproduced_seed(result, reproducing(result), tolerance=0.0).largest_difference == 0.0


@pytest.mark.parametrize("tolerance", [-1e-9, 0.002, float("nan")])
def test_a_reproduction_tolerance_beyond_rounding_is_refused(tolerance):
    with pytest.raises(ConfigError, match="reproduction_tolerance must be in"):
        GatePolicy(reproduction_tolerance=tolerance)


# --- any task: its metrics, their directions, their intervals -------------------------------------


def test_a_policy_naming_no_metrics_gates_the_tasks_own():
    from harness.tasks import builtin_tasks

    tasks = builtin_tasks()
    assert GatePolicy().metrics == ()
    assert GatePolicy().for_task(tasks.get("mrpc")).metrics == ("accuracy", "f1")
    assert GatePolicy().for_task(tasks.get("stsb")).metrics == ("pearson", "spearmanr")
    assert GatePolicy(metrics=("accuracy", "loss")).for_task(tasks.get("mnli")).metrics == ("accuracy", "loss")


def test_a_policy_naming_a_metric_the_task_lacks_names_the_tasks_metrics():
    from harness.tasks import builtin_tasks

    with pytest.raises(ConfigError) as error:
        GatePolicy(metrics=("accuracy", "f1")).for_task(builtin_tasks().get("mnli"))
    message = str(error.value)
    assert "include ['f1'], which task 'mnli' does not report" in message and "its metrics are accuracy (and loss)" in message


def test_an_unresolved_policy_gates_what_the_run_reports_besides_its_loss(result):
    report = check_run(result, baseline_for(result), name=NAME, policy=GatePolicy(bootstrap_samples=50))
    assert [c.metric for c in report.checks] == ["accuracy", "f1"]
    assert report.policy.metrics == ("accuracy", "f1")


@pytest.mark.parametrize(("shift", "verdict"), [(0.1, FAIL), (-0.1, IMPROVED)])
def test_a_correlation_is_better_higher(shift, verdict):
    """A regression task's metrics come with their directions from the metric registry."""
    rng = np.random.default_rng(0)
    labels = rng.uniform(0, 5, size=60).astype(np.float32)
    scores = (labels + rng.normal(0, 1, size=60)).astype(np.float32)[:, None]
    from harness.tasks.metrics import loss, pearson

    base = run_result()
    metrics = {"pearson": pearson(scores[:, 0], labels), "loss": loss(scores, labels)}
    regression = dataclasses.replace(base, logits=scores, labels=labels, metrics=metrics)
    report = check_run(regression, baseline_for(regression, shift=shift), name=NAME, policy=POLICY)
    assert [(c.metric, c.verdict) for c in report.checks] == [("pearson", verdict)]
    assert report.checks[0].ci_low < metrics["pearson"] < report.checks[0].ci_high


def test_a_three_class_run_is_gated_on_accuracy_with_its_interval():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, size=90)
    logits = rng.normal(size=(90, 3))
    logits[np.arange(90), labels] += 1.5
    from harness.tasks.metrics import accuracy, loss

    metrics = {"accuracy": accuracy(logits.argmax(1), labels), "loss": loss(logits, labels)}
    three = dataclasses.replace(run_result(), logits=logits, labels=labels, metrics=metrics)
    report = check_run(three, baseline_for(three, shift=0.005), name=NAME, policy=POLICY)
    assert [(c.metric, c.verdict) for c in report.checks] == [("accuracy", PASS)]
    assert report.checks[0].ci_low < metrics["accuracy"] < report.checks[0].ci_high


@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_the_printed_interval_is_as_wide_as_its_confidence_says(confidence):
    """A 90% interval printed as "95% CI" must fail a test: with 4,000 rows at 80% accuracy the
    bootstrap distribution of accuracy is close to normal, so the percentile interval's width is
    2 z sqrt(p (1 - p) / n) to within a few percent."""
    from scipy.stats import norm

    rows, share = 4000, 0.8
    labels = np.zeros(rows, dtype=np.int64)
    labels[::2] = 1
    logits = np.zeros((rows, 2))
    right = np.arange(rows) < share * rows
    logits[np.arange(rows), np.where(right, labels, 1 - labels)] = 1.0
    result = dataclasses.replace(run_result(), logits=logits, labels=labels, metrics={"accuracy": share, "f1": 0.8, "loss": 0.5})
    policy = GatePolicy(metrics=("accuracy",), bootstrap_samples=4000, confidence=confidence)
    check = check_run(result, baseline_for(result), name=NAME, policy=policy).checks[0]
    expected = 2 * norm.ppf(0.5 + confidence / 2) * np.sqrt(share * (1 - share) / rows)
    assert check.ci_high - check.ci_low == pytest.approx(expected, rel=0.06)
    assert f"measured [{round(confidence * 100)}% CI]" in check_run(result, None, name=NAME, policy=policy).table()


def test_a_metric_without_an_interval_is_gated_all_the_same_and_says_why():
    """Eight rows with one positive: most resamples draw no positive, so F1 has no interval, but a value."""
    labels = np.array([1, 0, 0, 0, 0, 0, 0, 0])
    logits = np.eye(2)[[1, 0, 0, 1, 0, 0, 0, 0]] * 2.0
    result = dataclasses.replace(run_result(), logits=logits, labels=labels, metrics={"accuracy": 0.875, "f1": 2 / 3, "loss": 0.3})
    report = check_run(result, baseline_for(result), name=NAME, policy=POLICY)
    f1 = report.checks[1]
    assert (f1.metric, f1.ci_low, f1.ci_high, f1.verdict) == ("f1", None, None, PASS)
    assert report.checks[0].ci_low is not None
    assert any(note.startswith("no 95% interval for f1: f1 is undefined: on ") for note in report.notes)
    assert "| f1       | 0.6667                  |" in report.table()


def test_a_measured_value_that_is_not_a_number_fails_the_band(result):
    """Issue 19, item 9: every comparison with NaN is false, so a NaN measured value fell inside every
    band and passed. Now that metric fails, the others keep their verdicts, and a problem says why."""
    baseline = baseline_for(result, shift=0.005)
    diverged = dataclasses.replace(result, metrics=result.metrics | {"f1": float("nan")})
    report = check_run(diverged, baseline, name=NAME, policy=POLICY)
    assert {c.metric: c.verdict for c in report.checks} == {"accuracy": PASS, "f1": FAIL}
    assert not report.passed
    assert any("f1 is nan, not a number" in problem for problem in report.problems)


def test_a_baseline_missing_a_gated_metric_is_never_called_reproduced():
    """Issue 19, 1(c): with f1 deleted from the baseline, the run "reproduced baseline seed 42 exactly
    ... passed after one run" beside f1's MISMATCH."""
    run = run_result(accuracy=0.75)
    baseline = baseline_for(run, seeds=(42, 43))
    baseline = dataclasses.replace(baseline, metrics={k: v for k, v in baseline.metrics.items() if k != "f1"})
    report = check_run(run, baseline, name=NAME, policy=POLICY)
    assert {c.metric: c.verdict for c in report.checks}["f1"] == MISMATCH
    assert report.reproduction is None and not report.passed
    assert not any("reproduced" in note for note in report.notes)


def test_a_policy_that_repeats_a_metric_is_refused():
    """Issue 19, item 7: ["f1", "f1", "f1"] split alpha three ways over one metric."""
    with pytest.raises(ConfigError, match=r"repeat a metric"):
        GatePolicy(metrics=("f1", "f1", "f1"))


# --- the run identity's parts a baseline must match (harness.run.run_identity.BASELINE_MATCHES) ---------


def recorded_baseline(config, seeds=(142, 143)):
    """A baseline recorded the way record-baseline records one, from fake runs of ``config``."""
    from harness.quality.baselines import measured_from_runs

    return measured_from_runs(config, [run_result(config.replace(seed=seed)) for seed in seeds])


def test_a_run_of_another_world_size_is_a_mismatch():
    """Issue 20 (b): --harness-nproc=2 doubles the global batch; gating it against the single-process
    baseline compared two recipes with no word. A baseline from before world sizes were recorded was
    single-process."""
    from fake_runs import smoke_run_config

    config = smoke_run_config()
    distributed = run_result(config.replace(world_size=2))
    for baseline in (recorded_baseline(config), baseline_for(run_result(config))):
        report = check_run(distributed, baseline, name=NAME, policy=POLICY)
        assert not report.passed and {c.verdict for c in report.checks} == {MISMATCH}
        assert any(p.startswith("world size differs: run 2 training process(es), baseline 1") for p in report.problems)
    assert not check_run(run_result(config), recorded_baseline(config), name=NAME, policy=POLICY).problems


def test_a_task_whose_spec_changed_is_a_mismatch():
    """Issue 20 (c): swapping a task's label_names (F1 then scores the other class) passed the gate
    with no mismatch; the baseline records the task spec's sha256, and the run's must match it."""
    from fake_runs import smoke_run_config
    from harness.tasks import TaskSpec

    reviews = TaskSpec(name="reviews", text_columns=("text",), num_labels=2, label_names=("bad", "good"), metrics=("accuracy", "f1"))
    swapped = dataclasses.replace(reviews, label_names=("good", "bad"))
    baseline = recorded_baseline(smoke_run_config(task=reviews))
    assert not check_run(run_result(smoke_run_config(task=reviews)), baseline, name=NAME, policy=POLICY).problems
    report = check_run(run_result(smoke_run_config(task=swapped)), baseline, name=NAME, policy=POLICY)
    assert not report.passed and {c.verdict for c in report.checks} == {MISMATCH}
    assert any(p.startswith("task 'reviews' differs from the baseline's (its columns, labels or metrics") for p in report.problems)


def test_a_guarantee_with_the_band_is_refused_not_silently_ignored():
    with pytest.raises(ConfigError, match="applies to the sequential gate"):
        GatePolicy(procedure="band", guarantee="this-baseline")
    assert GatePolicy(procedure="band").guarantee == "average"
    assert GatePolicy(guarantee="this-baseline").guarantee == "this-baseline"
