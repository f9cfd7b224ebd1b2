"""Series cut to their last commits keep every run of those commits, in time order."""

from __future__ import annotations

import numpy as np
import pytest

from harness.history.series import Point, ThroughputSeries, last_commits

from fake_history import LAPTOP, fake_throughput


def points(*commits: str) -> list[Point]:
    return [Point(commit, "main", f"2026-05-01T00:0{i}:00.000000+00:00", LAPTOP.key,
                  fake_throughput(samples_per_s=100.0 + i)) for i, commit in enumerate(commits)]


def test_the_last_commits_are_those_recorded_most_recently_with_all_their_runs():
    series = points("a", "b", "c", "b", "d")
    assert [p.commit for p in last_commits(series, 2)] == ["b", "b", "d"]
    assert [p.commit for p in last_commits(series, 3)] == ["b", "c", "b", "d"]
    assert last_commits(series, 10) == tuple(series) == last_commits(series, None)


@pytest.mark.parametrize("count", [0, -1, 1.5, True])
def test_a_count_that_is_not_a_positive_integer_is_refused(count):
    with pytest.raises(ValueError, match="last_commits must be a positive integer"):
        last_commits(points("a"), count)


def test_a_throughput_series_reads_as_arrays_in_its_order():
    series = ThroughputSeries("case", LAPTOP.key, tuple(points("a", "b", "c")))
    assert series.commits == ("a", "b", "c")
    np.testing.assert_array_equal(series.samples_per_s, [100.0, 101.0, 102.0])
