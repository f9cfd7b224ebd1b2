"""The pytest plugin as a user meets it, through ``pytester``: options, markers, usage errors, the
quality gate's failures and regeneration, the files it leaves, and the fine-tune cache.

Every inner run uses the smoke recipe and the shared ``smoke_cache``, so none of them trains.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["pytester", "smoke_cache"]

BASELINE_NAME = "mrpc--smoke--arch-bert-tiny--validation--cpu-fp32"
INNER_TEST = """
def test_smoke_quality(harness, quality_gate):
    quality_gate.check(harness.config("smoke"))
"""
OPTIONS = [
    "--harness-data-dir",
    "--harness-cache-dir",
    "--harness-reports-dir",
    "--harness-baselines-dir",
    "--harness-device",
    "--harness-precision",
    "--harness-force-regen",
    "--harness-baseline-seeds",
    "--harness-gate-sigmas",
    "--harness-gate-floor",
    "--harness-bootstrap-samples",
    "--harness-gate-procedure",
    "--harness-seed",
    "--harness-fault",
    "--harness-nproc",
    "--harness-no-progress",
]


@dataclass
class GateRun:
    """Runs the inner quality test with every path pointed into this test's temporary folder."""

    pytester: pytest.Pytester
    smoke_dir: Path
    cache_dir: Path
    baselines_dir: Path
    reports_dir: Path

    @property
    def baseline(self) -> Path:
        return self.baselines_dir / f"{BASELINE_NAME}.json"

    @property
    def obtained(self) -> Path:
        """The one config's obtained file (named ``<baseline>.<config hash>.obtained.json``), or a path that does not exist."""
        found = sorted(self.baselines_dir.glob(f"{BASELINE_NAME}.*.obtained.json"))
        assert len(found) <= 1, found
        return found[0] if found else self.baselines_dir / f"{BASELINE_NAME}.none.obtained.json"

    def __call__(self, *extra: str, subprocess: bool = False) -> pytest.RunResult:
        # ``--option=value``, not ``--option value``: pytest picks the rootdir (and its ini file and
        # conftests) before plugins register their options, and would take a lone path for a test path.
        run = self.pytester.runpytest_subprocess if subprocess else self.pytester.runpytest
        result = run(
            f"--harness-data-dir={self.smoke_dir}",
            f"--harness-cache-dir={self.cache_dir}",
            f"--harness-baselines-dir={self.baselines_dir}",
            f"--harness-reports-dir={self.reports_dir}",
            "--harness-device=cpu",
            "--harness-no-progress",
            "--harness-baseline-seeds=2",
            "--harness-bootstrap-samples=100",
            "-p", "no:cacheprovider",
            *extra,
        )  # fmt: skip
        assert f"rootdir: {self.pytester.path}" in result.stdout.str()  # isolated from this repository
        return result


@pytest.fixture
def gate_run(pytester: pytest.Pytester, smoke_cache: Path, smoke_dir: Path, tmp_path: Path) -> GateRun:
    pytester.makepyfile(test_smoke_quality=INNER_TEST)
    return GateRun(pytester, smoke_dir, smoke_cache, tmp_path / "baselines", tmp_path / "reports")


def _cache_entries(cache_dir: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in (cache_dir / "runs").glob("*/result.json")}


def test_help_lists_every_option_with_its_default(pytester):
    output = pytester.runpytest("--help").stdout.str()
    assert "fine-tuning evaluation and regression harness" in output
    section = output[output.index("fine-tuning evaluation and regression harness"):]
    for option, following in zip(OPTIONS, OPTIONS[1:] + [None]):
        start = section.index(option)
        help_text = section[start:section.index(following) if following else None]
        assert "Default:" in " ".join(help_text.split()), f"{option} does not state its default:\n{help_text}"


