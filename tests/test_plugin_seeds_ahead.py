"""``--harness-seeds-ahead=K`` through ``pytester``: after each gate whose config is known before it
runs (a ``harness_case`` test, or one marked ``harness_recipe``), K items fine-tune the sequential
gate's next candidate seeds into the shared run cache, so that under pytest-xdist idle workers train
them while the gate trains its first.

The collection tests train nothing. The end-to-end test fine-tunes the smoke tier a few times: a
user's CSV case, with a fault injected so that no run is a baseline's, gated once without a baseline
(its first run says where to put one that a single run cannot settle), then against that baseline
alone and with ``-n 2 --harness-seeds-ahead=2``: the two verdicts must agree while every seed is
trained once. Every fine-tune runs in a pytest subprocess: the pytester fixture drops the modules
imported during its test, and transformers cannot be imported twice in one process.
"""

from __future__ import annotations

import dataclasses
import json
import re
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
# Naming a baseline resolves the device through torch: imported here, before any in-process run drops it.
import torch  # noqa: F401

from fake_runs import run_result, smoke_run_config
from review_project import REVIEWS, THE_READMES_TEST, write_reviews
from harness.fixtures import QualityGateFixture
from harness.prefetch_items import HarnessRecipeWarning
from harness.project_config import read_cases, read_gate_policy, read_recipes, read_tasks
from harness.quality.baselines import BaselineStore, MeasuredBaseline, MetricStats, measured_from_runs
from harness.quality.regression import name_for
from harness.quality.sequential_check import designs_for
from harness.quality.sequential_gate import CONTINUE, decide
from harness.project import Project
from harness.session import HarnessSession
from harness.settings import Settings

pytest_plugins = ["pytester"]

CASE_BASELINE = "reviews--reviews--arch-bert-tiny--validation--cpu-fp32"
SMOKE_BASELINE = "mrpc--smoke--arch-bert-tiny--validation--cpu-fp32"
PYPROJECT = REVIEWS + """metrics = ["accuracy"]

[tool.harness.gate]
bootstrap_samples = 50
procedure = "sequential"
max_runs = 3
effects = { accuracy = 0.4 }
"""
# Gates whose bodies train nothing: enough to collect and to run the items ahead of them.
GATES = """
import pytest


@pytest.mark.quality
def test_case(harness_case):
    pass


@pytest.mark.quality
@pytest.mark.harness_recipe("smoke")
def test_smoke():
    pass


def test_plain():
    pass
"""
# Every harness log line of every process (controller and xdist workers), appended to one file.
LOGGING_CONFTEST = """
import logging
import os


def pytest_configure(config):
    path = os.environ.get("SEEDS_AHEAD_LOG")
    if path:
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(process)d %(name)s %(message)s"))
        logger = logging.getLogger("harness")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
"""
DEFAULTS = ["-p", "no:cacheprovider", "--harness-device=cpu", "--harness-no-progress"]


def accuracies(centre: float) -> np.ndarray:
    """20 seeds' accuracy around ``centre`` with sd 0.1: with max_runs 3 and an effect of 0.4, a
    sequential design that takes all three runs."""
    spread = np.linspace(-1.0, 1.0, 20)
    return centre + 0.1 * spread / spread.std(ddof=1)


def fake_baseline(name: str) -> MeasuredBaseline:
    """A baseline of 20 hand-built seeds (42-61) under ``name``: enough to name and design the seeds ahead."""
    config = smoke_run_config()
    task, recipe = name.split("--")[:2]
    runs = [run_result(config.replace(seed=seed), accuracy=value, rows=4000) for seed, value in zip(range(42, 62), accuracies(0.7))]
    return dataclasses.replace(measured_from_runs(config, runs), task=task, recipe=recipe)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    write_reviews(pytester.path / "data")
    (pytester.path / "benchmarks").mkdir()
    (pytester.path / "benchmarks" / "test_project_cases.py").write_text(GATES, encoding="utf-8")
    BaselineStore(pytester.path / "baselines").save(fake_baseline(CASE_BASELINE))
    return pytester


