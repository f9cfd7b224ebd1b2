"""Records refuse what the store should never hold, and keep one spelling of what they accept."""

from __future__ import annotations

import dataclasses
import math

import pytest

from harness.history.records import Boundary, Machine, QualityRecord, RunMetrics, SessionRecord, ThroughputRecord, utc_time

from fake_history import LAPTOP, fake_quality, fake_session, fake_throughput


def test_a_machine_key_is_readable_and_ignores_whitespace():
    assert Machine("AMD  EPYC 7763 ", "NVIDIA H100", 16).key == "AMD EPYC 7763 | 16 cores | NVIDIA H100"
    assert Machine("AMD EPYC 7763", None, 16).key == "AMD EPYC 7763 | 16 cores | no GPU"
    assert Machine("AMD EPYC 7763", None, 16).key != Machine("AMD EPYC 7763", None, 8).key


@pytest.mark.parametrize("moment, expected", [
    ("2026-05-09T09:35:25+02:00", "2026-05-09T07:35:25.000000+00:00"),
    ("2026-05-09T07:35:25Z", "2026-05-09T07:35:25.000000+00:00"),
    ("2026-05-09T07:35:25.123456+00:00", "2026-05-09T07:35:25.123456+00:00"),
])
def test_times_are_kept_in_utc_in_one_spelling_so_they_sort(moment, expected):
    assert utc_time(moment) == expected
    assert fake_session(0).time == "2026-05-01T00:00:00.000000+00:00"


@pytest.mark.parametrize("moment, message", [
    ("2026-05-09T07:35:25", "has no time zone"),
    ("last Tuesday", "must be ISO 8601"),
])
def test_a_time_without_a_zone_or_not_iso_is_refused(moment, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(fake_session(0), time=moment)


@pytest.mark.parametrize("build, message", [
    (lambda: Machine("", None, 4), "cpu_model must be a non-empty string"),
    (lambda: Machine("cpu", "", 4), "gpu"),
    (lambda: Machine("cpu", None, 0), "cores must be an integer >= 1"),
    (lambda: fake_throughput(samples_per_s=math.nan), "samples_per_s must be a finite number"),
    (lambda: fake_throughput(samples_per_s=0.0), "must be > 0"),
    (lambda: fake_throughput(case=" "), "case must be a non-empty string"),
    (lambda: ThroughputRecord("c", "cpu", "fp32", 10.0, 1.0, 0), "rounds must be an integer >= 1"),
    (lambda: RunMetrics(42, {"accuracy": math.inf}), "seed 42's metrics"),
    (lambda: RunMetrics(42, {}), "has no metrics"),
    (lambda: Boundary(math.nan, None), "fail_at"),
    (lambda: fake_quality(check=""), "check must be a non-empty string"),
    (lambda: dataclasses.replace(fake_quality(), verdict=""), "verdict must be a non-empty string"),
    (lambda: dataclasses.replace(fake_quality(), runs_used=3), "runs_used 3 exceeds the 2 runs recorded"),
    (lambda: dataclasses.replace(fake_quality(), runs_used=0), "runs_used must be an integer >= 1"),
    (lambda: fake_quality(seeds=(42, 42)), "a seed appears twice"),
    (lambda: dataclasses.replace(fake_quality(), means={"accuracy": math.nan}), "means"),
    (lambda: dataclasses.replace(fake_quality(), boundaries={"f1": (0.8, 0.9)}), "must be a Boundary"),
    (lambda: dataclasses.replace(fake_session(0), commit=""), "commit must be a non-empty string"),
    (lambda: dataclasses.replace(fake_session(0), branch=""), "branch"),
    (lambda: dataclasses.replace(fake_session(0), versions={"torch": ""}), r"versions\['torch'\]"),
    (lambda: fake_session(0, quality=(fake_quality(), fake_quality())), "repeated: " + "benchmarks/"),
    (lambda: fake_session(0, throughput=(fake_throughput(), fake_throughput())), "repeated: minilm-cpu-fp32-b8"),
])
def test_what_the_store_should_never_hold_is_refused_when_built(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_sequences_become_tuples_and_mappings_are_copied():
    metrics = {"accuracy": 1}
    run = RunMetrics(1, metrics)
    metrics["accuracy"] = 0.5
    assert run.metrics == {"accuracy": 1.0} and isinstance(run.metrics["accuracy"], float)
    session = SessionRecord("abc", None, "2026-05-01T00:00:00+00:00", LAPTOP, {}, [fake_quality()], [fake_throughput()])
    assert isinstance(session.quality, tuple) and isinstance(session.throughput, tuple)


def test_a_boundary_may_be_unreachable():
    assert Boundary(None, 0.8) == Boundary(None, 0.8)
    assert QualityRecord("c", "b", "id", "run", "continue", 1, (RunMetrics(0, {"f1": 0.9}),),
                         {"f1": Boundary(None, None)}, {"f1": 0.9}).boundaries["f1"].fail_at is None
