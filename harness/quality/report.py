"""End-of-session quality reports for people (Markdown) and machines (JSON).

Reports are written from :class:`QualitySummary` records, not from live outcomes, because under
pytest-xdist the checks run in worker processes: each worker hands its summaries to the controller
(as plain data), and only the controller writes the reports, over every check of the run. A worker
that wrote its own would overwrite the others' and could call a failed run "passed".
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.files import append_to_step_summary, atomic_write_json, atomic_write_text
from harness.quality.chart import QUALITY_CHART, write_quality_chart
from harness.quality.regression import QualityOutcome

log = logging.getLogger(__name__)

QUALITY_MARKDOWN = "quality.md"
QUALITY_JSON = "quality.json"
# Every file a session may write into the reports folder; what this run did not write is stale.
REPORT_FILES = (QUALITY_MARKDOWN, QUALITY_JSON, QUALITY_CHART, "throughput.md", "throughput.png", "benchmarks.json", "scaling.md")


@dataclass(frozen=True)
class QualitySummary:
    """One quality check as the reports need it, in plain data that crosses process boundaries."""

    name: str
    passed: bool
    table: str
    message: str
    baseline_path: str
    run_line: str
    record: dict[str, Any]
    # The pytest node id of the test that ran this gate (set by harness.xdist_records), so two gates of
    # one baseline in one run are told apart; empty outside pytest.
    test_id: str = ""

    @classmethod
    def of(cls, outcome: QualityOutcome) -> QualitySummary:
        prov = outcome.result.provenance
        run_line = (
            f"Run: seed {prov['seed']}, precision {prov.get('precision')}, device {prov['device'].get('gpu') or prov['device']['cpu']}, "
            f"torch {prov['versions']['torch']}, transformers {prov['versions']['transformers']}, "
            f"data sha256 {prov['data']['sha256'][:12]}…, weights sha256 {str(prov['model']['weights_sha256'])[:12]}…, "
            f"train {outcome.result.throughput.train_seconds:.0f} s. Baseline file: `{outcome.baseline_path}`."
        )
        record = outcome.report.to_json() | {
            "passed": outcome.passed,
            "regenerated": outcome.regenerated,
            "message": outcome.message,
            "baseline": outcome.baseline_path,
            "data_warnings": list(outcome.result.data_warnings),
            "metrics": outcome.result.metrics,
            "config": outcome.result.config.to_dict(),  # with the provenance: the run's identity (history)
            "provenance": outcome.result.provenance,
            "throughput": outcome.result.throughput.__dict__,
        }
        return cls(outcome.report.name, outcome.passed, outcome.report.table(), outcome.message, outcome.baseline_path,
                   run_line, record)

    @classmethod
    def errored(cls, name: str, error: BaseException, *, baseline_path: str = "") -> QualitySummary:
        """A gate that raised before it reached a verdict: a FAILED check with the error, in every report.

        Leaving it out would let a report over the checks that did finish read "passed" while pytest
        failed the run, and a run whose every gate errored would leave an older report standing.
        """
        message = f"{type(error).__name__}: {error}"
        table = f"Quality gate: {name}\nERROR: the gate raised before it reached a verdict: {message}"
        record = {"name": name, "passed": False, "error": message, "baseline": baseline_path, "checks": [],
                  "problems": [f"the gate raised before it reached a verdict: {message}"], "notes": []}
        return cls(name, False, table, message, baseline_path,
                   "No run to describe: the gate stopped with the error above.", record)

    @property
    def error(self) -> str | None:
        """What the gate raised, for a check that errored; None for one that reached a verdict."""
        return self.record.get("error")

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> QualitySummary:
        return cls(**record)


def quality_markdown(summaries: Sequence[QualitySummary], *, written: str | None = None, chart: str | None = None) -> str:
    written = written or _now()
    failed = sum(not s.passed for s in summaries)
    errored = sum(s.error is not None for s in summaries)
    counts = f"{len(summaries)} check(s): {len(summaries) - failed} passed, {failed} failed" + (
        f" ({errored} of them errored before a verdict)" if errored else "")
    lines = ["# Quality gate", "", f"{counts}; written {written}.", ""]
    if chart:
        lines += [f"![Baseline seeds, candidate runs and the gate's thresholds]({chart})", ""]
    for summary in summaries:
        verdict = "PASSED" if summary.passed else "FAILED (error)" if summary.error is not None else "FAILED"
        test = f" (`{summary.test_id}`)" if summary.test_id and summary.test_id != summary.name else ""
        lines += [f"## {summary.name}: {verdict}{test}", "", summary.table, ""]
        if summary.message:
            lines += [summary.message, ""]
        lines += [summary.run_line, ""]
    return "\n".join(lines)


def quality_json(summaries: Sequence[QualitySummary], *, written: str | None = None) -> dict:
    return _strict({
        "passed": bool(summaries) and all(s.passed for s in summaries),
        "failed": sum(not s.passed for s in summaries),
        "errored": sum(s.error is not None for s in summaries),
        "written": written or _now(),
        "checks": [s.record | ({"test": s.test_id} if s.test_id else {}) for s in summaries],
    })


def _strict(value: Any) -> Any:
    """``value`` with every NaN or infinity as None: JSON has no such numbers, and strict readers
    (JavaScript's ``JSON.parse``, many CI tools) refuse a file holding them. What was not a number
    is said in words beside it (the check's problems)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(item) for item in value]
    return value


def write_quality_reports(summaries: Sequence[QualitySummary], reports_dir: Path, step_summary: Path | None = None) -> list[Path]:
    """Write ``quality.json``, ``quality.md`` and ``quality.png``; append the Markdown to a CI step summary if given.

    The older reports are removed first, so a write that fails part-way (a full disk) leaves no
    report rather than an older one that reads as this run's; the JSON, which CI reads, goes first.
    A step summary that cannot be appended to is warned about, not fatal: the reports are the record.
    """
    if not summaries:
        return []
    for name in (QUALITY_JSON, QUALITY_MARKDOWN, QUALITY_CHART):
        path = Path(reports_dir) / name
        if path.is_file() or path.is_symlink():
            path.unlink()
    written = _now()
    json_path = atomic_write_json(Path(reports_dir) / QUALITY_JSON, quality_json(summaries, written=written))
    try:
        chart = write_quality_chart([s.record for s in summaries], Path(reports_dir) / QUALITY_CHART)
    except Exception as error:  # a picture must never cost the verdicts: the Markdown and JSON are the record
        log.warning("could not draw %s (%s: %s); the Markdown and JSON reports are written without it",
                    QUALITY_CHART, type(error).__name__, error)
        chart = None
    markdown = quality_markdown(summaries, written=written, chart=chart.name if chart else None)
    paths = [json_path, atomic_write_text(Path(reports_dir) / QUALITY_MARKDOWN, markdown), *([chart] if chart else [])]
    try:
        append_to_step_summary(step_summary, quality_markdown(summaries, written=written))  # without the chart
    except OSError as error:
        log.warning("could not append the quality report to the CI step summary %s (%s)", step_summary, error)
    return paths


def remove_stale_reports(reports_dir: Path, *, started: float, kept: Iterable[Path] = ()) -> list[Path]:
    """Remove the harness reports in ``reports_dir`` that this run did not write.

    A run that selects part of the benchmarks (``-k cuda``) rewrites only its own reports; an older
    ``quality.md`` or ``benchmarks.json`` left beside them would read as this run's. A file counts as
    this run's when it was written since ``started`` (pytest-benchmark writes its JSON itself) or is
    in ``kept``.
    """
    kept = {Path(p).resolve() for p in kept}
    removed = []
    for name in REPORT_FILES:
        path = Path(reports_dir) / name
        if not path.is_file() or path.resolve() in kept:
            continue
        if path.stat().st_mtime < started:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
