"""What one pytest session leaves in the history store (:mod:`harness.history`): the session's
verdicts and throughput figures, turned into records, with the commit, the machine and the library
versions they were measured on.

The plugin's end-of-session report (:mod:`harness.session_report`) calls :func:`session_record` on
the controller, over the verdicts of every worker, and appends what it returns; this module only
translates. Each quality record is read from the verdict's own record (the data ``quality.json``
holds), so a verdict that crossed from an xdist worker is recorded exactly as one made here:

* the check is the pytest node id of the test that ran the gate (the baseline name outside pytest);
* the baseline identity is the baseline's name and a hash of the numbers the gate compared against
  (each gated metric's mean and sd, and the sequential gate's reference values): a re-recorded
  baseline with other numbers starts a new series;
* the run identity is a hash of the runs' :class:`~harness.run.run_identity.RunIdentity` but the
  seed (its ledger view: recipe, task, data, model files, precision, device kind, world size, versions,
  harness source), built from the config and provenance the verdict carries;
* the runs are each candidate seed with its gated metrics (one run for the band gate and a
  reproduction), the boundaries those at the gate's last look.

A gate that raised before it reached a verdict has no runs to record and is left out; a session with
nothing to record appends nothing.
"""

from __future__ import annotations

import datetime as _dt
import math
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from harness.checksums import sha256_json
from harness.history.records import Boundary, Machine, QualityRecord, RunMetrics, SessionRecord, ThroughputRecord
from harness.quality.report import QualitySummary
from harness.run.provenance import device_info, library_versions
from harness.run.run_identity import RunIdentity
from harness.session import HarnessSession
from harness.throughput.runner import ThroughputResult

UNKNOWN_COMMIT = "unknown"  # the commit of a project that is not a git checkout (or has no commit yet)
IDENTITY_DIGITS = 12  # of a sha256: enough to tell baselines and runs apart, short enough to read

Direction = Callable[[str], "str | None"]  # a metric's better direction, "higher" or "lower"; None if unknown


def session_record(session: HarnessSession, summaries: Iterable[QualitySummary],
                   throughput: Iterable[ThroughputResult], *, now: _dt.datetime | None = None,
                   checkout: tuple[str, str | None] | None = None) -> SessionRecord | None:
    """The session's record, or None when it gated and benchmarked nothing that can be recorded.

    ``checkout`` is the commit and branch the session measured, read when it began (the plugin does);
    None reads them now."""
    registry = session.project.metrics
    direction: Direction = lambda metric: registry.spec(metric).direction if metric in registry else None  # noqa: E731
    quality = tuple(record for record in (quality_record(s, direction) for s in summaries) if record is not None)
    speeds = tuple(throughput_record(result) for result in throughput)
    if not quality and not speeds:
        return None
    commit, branch = checkout if checkout is not None else git_checkout(session.project.root)
    return SessionRecord(commit=commit, branch=branch, time=now or _dt.datetime.now(_dt.timezone.utc),
                         machine=this_machine(session.device),
                         versions={name: version for name, version in library_versions().items() if version},
                         quality=_one_per_check(quality), throughput=_one_per_case(speeds))


def quality_record(summary: QualitySummary, direction: Direction) -> QualityRecord | None:
    """One verdict as a history record; None for a gate that raised before a verdict (no runs)."""
    record = summary.record
    checks = record.get("checks") or []
    runs = _runs(record)
    if summary.error is not None or not checks or not runs:
        return None
    sequential = record.get("sequential") or []
    return QualityRecord(
        check=summary.test_id or summary.name, baseline=summary.name,
        baseline_identity=baseline_identity(summary.name, checks, sequential),
        run_identity=run_identity(_required(record, "config"), _required(record, "provenance")),
        verdict=_verdict(summary, checks),
        runs_used=len(runs), runs=runs,
        boundaries=_sequential_boundaries(sequential) if sequential else _band_boundaries(checks, direction),
        means=_finite({c["metric"]: c.get("measured") for c in checks}),
        baseline_means=_finite({c["metric"]: c.get("baseline_mean") for c in checks}))


def baseline_identity(name: str, checks: list[dict[str, Any]], sequential: list[dict[str, Any]]) -> str:
    """``name@hash`` of the numbers the gate compared against (``name@none`` without a baseline)."""
    numbers = {c["metric"]: [c.get("baseline_mean"), c.get("baseline_std")] for c in checks
               if c.get("baseline_mean") is not None}
    references = {e["metric"]: e.get("reference_values") for e in sequential}
    if not numbers:
        return f"{name}@none"
    return f"{name}@{sha256_json({'metrics': numbers, 'references': references})[:IDENTITY_DIGITS]}"


