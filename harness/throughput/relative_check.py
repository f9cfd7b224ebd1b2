"""Same-run relative throughput checks: a ratio of two cases measured in one session.

An absolute throughput gate on a shared or virtual runner fails whenever a neighbour is busy. A
ratio of two configurations measured minutes apart in the same run cancels most of that: the
machine, its load, its clocks and library versions are common to both. So the harness gates
relations that follow from how the models and precisions compute ("MiniLM trains at least 2x as
many samples per second as bert-base", "bf16 is not slower than fp32 on a GPU") with a bound well
inside what the FLOPs predict, and leaves absolute regressions to pytest-benchmark's
``--benchmark-compare-fail`` against a saved run on the same machine.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.tables import markdown_table
from harness.throughput.runner import ThroughputResult

METRICS = {
    "samples_per_second": "samples/s",
    "real_tokens_per_second": "real tokens/s",
    "padded_tokens_per_second": "padded tokens/s",
}


@dataclass(frozen=True)
class RelativeCheck:
    """``faster`` must reach at least ``min_ratio`` times ``slower``'s ``metric``."""

    faster: ThroughputResult
    slower: ThroughputResult
    min_ratio: float
    metric: str = "samples_per_second"
    why: str = ""

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"unknown metric {self.metric!r}; use one of {', '.join(METRICS)}")
        if self.min_ratio <= 0:
            raise ValueError(f"min_ratio must be > 0, got {self.min_ratio}")

    @property
    def ratio(self) -> float:
        return getattr(self.faster, self.metric) / getattr(self.slower, self.metric)

    @property
    def passed(self) -> bool:
        return self.ratio >= self.min_ratio

    def explain(self) -> str:
        """The claim, both measurements, the ratio against the bound, and the verdict."""
        unit = METRICS[self.metric]
        table = markdown_table(
            ["case", unit, "round CV", "1-min load"],
            [
                [r.case.id, f"{getattr(r, self.metric):.4g}", _percent(r.round_cv), _load(r.load_average)]
                for r in (self.faster, self.slower)
            ],
        )
        claim = f"{self.faster.case.id} must reach at least {self.min_ratio:g}x the {unit} of {self.slower.case.id} in the same run"
        verdict = "pass" if self.passed else "FAIL"
        lines = [claim + (f" ({self.why})" if self.why else "") + ".", table,
                 f"ratio {self.ratio:.3g}x, required >= {self.min_ratio:g}x: {verdict}"]
        if self.ratio_half_width is not None:
            lines.append(f"with this run's noise the ratio is known to ±{self.ratio_half_width:.1%} (95%): a shortfall "
                         "smaller than that cannot be told from noise")
        return "\n".join(lines)

    @property
    def ratio_half_width(self) -> float | None:
        """Relative half-width of the ratio's 95% interval, from both cases' round spreads (errors of
        a ratio of two independent means add in quadrature, relatively)."""
        halves = [r.mean_half_width for r in (self.faster, self.slower)]
        return None if None in halves else (halves[0] ** 2 + halves[1] ** 2) ** 0.5


def assert_relative(faster: ThroughputResult, slower: ThroughputResult, *, min_ratio: float,
                    metric: str = "samples_per_second", why: str = "") -> RelativeCheck:
    """Raise ``AssertionError`` with :meth:`RelativeCheck.explain` unless ``faster`` is at least
    ``min_ratio`` times ``slower``; return the check either way it passes."""
    __tracebackhide__ = True
    check = RelativeCheck(faster, slower, min_ratio, metric, why)
    if not check.passed:
        raise AssertionError(check.explain())
    return check


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _load(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