def collected(project: pytest.Pytester, *args: str) -> list[str]:
    result = project.runpytest("--collect-only", "-q", *DEFAULTS, *args)
    return [line for line in result.stdout.lines if line.startswith("benchmarks/")]


def test_each_known_gate_is_followed_by_its_runs_ahead_with_deterministic_ids(project):
    ids = collected(project, "--harness-seeds-ahead=2")
    assert ids == [
        "benchmarks/test_project_cases.py::test_case[reviews]",
        "benchmarks/test_project_cases.py::test_case[reviews]::prefetch-seed62",  # the baseline holds 42-61
        "benchmarks/test_project_cases.py::test_case[reviews]::prefetch-seed63",
        "benchmarks/test_project_cases.py::test_smoke",
        "benchmarks/test_project_cases.py::test_smoke::prefetch-run2",  # no baseline: named by run, and skipped (below)
        "benchmarks/test_project_cases.py::test_smoke::prefetch-run3",
        "benchmarks/test_project_cases.py::test_plain",
    ]
    assert collected(project, "--harness-seeds-ahead=2") == ids  # what every xdist worker collects
    assert collected(project) == [i for i in ids if "prefetch" not in i]  # off by default


def test_the_seeds_ahead_follow_harness_seed_and_stop_at_the_gates_cap(project):
    ids = collected(project, "--harness-seeds-ahead=5", "--harness-seed=100", "--harness-fault=label-noise-20", "-k", "reviews")
    # max_runs = 3: the first run and two more, after seed 100 (later than the baseline's seeds)
    assert ids == ["benchmarks/test_project_cases.py::test_case[reviews]", "benchmarks/test_project_cases.py::test_case[reviews]::prefetch-seed101",
                   "benchmarks/test_project_cases.py::test_case[reviews]::prefetch-seed102"]


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (["-m", "quality"], ["test_case[reviews]", "test_case[reviews]::prefetch-seed62", "test_smoke", "test_smoke::prefetch-run2"]),
        (["-k", "smoke"], ["test_smoke", "test_smoke::prefetch-run2"]),
        (["-k", "not prefetch"], ["test_case[reviews]", "test_smoke", "test_plain"]),
        (["--deselect", "benchmarks/test_project_cases.py::test_case[reviews]"], ["test_smoke", "test_smoke::prefetch-run2", "test_plain"]),
        (["-k", "prefetch"], []),  # never without their gate
    ],
    ids=["-m quality", "-k smoke", "-k not prefetch", "--deselect gate", "-k prefetch"],
)
def test_markers_and_keywords_select_the_runs_ahead_with_their_gate(project, selection, expected):
    ids = collected(project, "--harness-seeds-ahead=1", *selection)
    assert [i.removeprefix("benchmarks/test_project_cases.py::") for i in ids] == expected


def test_a_run_ahead_says_why_it_trains_nothing(project):
    """No baseline: nothing to train ahead of the first seed; a gate already finished in this process: moot;
    a regeneration: no sequential gate. None of these trains, so they run in this process."""
    result = project.runpytest("-rs", *DEFAULTS, "--harness-seeds-ahead=1")
    result.assert_outcomes(passed=3, skipped=2)
    output = " ".join(result.stdout.str().split())
    assert (f"nothing to train ahead of test_smoke: no baseline at {project.path / 'baselines' / SMOKE_BASELINE}.json: the gate "
            "trains only its first seed (42) and fails, so there is nothing to train ahead of it") in output
    assert "test_case[reviews] already finished in this process, with every run it needed: training seed 62 now is moot" in output
    regen = " ".join(project.runpytest("-rs", *DEFAULTS, "--harness-seeds-ahead=1", "--harness-force-regen", "-k", "reviews")
                     .stdout.str().split())
    assert "--harness-force-regen re-measures the baseline instead of running the sequential gate" in regen