def test_markers_are_registered(pytester):
    output = pytester.runpytest("--markers").stdout.str()
    for marker in ("quality", "throughput", "gpu", "slow"):
        assert f"@pytest.mark.{marker}:" in output


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--harness-gate-sigmas=-1", "must be >= 0, got -1.0"),
        ("--harness-gate-floor=wide", "expected a number, got 'wide'"),
        ("--harness-baseline-seeds=0", "must be >= 1, got 0"),
        ("--harness-baseline-seeds=1", "a baseline needs at least 2 seeds"),
        ("--harness-bootstrap-samples=1.5", "expected an integer, got '1.5'"),
        ("--harness-bootstrap-samples=10000000", "at most 100,000 resamples, got 10,000,000"),
        ("--harness-device=tpu", "invalid choice: 'tpu'"),
        ("--harness-precision=int8", "invalid choice: 'int8'"),
        ("--harness-seed=-3", "a seed must be from 0 to 2**32 - 1, got -3"),
        ("--harness-fault=label-noise-60", "label-noise takes a whole percent from 1 to 50"),
        ("--harness-fault=label-noise-05", "label-noise takes a whole percent from 1 to 50"),
        ("--harness-fault=typo", "unknown fault 'typo'; known: shuffled-labels"),
    ],
)
def test_bad_option_values_are_usage_errors(pytester, option, message):
    """A typo in CI configuration should stop the run with the option named, not train with a default."""
    result = pytester.runpytest(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    stderr = result.stderr.str()
    assert option.split("=")[0] in stderr
    assert message in stderr


def test_a_precision_the_device_cannot_train_in_is_a_usage_error(pytester):
    """Refused before anything trains, with the reason, rather than failing minutes into a fine-tune."""
    result = pytester.runpytest("--harness-device=cpu", "--harness-precision=fp16")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--harness-precision=fp16: fp16 training needs a CUDA device" in result.stderr.str()


def test_a_missing_baseline_fails_with_the_table_and_how_to_record(gate_run):
    result = gate_run()
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert f"Quality gate: {BASELINE_NAME}" in output
    assert "allowed band" in output and "MISSING" in output
    assert f"no baseline at {gate_run.baseline}" in output
    assert "--harness-force-regen" in output
    assert re.search(r"=+ harness quality gate =+", output)
    assert not gate_run.baseline.exists()
    assert gate_run.obtained.is_file()


def test_force_regen_writes_the_baseline_shows_the_diff_and_fails(gate_run):
    result = gate_run("--harness-force-regen")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert f"REGENERATED {gate_run.baseline} from seeds [42, 43]" in output
    result.stdout.fnmatch_lines(["*| metric*| old baseline*| new baseline*| change*|*"])
    baseline = json.loads(gate_run.baseline.read_text())
    assert baseline["seeds"] == [42, 43]
    assert baseline["recipe"] == "smoke" and baseline["kind"] == "measured"


def test_after_regen_a_plain_run_passes_and_writes_reports(gate_run):
    gate_run("--harness-force-regen").assert_outcomes(failed=1)
    result = gate_run()
    result.assert_outcomes(passed=1)
    assert "harness quality gate" in result.stdout.str()
    assert "REGENERATED" not in result.stdout.str()
    quality = json.loads((gate_run.reports_dir / "quality.json").read_text())
    assert quality["passed"] is True
    # seed 42 is in the regenerated baseline and nothing changed: the one-run exact-reproduction path
    assert [c["verdict"] for c in quality["checks"][0]["checks"]] == ["reproduced", "reproduced"]
    markdown = (gate_run.reports_dir / "quality.md").read_text()
    assert f"## {BASELINE_NAME}: PASSED" in markdown
    assert not gate_run.obtained.exists()


def _private_cache(gate_run: GateRun, tmp_path: Path) -> GateRun:
    """The shared smoke cache copied, for a test whose new fine-tunes must not reach other tests."""
    shutil.copytree(gate_run.cache_dir, tmp_path / "private-cache")
    return dataclasses.replace(gate_run, cache_dir=tmp_path / "private-cache")


def test_a_seed_outside_the_baseline_is_gated_statistically_not_as_a_reproduction(gate_run, tmp_path):
    gate_run = _private_cache(gate_run, tmp_path)
    gate_run("--harness-force-regen").assert_outcomes(failed=1)
    gate_run("--harness-seed=44")
    quality = json.loads((gate_run.reports_dir / "quality.json").read_text())
    verdicts = [c["verdict"] for c in quality["checks"][0]["checks"]]
    assert verdicts and "reproduced" not in verdicts


def test_an_injected_fault_reaches_every_fine_tune_and_never_regenerates(gate_run, tmp_path):
    gate_run = _private_cache(gate_run, tmp_path)
    gate_run("--harness-force-regen").assert_outcomes(failed=1)
    clean = gate_run.baseline.read_text()
    result = gate_run("--harness-fault=label-noise-50", "--harness-force-regen")
    assert f"NOT REGENERATED {gate_run.baseline}" in result.stdout.str()
    assert gate_run.baseline.read_text() == clean
    quality = json.loads((gate_run.reports_dir / "quality.json").read_text())
    assert "deliberate faults injected in this run: label-noise-50" in quality["checks"][0]["notes"]


def test_a_run_below_the_baseline_fails_and_leaves_obtained_values(gate_run):
    """Raising the baseline well above what the smoke model reaches stands in for a regression."""
    gate_run("--harness-force-regen").assert_outcomes(failed=1)
    data = json.loads(gate_run.baseline.read_text())
    for metric in ("accuracy", "f1"):
        stats = data["metrics"][metric]
        raised = stats["mean"] + 0.25
        stats.update(values=[raised, raised], mean=raised, std=0.0, min=raised, max=raised)
    gate_run.baseline.write_text(json.dumps(data))
    result = gate_run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*| accuracy *| -0.2500 *| FAIL *|", "*| f1 *| -0.2500 *| FAIL *|"])
    obtained = json.loads(gate_run.obtained.read_text())
    assert obtained["gate"]["passed"] is False
    assert obtained["metrics"]["accuracy"] == pytest.approx(data["metrics"]["accuracy"]["mean"] - 0.25)
    assert json.loads((gate_run.reports_dir / "quality.json").read_text())["passed"] is False


def test_the_report_is_appended_to_the_ci_step_summary(gate_run, monkeypatch, tmp_path):
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    gate_run().assert_outcomes(failed=1)
    text = summary.read_text()
    assert text.startswith("earlier step\n")
    assert "# Quality gate" in text
    assert f"## {BASELINE_NAME}: FAILED" in text


def test_a_second_session_reuses_the_cached_fine_tune(gate_run):
    """The quality gate must be cheap to re-run: with nothing changed, no fine-tune is repeated."""
    before = _cache_entries(gate_run.cache_dir)
    assert len(before) == 2  # seeds 42 and 43, trained once for the whole test session
    result = gate_run("--log-cli-level=INFO")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "reusing cached fine-tune" in output
    assert "fine-tuning arch:bert-tiny" not in output
    assert _cache_entries(gate_run.cache_dir) == before


XDIST_TESTS = """
from pathlib import Path


def test_passes(harness, quality_gate):
    quality_gate.check(harness.config("smoke"))


def test_fails(harness, quality_gate):
    quality_gate.check(harness.config("smoke", data_dir=Path(__file__).parent / "edited-data"))
"""


@pytest.mark.slow  # ~14 s; the fast tier's xdist report test is the crashed-worker one below
def test_under_xdist_the_controller_reports_every_check(gate_run, smoke_dir, tmp_path):
    """Each worker used to write its own report, the last one winning: a failed run read "passed"."""
    pytest.importorskip("xdist")
    shutil.copytree(gate_run.cache_dir, tmp_path / "cache")  # this test trains one more run: keep the shared cache as it was
    gate_run.cache_dir = tmp_path / "cache"
    gate_run("--harness-force-regen").assert_outcomes(failed=1)
    edited = gate_run.pytester.path / "edited-data"
    edited.mkdir()
    (edited / "train.tsv").write_bytes((smoke_dir / "train.tsv").read_bytes())
    dev = (smoke_dir / "dev.tsv").read_bytes()
    (edited / "dev.tsv").write_bytes(dev + dev.splitlines(keepends=True)[1])  # one more pair: other data, a MISMATCH
    gate_run.pytester.makepyfile(test_smoke_quality=XDIST_TESTS)
    result = gate_run("-n", "2", subprocess=True)
    result.assert_outcomes(passed=1, failed=1)
    output = result.stdout.str()
    assert output.count(f"Quality gate: {BASELINE_NAME}") >= 2, output  # both tables reach the terminal
    quality = json.loads((gate_run.reports_dir / "quality.json").read_text())
    assert quality["passed"] is False
    assert sorted(c["passed"] for c in quality["checks"]) == [False, True]
    markdown = (gate_run.reports_dir / "quality.md").read_text()
    assert f"## {BASELINE_NAME}: PASSED" in markdown and f"## {BASELINE_NAME}: FAILED" in markdown


def test_the_projects_own_recipes_reach_the_checks(pytester):
    pytester.makefile(".toml", pyproject='[tool.harness.recipes.my-smoke]\nbase = "smoke"\nlearning_rate = 0.002\n')
    pytester.makepyfile(test_recipe="""
def test_recipe(harness):
    assert harness.config("my-smoke").recipe.learning_rate == 0.002
    assert harness.config("my-smoke").recipe.batch_size == harness.config("smoke").recipe.batch_size
""")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_bad_project_recipe_is_a_usage_error(pytester):
    pytester.makefile(".toml", pyproject='[tool.harness.recipes.my-smoke]\nbase = "smok"\n')
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown recipe 'smok'; did you mean 'smoke'? known recipes: course, minilm-cpu, minilm-cpu-ema, minilm-cpu-reinit, smoke" in result.stderr.str()


@pytest.mark.slow  # ~11 s; DDP training stays fast in tests/run/test_distributed.py (two processes on one node)
def test_harness_nproc_trains_each_fine_tune_with_ddp(gate_run, tmp_path):
    gate_run = _private_cache(gate_run, tmp_path)
    before = set(_cache_entries(gate_run.cache_dir))
    gate_run("--harness-nproc=2", subprocess=True)
    new = [gate_run.cache_dir / "runs" / entry for entry in set(_cache_entries(gate_run.cache_dir)) - before]
    assert len(new) == 1, "one new fine-tune, trained by two processes"
    provenance = json.loads((new[0] / "result.json").read_text())["provenance"]
    assert provenance["distributed"]["world_size"] == 2 and provenance["distributed"]["backend"] == "gloo"


def test_a_gate_that_errors_replaces_an_older_passing_report(gate_run, tmp_path):
    """Issue 19, 1(a): a passing run's quality.json, then a broken baseline: pytest failed, and the old
    file still said "passed": true. The errored gate is now in the report, as FAILED, with its error."""
    gate_run = _private_cache(gate_run, tmp_path)
    gate_run("--harness-force-regen").assert_outcomes(failed=1)
    gate_run().assert_outcomes(passed=1)
    assert json.loads((gate_run.reports_dir / "quality.json").read_text())["passed"] is True
    gate_run.baseline.write_text(gate_run.baseline.read_text()[:-40])  # broken JSON
    result = gate_run()
    result.assert_outcomes(failed=1)
    quality = json.loads((gate_run.reports_dir / "quality.json").read_text())
    assert quality["passed"] is False and quality["errored"] == 1
    [check] = quality["checks"]
    assert check["passed"] is False and "BaselineError" in check["error"] and "not valid JSON" in check["error"]
    markdown = (gate_run.reports_dir / "quality.md").read_text()
    assert f"## {BASELINE_NAME}: FAILED (error)" in markdown and "PASSED" not in markdown
    assert "1 check(s): 0 passed, 1 failed (1 of them errored before a verdict)" in markdown


TWO_GATES = """
from harness.quality.gate import GatePolicy


def test_passes(harness, quality_gate):
    quality_gate.check(harness.config("smoke"))


def test_errors(harness):
    harness.check_quality(harness.config("other-smoke"))
"""


def test_every_gate_that_ran_is_in_the_report_errors_as_failed(gate_run, tmp_path):
    """Issue 19, 1(b): of two gates, one whose baseline holds a NaN (no summary keys) raised inside
    check(); the reports said "passed" over "1 check(s)". Both are reported, the error as FAILED."""
    gate_run = _private_cache(gate_run, tmp_path)
    gate_run("--harness-force-regen").assert_outcomes(failed=1)
    other = json.loads(gate_run.baseline.read_text())
    other["recipe"] = "other-smoke"
    other["metrics"]["f1"] = {"values": [float("nan"), 0.5]}
    (gate_run.baselines_dir / BASELINE_NAME.replace("--smoke--", "--other-smoke--")).with_suffix(".json").write_text(json.dumps(other))
    gate_run.pytester.makefile(".toml", pyproject='[tool.harness.recipes.other-smoke]\nbase = "smoke"\n')
    gate_run.pytester.makepyfile(test_smoke_quality=TWO_GATES)
    result = gate_run()
    result.assert_outcomes(passed=1, failed=1)
    assert "not a finite number for seeds [42]" in result.stdout.str()
    quality = json.loads((gate_run.reports_dir / "quality.json").read_text())
    assert quality["passed"] is False
    assert [check["passed"] for check in quality["checks"]] == [True, False]
    assert "'f1' is not a finite number" in quality["checks"][1]["error"]
    markdown = (gate_run.reports_dir / "quality.md").read_text()
    assert "2 check(s): 1 passed, 1 failed" in markdown


SAME_GATE_TWICE = """
def test_first(harness, quality_gate):
    quality_gate.check(harness.config("smoke"))


def test_second(harness, quality_gate):
    quality_gate.check(harness.config("smoke", seed=7))
"""


def test_two_gates_of_one_baseline_are_told_apart_by_their_test(gate_run, tmp_path):
    """Two gates of one baseline name in one run got two sections only their tables told apart."""
    gate_run = _private_cache(gate_run, tmp_path)
    gate_run("--harness-force-regen").assert_outcomes(failed=1)
    gate_run.pytester.makepyfile(test_smoke_quality=SAME_GATE_TWICE)
    gate_run()
    quality = json.loads((gate_run.reports_dir / "quality.json").read_text())
    assert [check["test"] for check in quality["checks"]] == ["test_smoke_quality.py::test_first",
                                                              "test_smoke_quality.py::test_second"]
    markdown = (gate_run.reports_dir / "quality.md").read_text()
    assert f"## {BASELINE_NAME}: PASSED (`test_smoke_quality.py::test_first`)" in markdown
    assert "(`test_smoke_quality.py::test_second`)" in markdown


def test_a_baseline_without_a_gated_metric_is_reported_and_drawn_never_reproduced(gate_run, tmp_path):
    """Issue 19, 1(c): with "f1" deleted from the baseline the check failed with MISMATCH, the chart
    crashed on its missing mean (so no report was written and a stale "passed" one stayed), and the
    note said seed 42 was reproduced and "passed after one run"."""
    gate_run = _private_cache(gate_run, tmp_path)
    gate_run("--harness-force-regen").assert_outcomes(failed=1)
    gate_run().assert_outcomes(passed=1)
    data = json.loads(gate_run.baseline.read_text())
    del data["metrics"]["f1"]
    gate_run.baseline.write_text(json.dumps(data))
    result = gate_run()
    result.assert_outcomes(failed=1)
    quality = json.loads((gate_run.reports_dir / "quality.json").read_text())
    assert quality["passed"] is False
    [check] = quality["checks"]
    assert {c["metric"]: c["verdict"] for c in check["checks"]}["f1"] == "MISMATCH"
    assert not any("reproduced" in note or "passed after one run" in note for note in check["notes"])
    assert (gate_run.reports_dir / "quality.png").read_bytes().startswith(b"\x89PNG")
    assert f"## {BASELINE_NAME}: FAILED" in (gate_run.reports_dir / "quality.md").read_text()


def _old_passing_report(reports_dir: Path) -> None:
    reports_dir.mkdir(parents=True, exist_ok=True)
    (reports_dir / "quality.json").write_text(json.dumps({"passed": True, "checks": []}))
    (reports_dir / "quality.md").write_text("# Quality gate\n\nall passed, long ago\n")


CRASHING_WORKER = """
import os


def test_passes(harness, quality_gate):
    quality_gate.check(harness.config("smoke"))


def test_crashes(harness, quality_gate):
    os.kill(os.getpid(), 9)  # what the out-of-memory killer does to a worker mid-fine-tune
"""


def test_a_crashed_xdist_worker_leaves_every_verdict_it_had_and_its_crash_in_the_report(gate_run, tmp_path):
    """Verdicts reached the controller only at a worker's end: a worker killed mid-run lost every
    verdict it had, and the report said "passed" over the rest."""
    pytest.importorskip("xdist")
    gate_run = _private_cache(gate_run, tmp_path)
    gate_run("--harness-force-regen").assert_outcomes(failed=1)
    _old_passing_report(gate_run.reports_dir)
    gate_run.pytester.makepyfile(test_smoke_quality=CRASHING_WORKER)
    result = gate_run("-n", "2", "-p", "no:randomly", subprocess=True)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    quality = json.loads((gate_run.reports_dir / "quality.json").read_text())
    assert quality["passed"] is False
    by_name = {check["name"]: check for check in quality["checks"]}
    assert by_name[BASELINE_NAME]["passed"] is True
    crash = by_name["test_smoke_quality.py::test_crashes"]
    assert crash["passed"] is False and "crashed while running this test" in crash["error"]


FAILS_BEFORE_ITS_GATE = """
def test_misspelt_recipe(harness, quality_gate):
    quality_gate.check(harness.config("smok"))
"""


def test_a_gate_test_that_fails_before_its_gate_is_reported_and_replaces_an_older_report(gate_run):
    """A ConfigError raised building the config, before check(), recorded nothing: the only gate of the
    run left an older "passed" report standing."""
    _old_passing_report(gate_run.reports_dir)
    gate_run.pytester.makepyfile(test_smoke_quality=FAILS_BEFORE_ITS_GATE)
    gate_run().assert_outcomes(failed=1)
    quality = json.loads((gate_run.reports_dir / "quality.json").read_text())
    assert quality["passed"] is False
    [check] = quality["checks"]
    assert check["name"] == "test_smoke_quality.py::test_misspelt_recipe"
    assert "before its gate reached a verdict" in check["error"] and "unknown recipe 'smok'" in check["error"]


INTERRUPTED = """
import os, signal


def test_passes(harness, quality_gate):
    quality_gate.check(harness.config("smoke"))


def test_interrupted(harness, quality_gate):
    {interrupt}
"""
INTERRUPTS = {"ctrl-c": "raise KeyboardInterrupt  # Ctrl-C in the middle of a fine-tune",
              "sigterm": "os.kill(os.getpid(), signal.SIGTERM)  # a CI job cancelled or timed out"}


@pytest.mark.parametrize("interrupt", INTERRUPTS)
def test_an_interrupted_run_says_its_report_is_incomplete(gate_run, tmp_path, interrupt):
    """Ctrl-C in the second gate wrote a report over the first alone: "passed": true; SIGTERM killed
    pytest outright and left the previous run's report as if it were this one's."""
    gate_run = _private_cache(gate_run, tmp_path)
    gate_run("--harness-force-regen").assert_outcomes(failed=1)
    gate_run.pytester.makepyfile(test_smoke_quality=INTERRUPTED.format(interrupt=INTERRUPTS[interrupt]))
    result = gate_run(subprocess=True)  # in process, pytester hands the interrupt on to this test
    assert result.ret == pytest.ExitCode.INTERRUPTED
    quality = json.loads((gate_run.reports_dir / "quality.json").read_text())
    assert quality["passed"] is False
    assert any("interrupted before every test ran" in (check.get("error") or "") for check in quality["checks"])


def test_a_report_that_cannot_be_written_fails_the_run_and_leaves_no_older_one(gate_run, tmp_path):
    """A write that failed part-way left the older quality.json ("passed": true) beside a new chart,
    and pytest ended in a raw traceback."""
    gate_run = _private_cache(gate_run, tmp_path)
    gate_run("--harness-force-regen").assert_outcomes(failed=1)
    _old_passing_report(gate_run.reports_dir)
    (gate_run.reports_dir / "quality.md").unlink()
    (gate_run.reports_dir / "quality.md").mkdir()  # cannot be replaced by a file
    result = gate_run()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "harness: error: could not write the quality reports" in result.stdout.str()
    quality = json.loads((gate_run.reports_dir / "quality.json").read_text())
    assert quality["checks"] and quality["checks"][0]["name"] == BASELINE_NAME  # this run's, not the older one
