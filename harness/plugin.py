"""The pytest plugin: options, markers and fixtures over :class:`harness.session.HarnessSession`.

Registered through the ``pytest11`` entry point, so any project with harness installed gets the
``--harness-*`` options and the ``harness`` / ``quality_gate`` fixtures.

Under pytest-xdist the checks run in workers: each worker hands what it measured to the controller
(``workeroutput``), and only the controller prints the verdicts and writes the reports, over the
whole run.
"""

from __future__ import annotations

import contextlib
import json
import dataclasses
import time
from pathlib import Path

import pytest

from harness.arguments import baseline_seeds, fault_name, non_negative_float, positive_int, seed_value
from harness.config import ConfigError, RecipeRegistry
from harness.tasks.registry import TaskRegistry
from harness.quality.gate import PROCEDURES, GatePolicy
from harness.cases import Case, CaseRegistry
from harness.project_config import read_cases, read_gate_policy, read_recipes, read_tasks
from harness.quality.regression import DEFAULT_BASELINE_SEEDS
from harness.throughput.relative_check import RelativeCheck, assert_relative
from harness.quality.report import QualitySummary, remove_stale_reports, write_quality_reports
from harness.session import HarnessSession
from harness.settings import DATA_DIR_VAR, Settings
from harness.throughput.runner import ThroughputCase, ThroughputResult, ThroughputSkip
from harness.throughput.bench import ThroughputBench
from harness.throughput.report import write_throughput_reports