def test_a_run_ahead_that_cannot_train_fails_visibly(project, monkeypatch):
    """A training error, or a marker naming no recipe, is a failure of the item, not a silent skip. The
    items run before their gates here (reversed, as a shuffling plugin might), so none is moot."""
    def broken(self, config):
        raise RuntimeError(f"training seed {config.seed} ran out of memory")

    monkeypatch.setattr(HarnessSession, "fine_tune", broken)
    project.makeconftest("import pytest\n\n@pytest.hookimpl(trylast=True)\n"
                         "def pytest_collection_modifyitems(items):\n    items.reverse()\n")
    project.makepyfile(test_typo="import pytest\n\n@pytest.mark.harness_recipe('smok')\ndef test_typo():\n    pass\n")
    result = project.runpytest(*DEFAULTS, "--harness-seeds-ahead=1", "benchmarks", "test_typo.py")
    result.assert_outcomes(passed=4, failed=2, skipped=1)
    for line in ("FAILED test_typo.py::test_typo::prefetch-run2*",
                 "FAILED benchmarks/test_project_cases.py::test_case[[]reviews[]]::prefetch-seed62*"):
        result.stdout.fnmatch_lines([line])  # one at a time: the summary's order follows the files' names
    output = result.stdout.str()
    assert "E       RuntimeError: training seed 62 ran out of memory" in output
    assert "ConfigError: unknown recipe 'smok'" in output


