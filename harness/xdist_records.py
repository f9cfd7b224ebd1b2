"""How every gate's verdict reaches the one set of reports, whatever stopped it.

A report over the gates that happened to finish reads "passed" for a run pytest failed. So a
verdict travels with the test that produced it, not at the end of the session:

- each verdict (or error) the session records during a test is attached to that test's report; a
  test that uses a gate fixture and failed without recording one (its config could not be built,
  its marker was wrong) is recorded here, as an error, under its node id;
- under pytest-xdist the attached records cross to the controller with the report itself, as each
  test finishes, so a worker that dies later (killed, out of memory) has already handed over what
  it finished; the test a worker crashed in is recorded by the controller as an error;
- a run interrupted before every gate ran says so in its report.

Throughput figures cross once, at the worker's end (:func:`worker_output`): a benchmark's figures
are only reported together. The records are plain data (``QualitySummary.to_record``,
``ThroughputResult.to_record``); the pytest plugin calls these functions from its hooks and owns no
bookkeeping of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest

from harness.quality.report import QualitySummary
from harness.session import HarnessSession
from harness.throughput.runner import ThroughputResult, ThroughputSkip

PROPERTY = "harness-verdicts"  # the report's user_properties entry that carries them to the controller
GATE_FIXTURES = ("quality_gate", "harness_case")


class GateFailedEarly(Exception):
    """Stands for what a gate test raised before its gate recorded anything (shown as the error)."""


def uses_a_gate(fixturenames: Sequence[str]) -> bool:
    return any(name in fixturenames for name in GATE_FIXTURES)


def failed_before_a_verdict(nodeid: str, error_text: str) -> QualitySummary:
    """The record of a gate test that failed before its gate reached a verdict."""
    first = error_text.strip().splitlines()[-1] if error_text.strip() else "the test failed"
    return QualitySummary.errored(nodeid, GateFailedEarly(f"the test failed before its gate reached a verdict: {first[:500]}"))


def crashed(nodeid: str, worker: str | None) -> QualitySummary:
    who = f"pytest-xdist worker {worker}" if worker else "a pytest-xdist worker"
    return QualitySummary.errored(nodeid, GateFailedEarly(
        f"{who} crashed while running this test: whatever it was gating has no verdict, so this report is incomplete"))


def interrupted() -> QualitySummary:
    return QualitySummary.errored("this run", GateFailedEarly(
        "the run was interrupted before every test ran: the gates that did not run have no verdict, so this report "
        "is incomplete"))


class VerdictRelay:
    """In every pytest process: after each phase of a test, the verdicts recorded since the last one
    are this test's; a gate test that failed with none gets an error record; on a worker, they go
    onto the report for the controller."""

    def __init__(self, session: HarnessSession, *, on_worker: bool) -> None:
        self._session, self._on_worker = session, on_worker
        self._relayed = 0
        self._per_test: dict[str, int] = {}

    def after(self, item, call, report) -> None:
        verdicts = self._session.verdicts
        had = self._per_test.get(item.nodeid, 0)
        if (report.failed and report.when != "teardown" and not had and len(verdicts) == self._relayed
                and uses_a_gate(getattr(item, "fixturenames", ()))):
            error = call.excinfo.exconly() if call.excinfo is not None else report.longreprtext
            verdicts.append(failed_before_a_verdict(item.nodeid, error))
        for index in range(self._relayed, len(verdicts)):  # each verdict names the test that ran its gate
            if not verdicts[index].test_id:
                verdicts[index] = dataclasses.replace(verdicts[index], test_id=item.nodeid)
        new = verdicts[self._relayed:]
        self._per_test[item.nodeid] = had + len(new)
        self._relayed = len(verdicts)
        if self._on_worker:
            attach(report.user_properties, new)


class VerdictCollector:
    """A plugin object on the controller of an xdist run: the verdicts each worker attached to its test
    reports, as they arrive, and the tests a crashed worker was running."""

    def __init__(self) -> None:
        self.verdicts: list[QualitySummary] = []

    @pytest.hookimpl(tryfirst=True)  # before junitxml, which would write them out as properties
    def pytest_runtest_logreport(self, report) -> None:
        self.verdicts.extend(take(report.user_properties))

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem, report, sched) -> None:
        gateway = getattr(getattr(report, "node", None), "gateway", None)
        self.verdicts.append(crashed(crashitem, getattr(gateway, "id", None)))


def attach(user_properties: list, summaries: Sequence[QualitySummary]) -> None:
    """Put ``summaries`` on a test report, for the controller (only builtin types cross execnet)."""
    if summaries:
        user_properties.append((PROPERTY, [_plain(s.to_record()) for s in summaries]))


def take(user_properties: list) -> list[QualitySummary]:
    """Remove and return the summaries a worker attached (before junitxml would write them as properties)."""
    found: list[QualitySummary] = []
    for entry in list(user_properties):
        if isinstance(entry, (tuple, list)) and len(entry) == 2 and entry[0] == PROPERTY:
            user_properties.remove(entry)
            found += [QualitySummary.from_record(record) for record in entry[1]]
    return found


def _plain(value: Any) -> Any:
    """Paths, numpy scalars and other non-builtins as builtins, the way a JSON round trip would."""
    import json

    return json.loads(json.dumps(value, default=str))


def worker_output(session: HarnessSession) -> dict[str, Any]:
    """What an xdist worker measured for the throughput report, as builtin types for execnet."""
    return _plain({
        "throughput": [result.to_record() for result in session.throughput],
        "throughput_skipped": [skip.to_record() for skip in session.throughput_skipped],
    })


def absorb_worker_output(session: HarnessSession, output: dict[str, Any]) -> None:
    """On the controller: one finished worker's throughput figures, for the one set of reports."""
    session.throughput.extend(ThroughputResult.from_record(r) for r in output["throughput"])
    session.throughput_skipped.extend(ThroughputSkip.from_record(r) for r in output["throughput_skipped"])
