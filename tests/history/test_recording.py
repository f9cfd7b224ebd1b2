"""What a pytest session leaves in the history store: one session per run that gated or benchmarked
something, with a record per verdict and per throughput case, nothing with --harness-no-history, and
a failed run (its reports still written) when the store cannot be written."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest

from fake_runs import run_result, smoke_run_config
from fake_throughput import fake_result
from harness.history.records import Boundary, RunMetrics
from harness.history.store import HistoryStore
from harness.quality.report import QualitySummary
from harness.session_history import UNKNOWN_COMMIT, git_checkout, quality_record, throughput_record
from harness.throughput.runner import ThroughputCase

try:  # at collection: MLflow imported inside an in-process pytester run is unloaded after it, and
    # the half-unloaded package then stops pytest loading any plugin in the next in-process run
    import mlflow.tracking
except ImportError:
    mlflow = None

pytest_plugins = ["pytester"]
NO_MLFLOW = "the mlflow extra is not installed: pip install -e '.[mlflow]'"

CPU_CASE = ThroughputCase("arch:bert-tiny", "cpu", "fp32", 4)
INNER = """
from fake_runs import FakeFineTune
from fake_throughput import fake_result
from harness.throughput.runner import ThroughputCase


def test_gate(harness, quality_gate):
    harness.fine_tune = FakeFineTune()  # no training: accuracy 0.70, 0.75 or 0.80 by seed
    quality_gate.check(harness.config("smoke"))


def test_speed(harness):
    harness.throughput.append(fake_result(ThroughputCase("arch:bert-tiny", "cpu", "fp32", 4)))


def test_plain():
    pass