def test_bad_values_and_markers_are_usage_errors(project):
    result = project.runpytest("--harness-seeds-ahead=-1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--harness-seeds-ahead" in result.stderr.str() and "must be >= 0, got -1" in result.stderr.str()
    project.makepyfile(test_bad="import pytest\n\n@pytest.mark.harness_recipe()\ndef test_bad():\n    pass\n")
    result = project.runpytest(*DEFAULTS, "--harness-seeds-ahead=1", "test_bad.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "test_bad.py::test_bad: harness_recipe takes one recipe name" in result.stderr.str()


def test_help_states_the_default_and_the_trade_off(pytester):
    output = " ".join(pytester.runpytest("--help").stdout.str().split())
    help_text = output[output.index("--harness-seeds-ahead=K"):]
    assert "Default: 0 (off)" in help_text
    assert "Pays off only with -n" in help_text and "reproduces the baseline (unchanged code: one run)" in help_text


@dataclasses.dataclass
class Node:
    """The parts of a test item the quality_gate fixture reads."""

    nodeid: str
    marker: pytest.Mark | None

    def get_closest_marker(self, name):
        return self.marker if name == "harness_recipe" else None


def test_a_harness_recipe_marker_that_misnames_the_gated_config_is_warned_about(tmp_path, monkeypatch):
    session = HarnessSession(Project.of(Settings(cache_dir=tmp_path), tmp_path, device="cpu"))
    monkeypatch.setattr(session, "check_quality", lambda config: SimpleNamespace(passed=True))
    node = Node("benchmarks/test_quality.py::test_gate", pytest.mark.harness_recipe("smoke").mark)
    gate = QualityGateFixture(session, None, node)
    with pytest.warns(HarnessRecipeWarning, match=r"test_gate: its marker harness_recipe\('smoke'\) builds another config .* "
                                                  r"differ in recipe, seed"):
        gate.check(session.config("smoke", seed=7, learning_rate=0.01))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gate.check(session.config("smoke"))  # the declared config: nothing to say
    typo = QualityGateFixture(session, None, Node("benchmarks/test_quality.py::test_typo", pytest.mark.harness_recipe("smok").mark))
    with pytest.warns(HarnessRecipeWarning, match=r"its marker harness_recipe\('smok'\) builds no config \(unknown recipe 'smok'"):
        typo.check(session.config("smoke"))


def cache_entries(cache: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text())["config"] for p in (cache / "runs").glob("*/key.json")}


@pytest.mark.slow  # ~30 s of xdist fine-tunes; the fast tier keeps the ids, selection, skips and failures above and tests/quality/test_seeds_ahead.py
def test_under_xdist_the_gates_later_seeds_train_once_on_other_workers_and_the_verdict_is_unchanged(
        pytester, tmp_path, monkeypatch):
    pytest.importorskip("xdist")
    pytester.makefile(".toml", pyproject=PYPROJECT)
    pytester.makeconftest(LOGGING_CONFTEST)
    write_reviews(pytester.path / "data")
    (pytester.path / "benchmarks").mkdir()
    (pytester.path / "benchmarks" / "test_project_cases.py").write_text(THE_READMES_TEST, encoding="utf-8")
    pyproject = pytester.path / "pyproject.toml"
    fault = "label-noise-20"  # the gate's runs are never a baseline's: the sequential test must run

    def gate(cache: Path, reports: Path, *extra: str) -> tuple[pytest.RunResult, dict]:
        result = pytester.runpytest_subprocess("-v", *DEFAULTS, f"--harness-fault={fault}", f"--harness-cache-dir={cache}",
                                               f"--harness-reports-dir={reports}", *extra)
        return result, json.loads((reports / "quality.json").read_text())["checks"][0]

    # The gate's first run, with no baseline yet, tells where to put one that the first run cannot settle.
    _, probe = gate(tmp_path / "alone-cache", tmp_path / "probe-reports")
    first, provenance = probe["metrics"]["accuracy"], probe["provenance"]
    tasks, recipes = read_tasks(pyproject), read_recipes(pyproject)
    session = HarnessSession(Project.of(Settings(cache_dir=tmp_path / "alone-cache", hub_offline=True),
                                        pytester.path / "baselines", device="cpu", policy=read_gate_policy(pyproject),
                                        tasks=tasks, recipes=recipes, cases=read_cases(pyproject, tasks=tasks, recipes=recipes)),
                             faults=(fault,))
    case = session.cases.get("reviews")
    config = session.case_config(case)
    baseline = MeasuredBaseline(
        task="reviews", split="validation", model=config.model_spec, recipe="reviews", device_kind="cpu",
        precision=config.precision, metrics={"accuracy": MetricStats(tuple(float(v) for v in accuracies(first + 0.235)))},
        seeds=tuple(range(42, 62)), recipe_config=config.identity()["recipe"], data_sha256=provenance["data"]["sha256"],
        model_provenance=provenance["model"], provenance={"versions": provenance["versions"]},
    )
    assert baseline.name == name_for(config) == CASE_BASELINE
    session.store.save(baseline)
    design = designs_for(baseline, case.policy(session.policy)).designs["accuracy"]
    assert design.max_runs >= 3 and decide(design, [first]).verdict == CONTINUE, "the test's premise: one run cannot decide"
    planned = {42, *range(62, 62 + design.max_runs - 1)}  # the gate's seeds: 42, then fresh ones after the baseline's

    alone, alone_report = gate(tmp_path / "alone-cache", tmp_path / "alone-reports")
    log = tmp_path / "training.log"
    monkeypatch.setenv("SEEDS_AHEAD_LOG", str(log))
    ahead, ahead_report = gate(tmp_path / "ahead-cache", tmp_path / "ahead-reports", "-n", "2", "--harness-seeds-ahead=2")

    # (a) The same verdict from the same runs.
    assert ahead_report["passed"] == alone_report["passed"]
    assert ahead_report["sequential"] == alone_report["sequential"]
    assert [c["verdict"] for c in ahead_report["checks"]] == [c["verdict"] for c in alone_report["checks"]]
    used = ahead_report["sequential"][0]["seeds"]
    assert used[0] == 42 and len(used) >= 2, "the gate must have needed the seeds trained ahead"
    assert ahead.ret == alone.ret

    # (c) The items, under the ids every worker collected (xdist stops on any difference).
    output = ahead.stdout.str()
    assert "created: 2/2 workers" in output
    for seed in (62, 63):
        assert re.search(rf"(PASSED|SKIPPED).*test_case\[reviews\]::prefetch-seed{seed}|"
                         rf"test_case\[reviews\]::prefetch-seed{seed}.*(PASSED|SKIPPED)", output), output

    # (b) Every seed was trained once, into one shared cache, with the gate's own config (the fault
    # included): the gate's runs and the runs ahead are one set of cache entries.
    entries = cache_entries(tmp_path / "ahead-cache")
    assert all(run["faults"] == [fault] for run in entries.values()), entries
    seeds = sorted(run["seed"] for run in entries.values())
    assert set(used) <= set(seeds) <= planned and {42, 62, 63} <= set(seeds) and len(seeds) == len(set(seeds))
    trainings = [line for line in log.read_text().splitlines() if " harness.run.training fine-tuning " in line]
    assert len(trainings) == len(seeds), "\n".join(trainings)
