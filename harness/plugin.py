"""The pytest plugin: options, markers and fixtures over :class:`harness.session.HarnessSession`.

Registered through the ``pytest11`` entry point, so any project with harness installed gets the
``--harness-*`` options and the ``harness`` / ``quality_gate`` / ``training_throughput`` fixtures
(the objects they hand to tests are in :mod:`harness.fixtures`).

Under pytest-xdist the checks run in workers: each verdict crosses to the controller with its test's
report (:mod:`harness.xdist_records`), throughput figures with the worker's ``workeroutput``, and only
the controller prints the verdicts and writes the reports, over the whole run. ``--harness-seeds-ahead=K`` adds, after each gate whose config is known before it runs
(a ``harness_case`` test, or one marked ``harness_recipe``), K items that fine-tune the gate's next
candidate seeds into the shared run cache, so idle workers train them while the gate trains its first.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from harness.arguments import baseline_seeds, bootstrap_samples, fault_name, non_negative_float, non_negative_int, positive_int, seed_value
from harness.run.config import DEVICES, PRECISIONS, ConfigError
from harness.quality.gate import PROCEDURES, GatePolicy
from harness.project import Project, ProjectFlags
from harness.quality.regression import DEFAULT_BASELINE_SEEDS
from harness.fixtures import QualityGateFixture, TrainingThroughputFixture
from harness.prefetch_items import drop_orphans, items_ahead
from harness import session_history
from harness.session_report import report_session
from harness.session import HarnessSession
from harness.settings import DATA_DIR_VAR, MLFLOW_VAR
from harness.throughput.bench import ThroughputBench
from harness.run.precision import AUTO_PRECISION
from harness import xdist_records

MARKERS = {
    "quality": "a metric-regression check against a stored baseline",
    "throughput": "a training-throughput benchmark",
    "gpu": "needs a CUDA GPU; skipped with the reason where there is none",
    "slow": "runs a real fine-tune or benchmark (minutes on a CPU)",
    "harness_recipe": "harness_recipe(name, **fields): the recipe (and RunConfig fields) this test gates with "
                      "quality_gate.check(harness.config(name, **fields)), so --harness-seeds-ahead can train its "
                      "later seeds ahead",
}
_SESSION_KEY = pytest.StashKey[HarnessSession]()
_STARTED_KEY = pytest.StashKey[float]()
_PYTEST_SESSION_KEY = pytest.StashKey[pytest.Session]()
_CHECKOUT_KEY = pytest.StashKey[tuple]()  # (commit, branch) when the session began, for the history
_FINISHED_KEY = pytest.StashKey[set]()  # node ids of the tests this process has finished
_RELAY_KEY = pytest.StashKey[xdist_records.VerdictRelay]()
_COLLECTOR_KEY = pytest.StashKey[xdist_records.VerdictCollector]()
BENCHMARK_JSON = "benchmarks.json"
WORKER_OUTPUT_KEY = "harness"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "fine-tuning evaluation and regression harness")
    group.addoption("--harness-data-dir", type=Path, default=None,
                    help=f"a local folder with the task's GLUE files (MRPC: train.tsv, dev.tsv), for configs that name "
                         f"no data. Default: [tool.harness] data_dir, else ${DATA_DIR_VAR}, else the task's Hub dataset.")
    group.addoption("--harness-cache-dir", type=Path, default=None,
                    help="where fine-tunes are cached. Default: [tool.harness] cache_dir, else $HARNESS_CACHE_DIR, "
                         "else ~/.cache/harness.")
    group.addoption("--harness-reports-dir", type=Path, default=None,
                    help="where reports are written. Default: [tool.harness] reports_dir, else $HARNESS_REPORTS_DIR, "
                         "else reports/ under the rootdir.")
    group.addoption("--harness-baselines-dir", type=Path, default=None,
                    help="the baseline files. Default: [tool.harness] baselines_dir, else baselines/ under the rootdir.")
    group.addoption("--harness-history", type=Path, default=None,
                    help="the history store (SQLite) each session that gated or benchmarked something is recorded in, "
                         "for `harness history`. Default: [tool.harness] history, else $HARNESS_HISTORY, else "
                         ".harness/history.sqlite under the rootdir.")
    group.addoption("--harness-no-history", action="store_true", default=False,
                    help="record nothing in the history store (nor in MLflow). Default: off (sessions are recorded).")
    group.addoption("--harness-mlflow-tracking-uri", default=None, metavar="URI",
                    help="also log each recorded session to this MLflow tracking URI (a server, or sqlite:///file.db), one "
                         "MLflow run per quality check and throughput case; needs the mlflow extra. Default: "
                         f"[tool.harness] mlflow_tracking_uri, else ${MLFLOW_VAR}, else none.")
    group.addoption("--harness-device", default=None, choices=DEVICES,
                    help="device for fine-tunes. Default: [tool.harness] device, else auto (cuda, then mps, then cpu).")
    group.addoption("--harness-precision", default=None, choices=(*PRECISIONS, AUTO_PRECISION),
                    help="precision of fine-tunes; part of each baseline's name, so a bf16 run is gated against a bf16 "
                         "baseline. auto: bf16 where the device multiplies bf16 natively (AVX512-BF16/AMX CPUs, "
                         "Ampere+ GPUs), else fp32. Default: [tool.harness] precision, else fp32.")
    group.addoption("--harness-force-regen", action="store_true", default=False,
                    help="re-measure the baselines the run touches from several seeds, write them, show the diff, "
                         "and fail. Default: off.")
    group.addoption("--harness-baseline-seeds", type=baseline_seeds, default=None,
                    help=f"seeds a regenerated baseline is measured from. Default: {DEFAULT_BASELINE_SEEDS}.")
    group.addoption("--harness-gate-sigmas", type=non_negative_float, default=None,
                    help=f"allowed band in baseline seed standard deviations. Default: [tool.harness.gate] sigmas, "
                         f"else {GatePolicy.sigmas:g}.")
    group.addoption("--harness-gate-floor", type=non_negative_float, default=None,
                    help=f"smallest allowed band, absolute. Default: [tool.harness.gate] floor, else {GatePolicy.floor:g}.")
    group.addoption("--harness-bootstrap-samples", type=bootstrap_samples, default=None,
                    help=f"bootstrap resamples for confidence intervals. Default: [tool.harness.gate] bootstrap_samples, "
                         f"else {GatePolicy.bootstrap_samples}.")
    group.addoption("--harness-gate-procedure", choices=PROCEDURES, default=None,
                    help="'sequential' (candidate seeds until the evidence decides, stated error rates), 'band' (one run "
                         "against mean - max(sigmas x std, floor)) or 'auto' (sequential when the baseline has enough "
                         "seeds). Default: [tool.harness.gate] procedure in pyproject.toml, else auto.")
    group.addoption("--harness-seed", type=seed_value, default=None,
                    help="seed of every fine-tune the checks ask for (the sequential gate's first candidate run; a "
                         "seed outside the baseline skips the one-run reproduction fast path). Default: the recipe's (42).")
    group.addoption("--harness-fault", type=fault_name, action="append", default=[], metavar="FAULT",
                    help="inject a deliberate regression into every fine-tune the checks ask for, to see what the gate "
                         "catches: shuffled-labels, truncated-inputs, label-noise-N (N from 1 to 50); or a slowdown into "
                         "every training step, fine-tunes and throughput cases alike: slow-steps-N (N%% extra compute, "
                         "N from 1 to 400). Repeatable. Default: none.")
    group.addoption("--harness-nproc", type=positive_int, default=None,
                    help="training processes per fine-tune: DDP through torch's elastic launcher (gloo on CPU, nccl on "
                         "CUDA), each process with cores / N threads. Default: 1.")
    group.addoption("--harness-no-progress", action="store_true", default=False,
                    help="hide training progress bars. Default: shown.")
    group.addoption("--harness-seeds-ahead", type=non_negative_int, default=0, metavar="K",
                    help="after each gate whose config is known before it runs (harness_case tests, tests marked "
                         "harness_recipe), add K items that fine-tune the sequential gate's next K candidate seeds into "
                         "the shared run cache; under pytest-xdist (-n N, --dist load; K = N-1 suits) idle workers train "
                         "them while the gate trains its first seed, and the gate reuses them. Pays off only with -n: "
                         "without it they run after their gate and skip. Wasted work whenever the gate needs fewer "
                         "runs, as when its first seed reproduces the baseline (unchanged code: one run). "
                         "Default: 0 (off).")


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    config.stash[_STARTED_KEY] = time.time()
    config.stash[_FINISHED_KEY] = set()
    opt = config.option
    project = _project(config)
    config.stash[_SESSION_KEY] = HarnessSession(
        project,
        force_regen=opt.harness_force_regen,
        baseline_seeds=opt.harness_baseline_seeds or DEFAULT_BASELINE_SEEDS,
        show_progress=not opt.harness_no_progress,
        seed=opt.harness_seed,
        faults=tuple(opt.harness_fault),
        nproc=opt.harness_nproc or 1,
        # Every worker of an xdist run takes the controller's start: what any of them wrote since is this run's.
        run_started=getattr(config, "workerinput", {}).get("harness_started", config.stash[_STARTED_KEY]),
    )
    config.stash[_RELAY_KEY] = xdist_records.VerdictRelay(config.stash[_SESSION_KEY], on_worker=_is_xdist_worker(config))
    if not _is_xdist_worker(config):
        config.stash[_COLLECTOR_KEY] = xdist_records.VerdictCollector()
        config.pluginmanager.register(config.stash[_COLLECTOR_KEY], "harness-verdict-collector")
        _terminate_as_interrupt(config)


def _terminate_as_interrupt(config: pytest.Config) -> None:
    """SIGTERM (a CI job cancelled or timed out) ends the run as Ctrl-C does, so its report says it is
    incomplete instead of an earlier run's report staying behind as if it were this one's. Only where
    nothing else handles SIGTERM, and undone when pytest unconfigures."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum} (SIGTERM)")

    signal.signal(signal.SIGTERM, interrupt)
    config.add_cleanup(lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))


