"""End-of-session quality reports for people (Markdown) and machines (JSON)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.files import atomic_write_json, atomic_write_text
from harness.regression import QualityOutcome

QUALITY_MARKDOWN = "quality.md"
QUALITY_JSON = "quality.json"


def quality_markdown(outcomes: Sequence[QualityOutcome]) -> str:
    lines = ["# MRPC quality gate", ""]
    for outcome in outcomes:
        verdict = "PASSED" if outcome.passed else "FAILED"
        lines += [f"## {outcome.report.name}: {verdict}", "", outcome.report.table(), ""]
        if outcome.message:
            lines += [outcome.message, ""]
        prov = outcome.result.provenance
        lines += [
            f"Run: seed {prov['seed']}, device {prov['device'].get('gpu') or prov['device']['cpu']}, "
            f"torch {prov['versions']['torch']}, transformers {prov['versions']['transformers']}, "
            f"data sha256 {prov['data']['sha256'][:12]}…, weights sha256 {str(prov['model']['weights_sha256'])[:12]}…, "
            f"train {outcome.result.throughput.train_seconds:.0f} s. Baseline file: `{outcome.baseline_path}`.",
            "",
        ]
    return "\n".join(lines)


def quality_json(outcomes: Sequence[QualityOutcome]) -> dict:
    return {
        "passed": all(o.passed for o in outcomes),
        "checks": [
            o.report.to_json() | {"message": o.message, "baseline": o.baseline_path, "metrics": o.result.metrics,
                                  "provenance": o.result.provenance, "throughput": o.result.throughput.__dict__}
            for o in outcomes
        ],
    }


def write_quality_reports(outcomes: Sequence[QualityOutcome], reports_dir: Path, step_summary: Path | None = None) -> list[Path]:
    """Write ``quality.md`` and ``quality.json``; append the Markdown to a CI step summary if given."""
    if not outcomes:
        return []
    markdown = quality_markdown(outcomes)
    written = [
        atomic_write_text(reports_dir / QUALITY_MARKDOWN, markdown),
        atomic_write_json(reports_dir / QUALITY_JSON, quality_json(outcomes)),
    ]
    if step_summary is not None:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
    return written