def run_identity(config: Mapping[str, Any], provenance: Mapping[str, Any]) -> str:
    """The hash of the runs' :class:`~harness.run.run_identity.RunIdentity` in its ledger view
    (everything but the seed): the one definition of "the same run", so a history series and a
    baseline recording agree on what counts as one recipe on one stack."""
    return sha256_json(RunIdentity.from_result(config, provenance).ledger())[:IDENTITY_DIGITS]


def _required(record: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A verdict with runs carries its run's config and provenance; one without is not recorded blind."""
    if not isinstance(record.get(key), Mapping):
        raise ValueError(f"the verdict of {record.get('name', 'a check')} carries no run {key}, so its run identity "
                         "is unknown; it was made by another harness version")
    return record[key]


def _verdict(summary: QualitySummary, checks: list[dict[str, Any]]) -> str:
    record = summary.record
    if not summary.passed:
        return "regenerated" if record.get("regenerated") else "failed"
    if record.get("reproduction"):
        return "reproduced"
    return "improved" if any(c.get("verdict") == "improved" for c in checks) else "passed"


def _runs(record: Mapping[str, Any]) -> tuple[RunMetrics, ...]:
    """Each candidate run's seed and metrics: the sequential gate's per-metric values by seed, else the one run."""
    by_seed: dict[int, dict[str, float]] = {}
    for entry in record.get("sequential") or []:
        for seed, value in zip(entry.get("seeds") or [], entry.get("values") or []):
            by_seed.setdefault(int(seed), {})[entry["metric"]] = value
    if not by_seed:
        seed = (record.get("provenance") or {}).get("seed")
        if seed is None:
            return ()
        by_seed[int(seed)] = dict(record.get("metrics") or {})
    runs = ((seed, _finite(metrics)) for seed, metrics in by_seed.items())
    return tuple(RunMetrics(seed, metrics) for seed, metrics in runs if metrics)


def _sequential_boundaries(sequential: list[dict[str, Any]]) -> dict[str, Boundary]:
    return {e["metric"]: Boundary(_number(e.get("fail_threshold")), _number(e.get("pass_threshold"))) for e in sequential}


def _band_boundaries(checks: list[dict[str, Any]], direction: Direction) -> dict[str, Boundary]:
    """The one-run band's edge on the worse side: a run beyond it fails, one inside passes."""
    boundaries = {}
    for check in checks:
        better = direction(check["metric"])
        edge = _number(check.get("band_low") if better == "higher" else check.get("band_high"))
        if better is not None and edge is not None:
            boundaries[check["metric"]] = Boundary(edge, edge)
    return boundaries


def _number(value: Any) -> float | None:
    """A finite number, or None (an unreachable boundary is infinite; JSON may have made it None)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _finite(values: Mapping[str, Any]) -> dict[str, float]:
    return {name: number for name, number in ((n, _number(v)) for n, v in values.items()) if number is not None}


def _one_per_check(records: tuple[QualityRecord, ...]) -> tuple[QualityRecord, ...]:
    """A check gated twice in one session (a re-run of a flaky test) is recorded once, as it ended."""
    return tuple({record.check: record for record in records}.values())


def _one_per_case(records: tuple[ThroughputRecord, ...]) -> tuple[ThroughputRecord, ...]:
    return tuple({record.case: record for record in records}.values())


def throughput_record(result: ThroughputResult) -> ThroughputRecord:
    """A case's samples/s over its timed rounds, with the interquartile range of the rounds' samples/s."""
    per_round = result.samples / len(result.round_seconds)
    rates = np.array([per_round / seconds for seconds in result.round_seconds])
    low, high = np.percentile(rates, [25, 75])
    return ThroughputRecord(result.case.id, result.case.device, result.case.precision, result.samples_per_second,
                            float(high - low), len(result.round_seconds), faults=result.faults)


def this_machine(device: str) -> Machine:
    """This machine as the provenance of every run describes it: its CPU, its cores, and its GPU
    (the project's CUDA device, else the first visible one; None where there is none)."""
    info = device_info(device if device.startswith("cuda") else "cuda")
    return Machine(info["cpu"] or "unknown CPU", info.get("gpu"), info.get("cpu_count") or 1)


def git_checkout(root: Path) -> tuple[str, str | None]:
    """The commit and branch checked out in the project folder ``root``: ``("unknown", None)`` where
    it is not a git checkout or git is missing, and a None branch on a detached head (as CI checks out)."""
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return UNKNOWN_COMMIT, None
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
    return commit, None if branch in (None, "HEAD") else branch


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
