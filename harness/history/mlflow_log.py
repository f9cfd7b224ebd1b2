"""A session's history records, logged to an MLflow tracking server as well (the ``mlflow`` extra).

The SQLite store stays the harness's own record (``harness history`` reads it); teams that keep
their runs in MLflow also get every session there, beside their other runs: one MLflow run per
quality check and per throughput case of a session, in one experiment, started at the session's
time. Each is tagged the way the store splits series (``harness.series``: the check and its
baseline identity, or the case and its machine), and with MLflow's own git tags, so the MLflow UI's
search (``tags.`harness.series` = '...'``) and compare view show one series across commits and never
mix baselines or machines.

Per quality check: each gated metric's mean over the gate's runs (``mean/<metric>``), every run's
value as that metric's history (step = the run's place in the gate's order), the boundaries at the
last look (``fail_at/<metric>``, ``pass_at/<metric>``) and the runs used (``gate/runs_used``); the verdict, the run and
baseline identities and the seeds as tags and parameters. Per throughput case: samples/s, its
interquartile range over rounds and the rounds; device, precision and any planted fault.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import re
from collections.abc import Iterator

from harness.history.records import QualityRecord, SessionRecord, ThroughputRecord

EXPERIMENT = "harness"
INSTALL = "pip install 'harness[mlflow]'"
# MLflow's HTTP client retries 7 times with a 120 s timeout: a server that is down would hold the end
# of a CI job for many minutes, silently. Unless the user set MLflow's own variables, a session gives
# up after about a minute (20 s a try, 2 retries) and fails, saying so.
HTTP_LIMITS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
               "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}
_KEY_CHARACTERS = re.compile(r"[^\w\-./ ]")  # what MLflow accepts in a metric, parameter or tag key


class MlflowLogError(RuntimeError):
    """Logging to the tracking URI failed; the message names the URI and what to do."""


def log_session(session: SessionRecord, tracking_uri: str, *, experiment: str = EXPERIMENT) -> list[str]:
    """Log every check and case of ``session`` as MLflow runs under ``experiment``; their run ids.

    Raises :class:`MlflowLogError` when MLflow is not installed or the tracking URI is empty or
    cannot be written. Runs logged before a failure stay (MLflow has no transaction across runs),
    each one whole: a run's numbers go in one ``log_batch``, and a run whose batch failed is deleted.
    """
    try:
        import mlflow.tracking  # noqa: F401  (only to say early that the extra is missing)
    except ImportError as error:
        raise MlflowLogError(f"logging to the MLflow tracking URI {tracking_uri} needs MLflow ({error}); {INSTALL}, "
                             "or unset the tracking URI") from error
    if not tracking_uri.strip():
        raise MlflowLogError("the MLflow tracking URI is empty; give a server (http://host:5000) or a file "
                             "(sqlite:///path.db), or leave the setting out")
    try:
        with _bounded_http():
            return _log(session, tracking_uri, experiment)
    except Exception as error:  # MLflow raises MlflowException, requests', sqlalchemy's and OS errors alike
        raise MlflowLogError(f"could not log this session to the MLflow tracking URI {tracking_uri} "
                             f"({type(error).__name__}: {' '.join(str(error).split())[:300]}); check that the URI is "
                             "right and its server or file is reachable and writable, or unset it") from error


def _log(session: SessionRecord, tracking_uri: str, experiment: str) -> list[str]:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    started = int(_dt.datetime.fromisoformat(session.time).timestamp() * 1000)
    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found is not None else client.create_experiment(experiment)
    run_ids = []
    for name, series, metrics, params, tags in [*map(_quality, session.quality),
                                                 *(_throughput(case, session) for case in session.throughput)]:
        run = client.create_run(experiment_id, start_time=started, run_name=f"{name} @ {session.commit[:12]}",
                                tags=_session_tags(session) | {"harness.series": series} | tags)
        try:
            client.log_batch(
                run.info.run_id,
                metrics=[Metric(_key(key), value, started, step) for key, value, step in metrics],
                params=[Param(_key(key), value) for key, value in (_session_params(session) | params).items()],
                tags=[RunTag("mlflow.runName", run.info.run_name)])
            client.set_terminated(run.info.run_id, "FINISHED", end_time=started)
        except Exception:
            _discard(client, run.info.run_id)  # no half-logged run left RUNNING
            raise
        run_ids.append(run.info.run_id)
    return run_ids


def _discard(client, run_id: str) -> None:
    """Delete a run whose numbers could not all be logged; if even that fails, the original error is the one to see."""
    try:
        client.delete_run(run_id)
    except Exception:  # noqa: BLE001 - best effort, under the error being raised
        pass


@contextlib.contextmanager
def _bounded_http() -> Iterator[None]:
    """:data:`HTTP_LIMITS` for the MLflow variables the user did not set, and MLflow's INFO lines
    ("Creating initial MLflow database tables...") kept out of the test report, for this call only."""
    added = {name: value for name, value in HTTP_LIMITS.items() if name not in os.environ}
    os.environ.update(added)
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(max(logging.WARNING, level))
    try:
        yield
    finally:
        logger.setLevel(level)
        for name in added:
            os.environ.pop(name, None)


_Metrics = list[tuple[str, float, int]]
_Logged = tuple[str, str, _Metrics, dict[str, str], dict[str, str]]


def _quality(record: QualityRecord) -> _Logged:
    metrics: _Metrics = [(f"mean/{metric}", value, 0) for metric, value in record.means.items()]
    metrics += [(metric, value, step) for step, run in enumerate(record.runs) for metric, value in run.metrics.items()]
    metrics += [(f"baseline_mean/{metric}", value, 0) for metric, value in record.baseline_means.items()]
    for metric, boundary in record.boundaries.items():
        metrics += [(f"{edge}/{metric}", value, 0) for edge, value in (("fail_at", boundary.fail_at),
                                                                       ("pass_at", boundary.pass_at)) if value is not None]
    metrics.append(("gate/runs_used", float(record.runs_used), 0))  # "gate/": no metric of a project is named so
    params = {"baseline": record.baseline, "baseline_identity": record.baseline_identity,
              "run_identity": record.run_identity, "seeds": ",".join(str(run.seed) for run in record.runs)}
    tags = {"harness.kind": "quality", "harness.check": record.check, "harness.verdict": record.verdict}
    return record.check, f"{record.check} | {record.baseline_identity}", metrics, params, tags


def _throughput(record: ThroughputRecord, session: SessionRecord) -> _Logged:
    metrics: _Metrics = [("samples_per_s", record.samples_per_s, 0), ("samples_per_s_iqr", record.samples_per_s_iqr, 0),
                         ("rounds", float(record.rounds), 0)]
    params = {"device": record.device, "precision": record.precision, "faults": ",".join(record.faults) or "none"}
    tags = {"harness.kind": "throughput", "harness.case": record.case}
    return record.case, f"{record.case} | {session.machine.key}", metrics, params, tags


def _session_tags(session: SessionRecord) -> dict[str, str]:
    tags = {"mlflow.source.git.commit": session.commit, "harness.commit": session.commit,
            "harness.machine": session.machine.key, "harness.session_time": session.time}
    if session.branch is not None:
        tags |= {"mlflow.source.git.branch": session.branch, "harness.branch": session.branch}
    return tags


def _session_params(session: SessionRecord) -> dict[str, str]:
    """The library versions (the machine is a tag, ``harness.machine``, with its cores in its key)."""
    return {f"version/{name}": version for name, version in session.versions.items()}


def _key(name: str) -> str:
    """``name`` as MLflow accepts a key: characters it refuses become ``_``."""
    return _KEY_CHARACTERS.sub("_", name)