"""


def direction(metric: str) -> str:
    return "lower" if metric == "loss" else "higher"


def sequential_summary() -> QualitySummary:
    """A sequential verdict as quality.json holds it: three candidate seeds, an unreachable pass threshold."""
    entry = {"seeds": [42, 72, 73], "reference_values": [0.80, 0.79, 0.81], "candidate_mean": 0.79}
    record = {
        "passed": True, "regenerated": False, "reproduction": None, "metrics": {"accuracy": 0.7865, "f1": 0.78},
        "checks": [{"metric": "accuracy", "measured": 0.79, "baseline_mean": 0.80, "baseline_std": 0.007,
                    "band_low": 0.776, "band_high": 0.790, "verdict": "pass"},
                   {"metric": "f1", "measured": 0.785, "baseline_mean": 0.79, "baseline_std": 0.008,
                    "band_low": 0.77, "band_high": 0.79, "verdict": "pass"}],
        "sequential": [entry | {"metric": "accuracy", "values": [0.7865, 0.78975, 0.79975], "fail_threshold": 0.776,
                                "pass_threshold": 0.790},
                       entry | {"metric": "f1", "values": [0.78, 0.785, 0.79], "fail_threshold": 0.77,
                                "pass_threshold": math.inf}],
        "config": smoke_run_config().to_dict(), "provenance": run_result().provenance,
    }
    return QualitySummary("mrpc--smoke", True, "table", "", "baselines/mrpc--smoke.json", "run line", record,
                          test_id="benchmarks/test_quality.py::test_mrpc")


def test_a_sequential_verdict_records_each_seed_its_boundaries_and_both_means():
    record = quality_record(sequential_summary(), direction)
    assert (record.check, record.baseline, record.verdict) == ("benchmarks/test_quality.py::test_mrpc", "mrpc--smoke", "passed")
    assert record.runs_used == 3
    assert record.runs[1] == RunMetrics(72, {"accuracy": 0.78975, "f1": 0.785})
    assert record.boundaries == {"accuracy": Boundary(0.776, 0.790), "f1": Boundary(0.77, None)}  # inf: not reachable
    assert record.means == {"accuracy": 0.79, "f1": 0.785}
    assert record.baseline_means == {"accuracy": 0.80, "f1": 0.79}
    assert record.baseline_identity.startswith("mrpc--smoke@")


def test_the_baseline_identity_changes_with_the_baselines_numbers_and_the_run_identity_ignores_the_seed():
    summary = sequential_summary()
    other_baseline = QualitySummary(**summary.to_record() | {"record": summary.record | {"checks": [
        check | {"baseline_mean": 0.85} for check in summary.record["checks"]]}})
    other_seed = QualitySummary(**summary.to_record() | {"record": summary.record | {
        "config": smoke_run_config(seed=7).to_dict(), "provenance": run_result(smoke_run_config(seed=7)).provenance}})
    other_recipe = QualitySummary(**summary.to_record() | {"record": summary.record | {
        "config": smoke_run_config(learning_rate=1e-4).to_dict()}})
    records = [quality_record(s, direction) for s in (summary, other_baseline, other_seed, other_recipe)]
    assert records[0].baseline_identity != records[1].baseline_identity
    assert records[0].run_identity == records[2].run_identity  # the same run but the seed: one series
    assert records[0].run_identity != records[3].run_identity  # RunIdentity's view: the recipe is in it


def test_a_gate_that_raised_has_nothing_to_record():
    assert quality_record(QualitySummary.errored("mrpc--smoke", RuntimeError("no data")), direction) is None


def test_a_throughput_result_records_its_samples_per_s_and_the_rounds_spread():
    result = fake_result(CPU_CASE, round_seconds=(2.0, 2.5, 1.6, 2.0))
    record = throughput_record(result)
    assert (record.case, record.device, record.precision, record.rounds) == (CPU_CASE.id, "cpu", "fp32", 4)
    assert record.samples_per_s == pytest.approx(result.samples_per_second)
    assert record.samples_per_s_iqr > 0


def test_a_folder_outside_git_is_an_unknown_commit_and_a_checkout_names_its_commit_and_branch(tmp_path):
    assert git_checkout(tmp_path) == (UNKNOWN_COMMIT, None)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "trunk"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "first"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    assert git_checkout(tmp_path) == (head, "trunk")
    subprocess.run([*git, "checkout", "-q", "--detach"], check=True)
    assert git_checkout(tmp_path) == (head, None)


@pytest.fixture
def inner(pytester, monkeypatch, tmp_path):
    """A project whose session gates (with fake fine-tunes) and benchmarks (a fake figure)."""
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("HARNESS_HISTORY", str(tmp_path / "env-history.sqlite"))
    pytester.makepyfile(test_inner=INNER)
    pytester.runpytest("-p", "no:cacheprovider", f"--harness-baselines-dir={tmp_path / 'baselines'}",
                       "--harness-force-regen", "--harness-baseline-seeds=3", "--harness-no-history", "-k", "gate")
    return pytester


def run(pytester, tmp_path, *args: str):
    return pytester.runpytest("-p", "no:cacheprovider", f"--harness-baselines-dir={tmp_path / 'baselines'}", *args)


def test_a_session_appends_one_session_with_a_record_per_verdict_and_per_throughput_case(inner, tmp_path):
    result = run(inner, tmp_path, f"--harness-history={tmp_path / 'history.sqlite'}")
    result.assert_outcomes(passed=3)
    [session] = HistoryStore(tmp_path / "history.sqlite").sessions()
    assert (session.commit, session.branch) == (UNKNOWN_COMMIT, None)  # pytester's folder is no git checkout
    assert session.machine.cores >= 1 and session.versions["torch"]
    [quality] = session.quality
    assert quality.check == "test_inner.py::test_gate" and quality.verdict == "reproduced"
    assert quality.baseline == "mrpc--smoke--arch-bert-tiny--validation--cpu-fp32"
    assert [run.seed for run in quality.runs] == [42] and quality.runs[0].metrics["accuracy"] == pytest.approx(0.70)
    assert quality.baseline_means["accuracy"] == pytest.approx(0.75)
    assert [t.case for t in session.throughput] == [CPU_CASE.id]
    assert f"harness: recorded 1 quality check(s) and 1 throughput case(s) of commit {UNKNOWN_COMMIT}" in result.stdout.str()


def test_the_environment_names_the_store_and_each_session_adds_one(inner, tmp_path):
    run(inner, tmp_path).assert_outcomes(passed=3)
    run(inner, tmp_path, "-k", "speed").assert_outcomes(passed=1, deselected=2)
    sessions = HistoryStore(tmp_path / "env-history.sqlite").sessions()
    assert [(len(s.quality), len(s.throughput)) for s in sessions] == [(1, 1), (0, 1)]


def test_no_history_and_a_session_that_gated_nothing_record_nothing(inner, tmp_path):
    run(inner, tmp_path, "--harness-no-history").assert_outcomes(passed=3)
    run(inner, tmp_path, "-k", "plain").assert_outcomes(passed=1, deselected=2)
    assert not (tmp_path / "env-history.sqlite").exists()


def test_a_store_that_cannot_be_written_fails_the_run_and_keeps_its_reports(inner, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    store = tmp_path / "a-file" / "history.sqlite"
    result = run(inner, tmp_path, f"--harness-history={store}")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"harness: error: could not record this session in the history store {store}*"])
    assert (tmp_path / "reports" / "quality.json").is_file() and (tmp_path / "reports" / "throughput.md").is_file()


def test_under_xdist_the_controller_records_every_workers_verdicts_and_cases_once(inner, tmp_path, monkeypatch):
    """Two workers, one session: the controller gathers what each worker measured and appends it in one
    transaction, so the store holds one session (not one per worker) with every record in it."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))  # the workers import fake_runs
    store = tmp_path / "xdist-history.sqlite"
    result = inner.runpytest_subprocess("-p", "no:cacheprovider", f"--harness-baselines-dir={tmp_path / 'baselines'}",
                                        "-n", "2", f"--harness-history={store}")
    result.assert_outcomes(passed=3)
    [session] = HistoryStore(store).sessions()
    assert [q.check for q in session.quality] == ["test_inner.py::test_gate"]
    assert [t.case for t in session.throughput] == [CPU_CASE.id]


