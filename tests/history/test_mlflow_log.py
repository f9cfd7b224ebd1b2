"""The MLflow copy of the history: what a session logs, read back through MLflow's own client from
a local ``sqlite:///`` tracking URI in the test's temp dir; and a URI that cannot be written."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import pytest

from harness.history.mlflow_log import MlflowLogError, log_session
from harness.history.records import ThroughputRecord

from fake_history import CASE, CHECK, GPU_BOX, LAPTOP, fake_quality, fake_session

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed: pip install -e '.[mlflow]'")


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow's default artifact folder (./mlruns) lands in the temp dir too
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def runs_by(client, experiment: str = "harness"):
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id], order_by=["attributes.start_time ASC"])


def test_every_check_and_case_of_a_session_is_an_mlflow_run_with_its_numbers(tracking_uri):
    planted = ThroughputRecord(CASE, "cpu", "fp32", 80.0, 1.5, 4, faults=("slow-steps-25",))
    session = fake_session(1, throughput=(planted,))
    ids = log_session(session, tracking_uri)
    client = mlflow.tracking.MlflowClient(tracking_uri)
    runs = runs_by(client)
    assert sorted(run.info.run_id for run in runs) == sorted(ids) and len(ids) == 2
    quality = next(run for run in runs if run.data.tags["harness.kind"] == "quality")
    record = session.quality[0]
    assert quality.data.tags["harness.check"] == CHECK and quality.data.tags["harness.verdict"] == record.verdict
    assert quality.data.tags["mlflow.source.git.commit"] == session.commit
    assert quality.data.tags["harness.series"] == f"{CHECK} | {record.baseline_identity}"
    assert quality.data.metrics["mean/accuracy"] == pytest.approx(record.means["accuracy"])
    assert quality.data.metrics["fail_at/accuracy"] == 0.80 and "fail_at/f1" not in quality.data.metrics
    assert quality.data.params["run_identity"] == record.run_identity
    assert quality.data.params["version/torch"] == "2.13.0"
    history = client.get_metric_history(quality.info.run_id, "accuracy")
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [
        (step, run.metrics["accuracy"]) for step, run in enumerate(record.runs)]
    speed = next(run for run in runs if run.data.tags["harness.kind"] == "throughput")
    assert speed.data.metrics["samples_per_s"] == 80.0 and speed.data.metrics["rounds"] == 4
    assert speed.data.params["faults"] == "slow-steps-25"
    assert speed.data.tags["harness.series"] == f"{CASE} | {LAPTOP.key}"
    assert speed.info.start_time == int(dt.datetime.fromisoformat(session.time).timestamp() * 1000)  # when it ran


def test_sessions_on_two_machines_land_in_two_series_of_one_experiment(tracking_uri):
    log_session(fake_session(1), tracking_uri)
    log_session(fake_session(2, machine=GPU_BOX), tracking_uri)
    log_session(fake_session(3), tracking_uri)
    client = mlflow.tracking.MlflowClient(tracking_uri)
    speeds = [run for run in runs_by(client) if run.data.tags["harness.kind"] == "throughput"]
    assert [run.data.tags["harness.commit"] for run in speeds] == ["c1", "c2", "c3"]  # in session time order
    assert [run.data.tags["harness.series"].endswith(LAPTOP.key) for run in speeds] == [True, False, True]


def test_a_tracking_uri_that_cannot_be_written_names_itself_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database's folder should be")
    uri = f"sqlite:///{blocker / 'mlflow.db'}"
    with pytest.raises(MlflowLogError, match="could not log this session") as error:
        log_session(fake_session(1), uri)
    assert uri in str(error.value) and "unset it" in str(error.value)


def test_a_run_whose_numbers_mlflow_refuses_is_deleted_not_left_running(tracking_uri):
    """MLflow refuses a metric key over 250 characters: the error names the URI, and no half-logged
    run is left RUNNING in the experiment."""
    refused = dataclasses.replace(fake_quality(), means={"m" * 260: 0.5})
    with pytest.raises(MlflowLogError, match="could not log this session"):
        log_session(fake_session(1, quality=(refused,), throughput=()), tracking_uri)
    client = mlflow.tracking.MlflowClient(tracking_uri)
    assert runs_by(client) == []


def test_an_empty_tracking_uri_is_refused_not_taken_for_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MlflowLogError, match="the MLflow tracking URI is empty"):
        log_session(fake_session(1), "")
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_server_is_given_up_within_bounds_unless_the_user_set_mlflows_own(monkeypatch):
    """MLflow's defaults (7 retries, 120 s a try) would hold a CI job for many minutes: the limits
    apply for the call only, and a variable the user set wins."""
    from harness.history import mlflow_log

    seen = {}

    def record(session, uri, experiment):
        seen.update({name: os.environ.get(name) for name in mlflow_log.HTTP_LIMITS})
        return []

    monkeypatch.setattr(mlflow_log, "_log", record)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "300")
    for name in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"):
        monkeypatch.delenv(name, raising=False)
    log_session(fake_session(1), "http://127.0.0.1:9")
    assert seen == {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                    "MLFLOW_HTTP_REQUEST_TIMEOUT": "300"}
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ  # for the call only