MARKERS = {
    "quality": "a metric-regression check against a stored baseline",
    "throughput": "a training-throughput benchmark",
    "gpu": "needs a CUDA GPU; skipped with the reason where there is none",
    "slow": "runs a real fine-tune or benchmark (minutes on a CPU)",
}
_SESSION_KEY = pytest.StashKey[HarnessSession]()
_STARTED_KEY = pytest.StashKey[float]()
_WORKER_QUALITY_KEY = pytest.StashKey[list]()
BENCHMARK_JSON = "benchmarks.json"
WORKER_OUTPUT_KEY = "harness"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "fine-tuning evaluation and regression harness")
    group.addoption("--harness-data-dir", type=Path, default=None,
                    help=f"a local folder with the task's GLUE files (MRPC: train.tsv, dev.tsv), for configs that name "
                         f"no data. Default: ${DATA_DIR_VAR}, else the task's Hub dataset.")
    group.addoption("--harness-cache-dir", type=Path, default=None,
                    help="where fine-tunes are cached. Default: $HARNESS_CACHE_DIR, else ~/.cache/harness.")
    group.addoption("--harness-reports-dir", type=Path, default=None,
                    help="where reports are written. Default: $HARNESS_REPORTS_DIR, else reports/ under the rootdir.")
    group.addoption("--harness-baselines-dir", type=Path, default=None,
                    help="the baseline files. Default: baselines/ under the rootdir.")
    group.addoption("--harness-device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                    help="device for fine-tunes. Default: auto (cuda, then mps, then cpu).")
    group.addoption("--harness-force-regen", action="store_true", default=False,
                    help="re-measure the baselines the run touches from several seeds, write them, show the diff, "
                         "and fail. Default: off.")
    group.addoption("--harness-baseline-seeds", type=baseline_seeds, default=DEFAULT_BASELINE_SEEDS,
                    help=f"seeds a regenerated baseline is measured from. Default: {DEFAULT_BASELINE_SEEDS}.")
    group.addoption("--harness-gate-sigmas", type=non_negative_float, default=GatePolicy.sigmas,
                    help=f"allowed band in baseline seed standard deviations. Default: {GatePolicy.sigmas:g}.")
    group.addoption("--harness-gate-floor", type=non_negative_float, default=GatePolicy.floor,
                    help=f"smallest allowed band, absolute. Default: {GatePolicy.floor:g}.")
    group.addoption("--harness-bootstrap-samples", type=positive_int, default=GatePolicy.bootstrap_samples,
                    help=f"bootstrap resamples for confidence intervals. Default: {GatePolicy.bootstrap_samples}.")
    group.addoption("--harness-gate-procedure", choices=PROCEDURES, default=None,
                    help="'sequential' (candidate seeds until the evidence decides, stated error rates), 'band' (one run "
                         "against mean - max(sigmas x std, floor)) or 'auto' (sequential when the baseline has enough "
                         "seeds). Default: [tool.harness.gate] procedure in pyproject.toml, else auto.")
    group.addoption("--harness-seed", type=seed_value, default=None,
                    help="seed of every fine-tune the checks ask for (the sequential gate's first candidate run; a "
                         "seed outside the baseline skips the exact-reproduction fast path). Default: the recipe's (42).")
    group.addoption("--harness-fault", type=fault_name, action="append", default=[], metavar="FAULT",
                    help="inject a deliberate regression into every fine-tune the checks ask for, to see what the gate "
                         "catches: shuffled-labels, truncated-inputs, label-noise-N (N from 1 to 50). Repeatable. "
                         "Default: none.")
    group.addoption("--harness-nproc", type=positive_int, default=1,
                    help="training processes per fine-tune: DDP through torch's elastic launcher (gloo on CPU, nccl on "
                         "CUDA), each process with cores / N threads. Default: 1.")
    group.addoption("--harness-no-progress", action="store_true", default=False,
                    help="hide training progress bars. Default: shown.")


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    config.stash[_STARTED_KEY] = time.time()
    config.stash[_WORKER_QUALITY_KEY] = []
    opt = config.option
    settings = Settings.from_environ()
    rootdir = Path(config.rootpath)
    settings = dataclasses.replace(
        settings,
        data_dir=opt.harness_data_dir or settings.data_dir,
        cache_dir=opt.harness_cache_dir or settings.cache_dir,
        reports_dir=opt.harness_reports_dir or (settings.reports_dir if settings.reports_dir.is_absolute() else rootdir / settings.reports_dir),
    )
    recipes, tasks = _project_recipes(rootdir), _project_tasks(rootdir)
    config.stash[_SESSION_KEY] = HarnessSession(
        settings=settings,
        baselines_dir=opt.harness_baselines_dir or rootdir / "baselines",
        device=opt.harness_device,
        policy=_gate_policy(config, rootdir),
        force_regen=opt.harness_force_regen,
        baseline_seeds=opt.harness_baseline_seeds,
        show_progress=not opt.harness_no_progress,
        seed=opt.harness_seed,
        faults=tuple(opt.harness_fault),
        recipes=recipes,
        tasks=tasks,
        cases=_project_cases(rootdir, tasks, recipes),
        nproc=opt.harness_nproc,
    )


def _project_recipes(rootdir: Path) -> RecipeRegistry:
    """The built-in recipes and the project's ``[tool.harness.recipes]``; a bad one is a usage error."""
    try:
        return read_recipes(rootdir / "pyproject.toml")
    except ConfigError as error:
        raise pytest.UsageError(str(error)) from error


def _project_tasks(rootdir: Path) -> TaskRegistry:
    """The built-in tasks and the project's ``[tool.harness.tasks]``; a bad one is a usage error."""
    try:
        return read_tasks(rootdir / "pyproject.toml")
    except ConfigError as error:
        raise pytest.UsageError(str(error)) from error


def _project_cases(rootdir: Path, tasks: TaskRegistry, recipes: RecipeRegistry) -> CaseRegistry:
    """The project's ``[tool.harness.cases]``; a bad one is a usage error."""
    try:
        return read_cases(rootdir / "pyproject.toml", tasks=tasks, recipes=recipes)
    except ConfigError as error:
        raise pytest.UsageError(str(error)) from error


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that asks for ``harness_case`` runs once per case in the project's pyproject.toml."""
    if "harness_case" not in metafunc.fixturenames:
        return
    session = metafunc.config.stash[_SESSION_KEY]
    cases = list(session.cases)
    metafunc.parametrize("harness_case", cases, ids=[case.name for case in cases])


def _gate_policy(config: pytest.Config, rootdir: Path) -> GatePolicy:
    """``[tool.harness.gate]`` from the project's pyproject.toml, with the command line's options on top."""
    opt = config.option
    overrides = {"sigmas": opt.harness_gate_sigmas, "floor": opt.harness_gate_floor, "bootstrap_samples": opt.harness_bootstrap_samples}
    try:
        policy = read_gate_policy(rootdir / "pyproject.toml")
        changes = {k: v for k, v in overrides.items() if v != getattr(GatePolicy, k)}
        if opt.harness_gate_procedure:
            changes["procedure"] = opt.harness_gate_procedure
        return dataclasses.replace(policy, **changes)
    except ConfigError as error:
        raise pytest.UsageError(str(error)) from error


@pytest.fixture(scope="session")
def harness(pytestconfig: pytest.Config) -> HarnessSession:
    """The session's harness: ``harness.config(recipe)``, ``harness.fine_tune(config)`` (cached)."""
    return pytestconfig.stash[_SESSION_KEY]


class QualityGateFixture:
    """``quality_gate.check(config)``: fine-tune (shared, cached), gate, and fail with the table."""

    def __init__(self, session: HarnessSession, capture_manager=None) -> None:
        self._session = session
        self._capture = capture_manager

    def check(self, config):
        """Gate ``config`` (a RunConfig), or one of the project's cases (the ``harness_case`` fixture)."""
        __tracebackhide__ = True
        # A fine-tune takes minutes: let its progress bars reach the terminal instead of pytest's capture.
        live = self._session.show_progress and self._capture is not None
        with self._capture.global_and_fixture_disabled() if live else contextlib.nullcontext():
            if isinstance(config, Case):
                outcome = self._session.check_case(config)
            else:
                outcome = self._session.check_quality(config)
        if not outcome.passed:
            pytest.fail(f"{outcome.report.table()}\n{outcome.message}".rstrip(), pytrace=False)
        return outcome


@pytest.fixture
def quality_gate(harness: HarnessSession, pytestconfig: pytest.Config) -> QualityGateFixture:
    return QualityGateFixture(harness, pytestconfig.pluginmanager.getplugin("capturemanager"))


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


@pytest.fixture(scope="session")
def _throughput_bench(harness: HarnessSession) -> ThroughputBench:
    return ThroughputBench(harness)


@pytest.fixture
def training_throughput(_throughput_bench: ThroughputBench) -> TrainingThroughputFixture:
    return TrainingThroughputFixture(_throughput_bench)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Write pytest-benchmark's JSON to the reports folder unless ``--benchmark-json`` says where.

    pytest-benchmark reads ``--benchmark-json`` once, while it configures, before collection says
    whether any benchmark will run; setting it then would warn "no benchmarks" on every run of
    plain tests. So it is set here, on pytest-benchmark's session, only when a benchmark was selected.
    """
    config = session.config
    bench_session = config.pluginmanager.getplugin("pytest-benchmark")  # pytest-benchmark registers its session so
    harness_session = config.stash.get(_SESSION_KEY, None)
    if bench_session is None or harness_session is None or bench_session.json or bench_session.disabled or bench_session.skip:
        return
    if any("benchmark" in getattr(item, "fixturenames", ()) for item in session.items):
        path = harness_session.settings.reports_dir / BENCHMARK_JSON
        path.parent.mkdir(parents=True, exist_ok=True)
        config.option.benchmark_json = bench_session.json = path


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand every verdict and throughput figure to the controller as plain data."""
    config = session.config
    harness_session = config.stash.get(_SESSION_KEY, None)
    if harness_session is None or not _is_xdist_worker(config):
        return
    output = {
        "quality": [QualitySummary.of(outcome).to_record() for outcome in harness_session.outcomes],
        "throughput": [result.to_record() for result in harness_session.throughput],
        "throughput_skipped": [skip.to_record() for skip in harness_session.throughput_skipped],
    }
    # execnet carries only builtin types: a JSON round trip turns anything else (paths, numpy scalars) into them.
    config.workeroutput[WORKER_OUTPUT_KEY] = json.loads(json.dumps(output, default=str))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """On the xdist controller: collect what a finished worker measured, for the one set of reports."""
    output = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
    harness_session = node.config.stash.get(_SESSION_KEY, None)
    if not output or harness_session is None:
        return
    node.config.stash[_WORKER_QUALITY_KEY].extend(QualitySummary.from_record(r) for r in output["quality"])
    harness_session.throughput.extend(ThroughputResult.from_record(r) for r in output["throughput"])
    harness_session.throughput_skipped.extend(ThroughputSkip.from_record(r) for r in output["throughput_skipped"])


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark's, which raises on --benchmark-compare-fail
def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    session = config.stash.get(_SESSION_KEY, None)
    if session is None or _is_xdist_worker(config):
        return
    written: list[Path] = []
    if session.throughput or session.throughput_skipped:
        written += _report_throughput(terminalreporter, session)
    summaries = [QualitySummary.of(outcome) for outcome in session.outcomes] + config.stash[_WORKER_QUALITY_KEY]
    if summaries:
        terminalreporter.section("harness quality gate")
        for summary in summaries:
            terminalreporter.write_line(summary.table)
            if summary.message:
                terminalreporter.write_line(summary.message)
            terminalreporter.write_line("")
        paths = write_quality_reports(summaries, session.settings.reports_dir, session.settings.step_summary)
        for path in paths:
            terminalreporter.write_line(f"harness: wrote {path}")
        written += paths
    if written:
        for path in remove_stale_reports(session.settings.reports_dir, started=config.stash[_STARTED_KEY], kept=written):
            terminalreporter.write_line(f"harness: removed {path}, left by an earlier run (this run did not write it)")


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