def test_a_session_is_also_logged_to_mlflow_when_a_tracking_uri_is_set(inner, tmp_path):
    if mlflow is None:
        pytest.skip(NO_MLFLOW)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run(inner, tmp_path, f"--harness-mlflow-tracking-uri={uri}")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"harness: logged them to MLflow ({uri}) as 2 run(s)"])
    client = mlflow.tracking.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("harness").experiment_id])
    assert sorted(run.data.tags["harness.kind"] for run in runs) == ["quality", "throughput"]
    [session] = HistoryStore(tmp_path / "env-history.sqlite").sessions()  # the store has it too
    assert {run.data.tags["harness.commit"] for run in runs} == {session.commit}


def test_an_mlflow_uri_that_cannot_be_written_fails_the_run_and_the_store_keeps_the_session(inner, tmp_path):
    if mlflow is None:
        pytest.skip(NO_MLFLOW)
    (tmp_path / "a-file").write_text("not a folder")
    uri = f"sqlite:///{tmp_path / 'a-file' / 'mlflow.db'}"
    result = run(inner, tmp_path, f"--harness-mlflow-tracking-uri={uri}")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"harness: error: could not log this session to the MLflow tracking URI {uri}*"])
    assert len(HistoryStore(tmp_path / "env-history.sqlite").sessions()) == 1


COMMITS_WHILE_RUNNING = """
import subprocess
from fake_throughput import fake_result
from harness.throughput.runner import ThroughputCase


def test_speed_then_a_commit(harness, pytestconfig):
    harness.throughput.append(fake_result(ThroughputCase("arch:bert-tiny", "cpu", "fp32", 4)))
    subprocess.run(["git", "-C", str(pytestconfig.rootpath), "-c", "user.name=t", "-c", "user.email=t@example.com",
                    "commit", "-q", "--allow-empty", "-m", "made while the benchmarks ran"], check=True)
"""


def test_the_commit_recorded_is_the_one_checked_out_when_the_session_began(pytester, tmp_path):
    git = ["git", "-C", str(pytester.path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "trunk"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "measured"], check=True)
    measured = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    pytester.makepyfile(test_inner=COMMITS_WHILE_RUNNING)
    store = tmp_path / "history.sqlite"
    run(pytester, tmp_path, f"--harness-history={store}", f"--harness-reports-dir={tmp_path / 'reports'}").assert_outcomes(passed=1)
    assert git_checkout(pytester.path)[0] != measured  # the test did commit
    [session] = HistoryStore(store).sessions()
    assert (session.commit, session.branch) == (measured, "trunk")
