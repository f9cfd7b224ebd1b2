"""A user's CSV case from declaration to a verdict, as the README tells it, through ``pytester``:
declare the task and the case in pyproject.toml, list it (`harness cases`), record its baseline
(`harness record-baseline --case`), and let `pytest benchmarks` gate every case against its own
baseline with the three-line test the README shows.

The data is written here (invented reviews, the user's own column names); the case trains the smoke
tier twice, for its two baseline seeds, and the inner pytest run reuses those fine-tunes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from review_project import REVIEWS, THE_READMES_TEST, write_reviews
from harness.cli import main
from harness.settings import Settings

pytest_plugins = ["pytester"]

PYPROJECT = REVIEWS + """
[tool.harness.cases.reviews-no-f1]
task = "reviews"
recipe = "smoke"
data_files = { train = "data/train.csv", validation = "data/dev.csv" }
columns = { text = "review", label = "verdict" }
metrics = ["accuracy"]

[tool.harness.gate]
bootstrap_samples = 50
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    write_reviews(pytester.path / "data")
    (pytester.path / "benchmarks").mkdir()
    (pytester.path / "benchmarks" / "test_project_cases.py").write_text(THE_READMES_TEST, encoding="utf-8")
    return pytester


def harness(project: pytest.Pytester, cache: Path, *argv: str) -> subprocess.CompletedProcess:
    """The ``harness`` command as a user runs it, in its own process: the pytester fixture drops every
    module imported while it is active, and the transformers modules a fine-tune imports cannot be
    imported twice in one process."""
    env = {**os.environ, "HARNESS_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "harness", *argv, "--pyproject", str(project.path / "pyproject.toml")],
                          cwd=project.path, env=env, capture_output=True, text=True, timeout=1200)


def test_a_csv_case_goes_from_declaration_to_a_verdict(project, tmp_path, capsys):
    cache, baselines = tmp_path / "cache", project.path / "baselines"

    # Listing trains and imports nothing heavy: in this process (the ``python -m harness`` entry point
    # itself is tests/test_cli.py's).
    code = main(["cases", "--device", "cpu", "--baselines-dir", str(baselines), "--pyproject", str(project.path / "pyproject.toml")],
                settings=Settings(hub_offline=True, cache_dir=cache))
    listing = capsys.readouterr()
    assert code == 0, listing.err
    listed = listing.out
    assert "| reviews " in listed and "| reviews-no-f1 " in listed and "accuracy, f1" in listed
    assert "`harness record-baseline --case reviews`" in listed

    recording = harness(project, cache, "record-baseline", "--case", "reviews", "--seeds", "2", "--device", "cpu",
                        "--baselines-dir", str(baselines), "--quiet")
    assert recording.returncode == 0, recording.stderr
    recorded = baselines / "reviews--reviews--arch-bert-tiny--validation--cpu-fp32.json"
    assert f"wrote {recorded}" in recording.stdout

    # In a subprocess: an in-process run drops the transformers modules it imported, breaking later tests.
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-v", f"--harness-cache-dir={cache}", "--harness-device=cpu",
                               "--harness-no-progress", f"--harness-reports-dir={tmp_path / 'reports'}")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*benchmarks/test_project_cases.py::test_case[[]reviews[]] PASSED*",
        "*benchmarks/test_project_cases.py::test_case[[]reviews-no-f1[]] FAILED*",
    ])
    output = result.stdout.str()
    assert "Quality gate: reviews--reviews--arch-bert-tiny--validation--cpu-fp32" in output
    assert "reproduced baseline seed 42 exactly" in output
    # The other case has a baseline of its own to record, and is told how.
    assert "no baseline at " in output and "reviews--reviews-no-f1--arch-bert-tiny--validation--cpu-fp32.json" in output
    assert "harness record-baseline --case reviews-no-f1 --seeds 5" in output


def test_a_project_without_cases_skips_the_case_test(pytester):
    pytester.makefile(".toml", pyproject="[tool.pytest.ini_options]\n")
    pytester.makepyfile(test_project_cases=THE_READMES_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*got empty parameter set*"])


def test_a_broken_case_is_a_usage_error_before_anything_runs(pytester):
    pytester.makefile(".toml", pyproject='[tool.harness.cases.mine]\ntask = "mrpc"\n')
    pytester.makepyfile(test_project_cases=THE_READMES_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "[tool.harness.cases.mine]: `recipe` (the recipe it fine-tunes with) is required" in result.stderr.str()