def _project(config: pytest.Config) -> Project:
    """The project at the rootdir, resolved once: the ``--harness-*`` flags given, then pyproject.toml's
    ``[tool.harness]``, then the environment, then the defaults; a bad value is a usage error."""
    opt = config.option
    flags = ProjectFlags(
        data_dir=opt.harness_data_dir, cache_dir=opt.harness_cache_dir, reports_dir=opt.harness_reports_dir,
        baselines_dir=opt.harness_baselines_dir, history=opt.harness_history, record_history=not opt.harness_no_history,
        mlflow_tracking_uri=opt.harness_mlflow_tracking_uri,
        device=opt.harness_device, precision=opt.harness_precision,
        gate={"procedure": opt.harness_gate_procedure, "sigmas": opt.harness_gate_sigmas, "floor": opt.harness_gate_floor,
              "bootstrap_samples": opt.harness_bootstrap_samples},
        prefix="--harness-",
    )
    try:
        return Project.load(Path(config.rootpath) / "pyproject.toml", flags=flags)
    except ConfigError as error:
        raise pytest.UsageError(str(error)) from error


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that asks for ``harness_case`` runs once per case in the project's pyproject.toml."""
    if "harness_case" not in metafunc.fixturenames:
        return
    session = metafunc.config.stash[_SESSION_KEY]
    cases = list(session.cases)
    metafunc.parametrize("harness_case", cases, ids=[case.name for case in cases])


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]):
    """``--harness-seeds-ahead``: each known gate followed by its items ahead, added before ``-k``, ``-m``
    and ``--deselect`` select (so they select each item with its gate), and dropped afterwards where
    their gate was not selected. Every xdist worker collects the same ids: they come from the config
    and the baseline file alone."""
    ahead = config.option.harness_seeds_ahead
    harness_session = config.stash.get(_SESSION_KEY, None)
    if ahead and harness_session is not None:
        finished = config.stash[_FINISHED_KEY]
        items[:] = [new for item in items for new in (item, *items_ahead(item, harness_session, ahead, finished))]
    result = yield
    drop_orphans(config, items)
    return result


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Hand on, with this test's report, every verdict recorded while it ran (see harness.xdist_records)."""
    outcome = yield
    relay = item.config.stash.get(_RELAY_KEY, None)
    if relay is not None:
        relay.after(item, call, outcome.get_result())


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Remember what this process finished: an item ahead of a gate that already finished here is moot."""
    item.config.stash[_FINISHED_KEY].add(item.nodeid)


@pytest.fixture(scope="session")
def harness(pytestconfig: pytest.Config) -> HarnessSession:
    """The session's harness: ``harness.config(recipe)``, ``harness.fine_tune(config)`` (cached)."""
    return pytestconfig.stash[_SESSION_KEY]


