"""The plugin's pytest-benchmark wiring, through ``pytester``: benchmark JSON lands in the reports
folder by default (and only when a benchmark ran), an explicit ``--benchmark-json`` wins, and a
saved run plus ``--benchmark-compare-fail`` fails a regressed run.

The inner benchmark sleeps for ``INNER_DELAY`` seconds: a no-op against 50 ms is a regression on any
machine, so the failing comparison does not depend on how busy this one is.
"""

from __future__ import annotations

import json

import pytest
import torch  # noqa: F401  (imported out here: an inner run that imported it first would drop it, and torch cannot be imported twice)

pytest_plugins = ["pytester"]

INNER_BENCHMARK = """
import os
import time


def test_sleep(benchmark):
    benchmark.pedantic(time.sleep, args=(float(os.environ.get("INNER_DELAY", "0")),), rounds=3, iterations=1)


def test_plain():
    pass
"""


@pytest.fixture
def inner(pytester, monkeypatch):
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(pytester.path / "reports"))
    monkeypatch.delenv("INNER_DELAY", raising=False)
    pytester.makepyfile(test_inner=INNER_BENCHMARK)
    return pytester


def test_benchmark_json_goes_to_the_reports_folder_by_default(inner):
    result = inner.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    saved = json.loads((inner.path / "reports" / "benchmarks.json").read_text())
    assert [b["name"] for b in saved["benchmarks"]] == ["test_sleep"]
    assert "machine_info" in saved and "commit_info" in saved


def test_an_explicit_benchmark_json_wins(inner):
    result = inner.runpytest("-p", "no:cacheprovider", f"--benchmark-json={inner.path / 'mine.json'}")
    result.assert_outcomes(passed=2)
    assert (inner.path / "mine.json").is_file()
    assert not (inner.path / "reports" / "benchmarks.json").exists()


def test_no_benchmark_selected_writes_no_json_and_no_warning(inner):
    result = inner.runpytest("-p", "no:cacheprovider", "-k", "plain")
    result.assert_outcomes(passed=1, deselected=1)
    assert not (inner.path / "reports" / "benchmarks.json").exists()
    assert "Not saving anything" not in result.stdout.str()


def test_compare_fail_against_a_saved_run_fails_a_regression(inner, monkeypatch):
    # Saving runs in process; the comparing run in a subprocess: pytest-benchmark raises its regression
    # out of the terminal summary, which an in-process run would pass on to this test instead of
    # turning it into the exit status.
    inner.runpytest("-p", "no:cacheprovider", "--benchmark-save=baseline").assert_outcomes(passed=2)
    assert list(inner.path.glob(".benchmarks/*/0001_baseline.json"))
    monkeypatch.setenv("INNER_DELAY", "0.05")
    result = inner.runpytest_subprocess("-p", "no:cacheprovider", "--benchmark-compare=0001", "--benchmark-compare-fail=min:50%")
    assert result.ret != 0
    output = result.stdout.str() + result.stderr.str()
    assert "Performance has regressed" in output
    assert "test_sleep" in output and "Field 'min' has failed" in output


INNER_THROUGHPUT = """
from harness.throughput.runner import ThroughputCase

GPU_FP32 = ThroughputCase("arch:bert-tiny", "cuda:0", "fp32", 4)
GPU_BF16 = ThroughputCase("arch:bert-tiny", "cuda:0", "bf16", 4)


def test_gpu_case(training_throughput, benchmark):
    training_throughput.measure(GPU_FP32, benchmark)


def test_gpu_relative(training_throughput):
    training_throughput.assert_relative(GPU_BF16, GPU_FP32, min_ratio=1.0)
"""


@pytest.mark.filterwarnings("ignore:Not saving anything")  # pytest-benchmark's note: every benchmark skipped
def test_gpu_cases_skip_with_the_reason_and_the_report_says_not_measured(pytester, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(pytester.path / "reports"))
    pytester.makepyfile(test_inner=INNER_THROUGHPUT)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines([
        "SKIPPED * test_inner.py:*: no CUDA GPU on this machine: torch.cuda.is_available() is False*",
        "SKIPPED * test_inner.py:*: arch:bert-tiny-cuda:0-bf16-b4 was not measured: no CUDA GPU on this machine*",
    ])
    report = (pytester.path / "reports" / "throughput.md").read_text()
    assert "| arch:bert-tiny | cuda:0 | fp32      | 4     | not measured [1]" in report
    assert (pytester.path / "reports" / "throughput.png").read_bytes().startswith(b"\x89PNG")


INNER_FAILING_THROUGHPUT = """
from harness.throughput.runner import ThroughputCase


def test_cpu_case(training_throughput, benchmark):
    training_throughput.measure(ThroughputCase("arch:bert-tiny", "cpu", "fp32", 4), benchmark)
"""


@pytest.mark.filterwarnings("ignore:Not saving anything")
def test_a_case_that_fails_keeps_its_row_saying_why(pytester, monkeypatch, tmp_path):
    """A broken data folder used to drop the failed cases from throughput.md without a word."""
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(pytester.path / "reports"))
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "no-such-mrpc"))
    pytester.makepyfile(test_inner=INNER_FAILING_THROUGHPUT)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    report = (pytester.path / "reports" / "throughput.md").read_text()
    assert "| arch:bert-tiny | cpu    | fp32      | 4     | FAILED [1]" in report, report
    footnote = next(line for line in report.splitlines() if line.startswith("[1] "))
    assert "DataError" in footnote and "no-such-mrpc" in footnote


@pytest.mark.filterwarnings("ignore:Not saving anything")
def test_reports_an_earlier_run_left_are_removed(pytester, monkeypatch):
    """`pytest benchmarks -k cuda` rewrote throughput.md but left an older quality.md and benchmarks.json beside it."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    reports = pytester.path / "reports"
    reports.mkdir()
    stale = {name: reports / name for name in ("quality.md", "quality.json", "benchmarks.json")}
    for path in stale.values():
        path.write_text("from an earlier run\n")
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(reports))
    pytester.makepyfile(test_inner=INNER_THROUGHPUT)
    plain = pytester.makepyfile(test_plain="def test_nothing():\n    pass\n")
    pytester.runpytest("-p", "no:cacheprovider", str(plain)).assert_outcomes(passed=1)
    assert all(path.exists() for path in stale.values()), "a run that writes no report must not touch the folder"
    result = pytester.runpytest("-p", "no:cacheprovider", "test_inner.py")
    result.assert_outcomes(skipped=2)
    assert (reports / "throughput.md").is_file()
    assert not any(path.exists() for path in stale.values())
    for path in stale.values():
        assert f"harness: removed {path}, left by an earlier run" in result.stdout.str()
