"""The end of a pytest session: the verdict tables and throughput lines in the terminal, the
reports (``quality.*``, ``throughput.*``) written once over the whole run, with what an earlier run
left removed, and then the session recorded in the history store. The plugin calls
:func:`report_session` from its terminal summary on the controller.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import session_history, xdist_records
from harness.history.mlflow_log import MlflowLogError, log_session
from harness.history.store import HistoryStore
from harness.quality.report import QualitySummary, remove_stale_reports, write_quality_reports
from harness.session import HarnessSession
from harness.throughput.report import write_throughput_reports


def report_session(terminalreporter, session: HarnessSession, *, worker_verdicts: list[QualitySummary], exitstatus,
                   started: float, pytest_session: pytest.Session | None,
                   checkout: tuple[str, str | None] | None = None) -> None:
    """Print every verdict and throughput figure of the run and write its reports, once, on the controller.

    ``worker_verdicts``: what xdist workers handed over (:mod:`harness.xdist_records`); ``started``:
    when the run began, so reports an earlier run left are told from this run's; ``pytest_session``,
    whose exit status a report that cannot be written turns into a failure; ``checkout``, the commit
    and branch checked out when the session began (read now when None).
    """
    try:
        _write_reports(terminalreporter, session, worker_verdicts=worker_verdicts, exitstatus=exitstatus, started=started,
                       pytest_session=pytest_session)
    finally:  # after the reports, so a store that cannot be written never costs one
        _record_history(terminalreporter, session, session.verdicts + worker_verdicts, pytest_session, checkout)


def _write_reports(terminalreporter, session: HarnessSession, *, worker_verdicts: list[QualitySummary], exitstatus,
                   started: float, pytest_session: pytest.Session | None) -> None:
    written: list[Path] = []
    if session.throughput or session.throughput_skipped:
        written += _report_throughput(terminalreporter, session)
    summaries = session.verdicts + worker_verdicts
    if summaries and exitstatus == pytest.ExitCode.INTERRUPTED:
        summaries.append(xdist_records.interrupted())
    if summaries:
        terminalreporter.section("harness quality gate")
        for summary in summaries:
            terminalreporter.write_line(summary.table)
            if summary.message:
                terminalreporter.write_line(summary.message)
            terminalreporter.write_line("")
        try:
            paths = write_quality_reports(summaries, session.settings.reports_dir, session.settings.step_summary)
        except OSError as error:  # the older reports are gone already (write_quality_reports removes them first)
            paths = []
            terminalreporter.write_line(f"harness: error: could not write the quality reports to "
                                        f"{session.settings.reports_dir} ({error}); this run has none, so it fails", red=True)
            _fail(pytest_session)
        for path in paths:
            terminalreporter.write_line(f"harness: wrote {path}")
        written += paths
    if written or summaries:  # a run that gated anything leaves no older report beside (or instead of) its own
        for path in remove_stale_reports(session.settings.reports_dir, started=started, kept=written):
            terminalreporter.write_line(f"harness: removed {path}, left by an earlier run (this run did not write it)")


def _record_history(terminalreporter, session: HarnessSession, summaries: list[QualitySummary],
                    pytest_session: pytest.Session | None, checkout: tuple[str, str | None] | None) -> None:
    """Append one session to the history store, when recording is on and the run gated or benchmarked
    something; a store that cannot be written fails the run, saying why (the reports are written)."""
    path = session.settings.history
    if path is None:
        return
    try:
        record = session_history.session_record(session, summaries, session.throughput, checkout=checkout)
        if record is None:
            return
        HistoryStore(path).append(record)
    except (ValueError, OSError) as error:  # HistoryError is a ValueError
        terminalreporter.write_line(f"harness: error: could not record this session in the history store {path} "
                                    f"({error}); the reports are written, but the history misses this run, so it "
                                    f"fails (--harness-no-history records nothing)", red=True)
        _fail(pytest_session)
        return
    terminalreporter.write_line(f"harness: recorded {len(record.quality)} quality check(s) and {len(record.throughput)} "
                                f"throughput case(s) of commit {record.commit[:12]} in {path}")
    uri = session.settings.mlflow_tracking_uri
    if uri is None:
        return
    terminalreporter.write_line(f"harness: logging them to MLflow ({uri}) ...")
    try:
        runs = log_session(record, uri)
    except MlflowLogError as error:
        terminalreporter.write_line(f"harness: error: {error}; the history store has this session, MLflow does not, "
                                    "so the run fails", red=True)
        _fail(pytest_session)
        return
    terminalreporter.write_line(f"harness: logged them to MLflow ({uri}) as {len(runs)} run(s)")


def _fail(pytest_session: pytest.Session | None) -> None:
    if pytest_session is not None and pytest_session.exitstatus == pytest.ExitCode.OK:
        pytest_session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _report_throughput(terminalreporter, session: HarnessSession) -> list[Path]:
    settings = session.settings
    written = write_throughput_reports(session.throughput, session.throughput_skipped, settings.reports_dir, settings.step_summary)
    terminalreporter.section("harness training throughput")
    for result in session.throughput:
        mfu = "n/a" if result.mfu is None else f"{result.mfu:.1%}"
        cv = "n/a" if result.round_cv is None else f"{result.round_cv:.1%}"
        terminalreporter.write_line(
            f"{result.case.id}: {result.samples_per_second:.3g} samples/s, {result.padded_tokens_per_second:,.0f} padded tokens/s, "
            f"MFU {mfu}, round CV {cv}"
        )
    for path in written:
        terminalreporter.write_line(f"harness: wrote {path}")
    return written