@pytest.fixture
def quality_gate(harness: HarnessSession, pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> QualityGateFixture:
    return QualityGateFixture(harness, pytestconfig.pluginmanager.getplugin("capturemanager"), request.node)


@pytest.fixture(scope="session")
def _throughput_bench(harness: HarnessSession) -> ThroughputBench:
    return ThroughputBench(harness)


@pytest.fixture
def training_throughput(_throughput_bench: ThroughputBench) -> TrainingThroughputFixture:
    return TrainingThroughputFixture(_throughput_bench)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """On the xdist controller, for each worker: when the run began."""
    node.workerinput["harness_started"] = node.config.stash[_STARTED_KEY]


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_PYTEST_SESSION_KEY] = session  # so a report that cannot be written can fail the run
    harness_session = session.config.stash.get(_SESSION_KEY, None)
    if harness_session is not None and harness_session.settings.history is not None and not _is_xdist_worker(session.config):
        # The commit measured is the one checked out when the session began: a checkout or commit made
        # while a long benchmark runs must not be credited with its numbers.
        session.config.stash[_CHECKOUT_KEY] = session_history.git_checkout(harness_session.project.root)


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
    """On an xdist worker: hand the throughput figures to the controller."""
    config = session.config
    harness_session = config.stash.get(_SESSION_KEY, None)
    if harness_session is None or not _is_xdist_worker(config):
        return
    config.workeroutput[WORKER_OUTPUT_KEY] = xdist_records.worker_output(harness_session)  # verdicts went with each report


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """On the xdist controller: collect what a finished worker measured, for the one set of reports."""
    output = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
    harness_session = node.config.stash.get(_SESSION_KEY, None)
    if not output or harness_session is None:
        return
    xdist_records.absorb_worker_output(harness_session, output)




@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark's, which raises on --benchmark-compare-fail
def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    session = config.stash.get(_SESSION_KEY, None)
    if session is None or _is_xdist_worker(config):
        return
    report_session(terminalreporter, session, worker_verdicts=config.stash[_COLLECTOR_KEY].verdicts, exitstatus=exitstatus,
                   started=config.stash[_STARTED_KEY], pytest_session=config.stash.get(_PYTEST_SESSION_KEY, None),
                   checkout=config.stash.get(_CHECKOUT_KEY, None))
