"""What the plugin's fixtures hand to a test: plain objects over the session, which know pytest
only to fail, skip and warn the way a test reads best.

``quality_gate`` is a :class:`QualityGateFixture` (``check(config_or_case)``: fine-tune, gate, and
fail with the verdict table); ``training_throughput`` a :class:`TrainingThroughputFixture`
(``measure(case, benchmark)`` under pytest-benchmark, ``assert_relative(...)`` for same-run ratios).
"""

from __future__ import annotations

import contextlib
import warnings

import pytest

from harness.cases import Case
from harness.prefetch_items import HarnessRecipeWarning, declaration_problem, gate_target
from harness.run.config import RunConfig
from harness.session import HarnessSession
from harness.throughput.bench import ThroughputBench
from harness.throughput.relative_check import RelativeCheck, assert_relative
from harness.throughput.runner import ThroughputCase, ThroughputResult


class QualityGateFixture:
    """``quality_gate.check(config)``: fine-tune (shared, cached), gate, and fail with the table."""

    def __init__(self, session: HarnessSession, capture_manager=None, node: pytest.Item | None = None) -> None:
        self._session = session
        self._capture = capture_manager
        self._node = node

    def check(self, config):
        """Gate ``config`` (a RunConfig), or one of the project's cases (the ``harness_case`` fixture)."""
        __tracebackhide__ = True
        if not isinstance(config, (RunConfig, Case)):
            raise TypeError(f"quality_gate.check takes a run config (harness.config(\"{config}\") for a recipe name) or a "
                            f"case (the harness_case fixture), got {type(config).__name__} {config!r}")
        # A fine-tune takes minutes: let its progress bars reach the terminal instead of pytest's capture.
        live = self._session.show_progress and self._capture is not None
        if isinstance(config, RunConfig):
            self._warn_if_undeclared(config)
        with self._capture.global_and_fixture_disabled() if live else contextlib.nullcontext():
            if isinstance(config, Case):
                outcome = self._session.check_case(config)
            else:
                outcome = self._session.check_quality(config)
        if not outcome.passed:
            pytest.fail(f"{outcome.report.table()}\n{outcome.message}".rstrip(), pytrace=False)
        return outcome

    def _warn_if_undeclared(self, config: RunConfig) -> None:
        """Seeds trained ahead for the marker's config are wasted if the test gates another one: say so."""
        target = gate_target(self._node) if self._node is not None else None
        problem = None if target is None or target.case is not None else declaration_problem(target, self._session, config)
        if problem:
            warnings.warn(HarnessRecipeWarning(
                f"{self._node.nodeid}: {problem}, so runs trained ahead for the marker (--harness-seeds-ahead) are not "
                "the ones this gate uses; make the marker name the recipe and fields the test checks"
            ), stacklevel=3)


class TrainingThroughputFixture:
    """``training_throughput.measure(case, benchmark)``: skip with the reason where the case cannot run
    here, else time it under pytest-benchmark and record it for ``throughput.md``;
    ``training_throughput.assert_relative(faster, slower, min_ratio=...)``: a same-run ratio check."""

    def __init__(self, bench: ThroughputBench) -> None:
        self._bench = bench

    def measure(self, case: ThroughputCase, benchmark) -> ThroughputResult | None:
        __tracebackhide__ = True  # a skip is reported at the benchmark, not here
        reason = self._bench.skip_reason(case)
        if reason is not None:
            pytest.skip(reason)
        try:
            return self._bench.measure(case, benchmark)
        except Exception as error:
            self._bench.record_failure(case, error)
            raise

    def assert_relative(self, faster: ThroughputCase, slower: ThroughputCase, *, min_ratio: float,
                        metric: str = "samples_per_second", why: str = "") -> RelativeCheck:
        __tracebackhide__ = True
        measured = [self._bench.result_for(case) for case in (faster, slower)]
        missing = [self._bench.why_missing(case) for case, result in zip((faster, slower), measured) if result is None]
        if missing:
            pytest.skip("; ".join(missing))
        try:
            return assert_relative(measured[0], measured[1], min_ratio=min_ratio, metric=metric, why=why)
        except AssertionError as error:
            pytest.fail(str(error), pytrace=False)
