"""Fixtures shared by the example-based tests: where the data lives, and one smoke fine-tune.

The smoke fine-tune is session-scoped because every test that inspects a result (shapes, metrics,
provenance, storage) can share one run: it is the pipeline end to end, and it costs seconds.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import pytest

# pytester's in-process runs forget the modules first imported inside them, and matplotlib does not
# survive a second import (its classes stop matching their own isinstance checks). Importing it
# here, before any inner run, keeps one copy for the whole session.
matplotlib.use("Agg")
import matplotlib.pyplot  # noqa: E402,F401

from harness.run.config import RunConfig
from harness.run.result import RunResult
from harness.session import HarnessSession
from harness.settings import CACHE_DIR_VAR, HISTORY_VAR

REPO_ROOT = Path(__file__).resolve().parent.parent
SMOKE_DIR = Path(__file__).resolve().parent / "data" / "mrpc-smoke"
# The checkout's neighbour, as in the README; --harness-data-dir or HARNESS_DATA_DIR point elsewhere.
DEFAULT_MRPC_DIR = REPO_ROOT.parent / "shared" / "data" / "glue" / "MRPC"


# Variables that would send a child process's Hugging Face caches somewhere other than HF_HOME.
HF_CACHE_OVERRIDES = (
    "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE", "HF_DATASETS_CACHE",
    "HF_MODULES_CACHE", "HF_METRICS_CACHE", "HF_EVALUATE_CACHE",
)


@pytest.fixture(scope="session", autouse=True)
def cache_in_a_temp_dir(harness: HarnessSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests write only inside their own temp dirs: the session's fine-tune cache (by default the
    user's ~/.cache/harness, where a second run of the suite would reuse instead of train) moves
    into pytest's temp folder for the suite.

    So do the caches of everything the suite starts: child processes (the CLI, pytester's
    subprocess runs, the cache's kill tests) and in-process pytester runs read HARNESS_CACHE_DIR and
    HF_HOME. The history store each session that gates or benchmarks records into (by default
    .harness/history.sqlite in the checkout) moves too, through HARNESS_HISTORY: a test's verdicts
    in a user's history would read as a commit's. ``evaluate`` also writes under HF_HOME (a copy of the metric script, lock files beside
    its metric cache); it fixes its paths when first imported, so one imported already is pointed
    here too. Datasets and the Hub client, imported with the plugin, only read there offline.
    """
    cache_dir = tmp_path_factory.mktemp("harness-cache")
    hf_home = tmp_path_factory.mktemp("hf-home")
    history = tmp_path_factory.mktemp("history") / "history.sqlite"
    harness.project = dataclasses.replace(harness.project, settings=dataclasses.replace(
        harness.settings, cache_dir=cache_dir, history=history if harness.settings.history is not None else None))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_DIR_VAR, str(cache_dir))
        patch.setenv(HISTORY_VAR, str(history))
        patch.setenv("HF_HOME", str(hf_home))
        for name in HF_CACHE_OVERRIDES:
            patch.delenv(name, raising=False)
        if "evaluate.config" in sys.modules:
            evaluate_config = sys.modules["evaluate.config"]
            patch.setattr(evaluate_config, "HF_MODULES_CACHE", hf_home / "modules")
            patch.setattr(evaluate_config, "HF_METRICS_CACHE", hf_home / "metrics")
        yield cache_dir


@pytest.fixture(scope="session")
def smoke_dir() -> Path:
    """The 24/8-pair MRPC-format smoke data, written for these tests (BOM, CRLF, stray quotes)."""
    return SMOKE_DIR


@pytest.fixture(scope="session")
def mrpc_dir(harness: HarnessSession) -> Path:
    """The real GLUE MRPC folder; tests that need it skip, saying where it was looked for."""
    directory = harness.settings.data_dir or DEFAULT_MRPC_DIR
    if not (directory / "train.tsv").is_file() or not (directory / "dev.tsv").is_file():
        pytest.skip(f"real GLUE MRPC not found at {directory}; set HARNESS_DATA_DIR to a folder holding train.tsv and dev.tsv")
    return directory


@pytest.fixture(scope="session")
def smoke_config(tmp_path_factory: pytest.TempPathFactory) -> RunConfig:
    return RunConfig.from_recipe(
        "smoke", data_dir=SMOKE_DIR, output_dir=tmp_path_factory.mktemp("smoke-runs"), device="cpu"
    )


@pytest.fixture(scope="session")
def smoke_result(smoke_config: RunConfig) -> RunResult:
    """One smoke fine-tune (tiny random BERT, smoke data, CPU, offline) shared by the session."""
    from harness.run.training import fine_tune

    return fine_tune(smoke_config, hub_offline=True, show_progress=False)


# --- tiers ----------------------------------------------------------------------------------------
# `pytest tests` is the fast tier: every module, on the smoke model, in minutes. Tests marked `slow`
# fine-tune the real MiniLM on real MRPC (minutes each on two cores), or are the costliest smoke-tier
# end-to-ends (xdist, multi-node DDP) of paths a fast test also takes; they run when asked for by
# marker (`pytest tests -m slow`, which .ci/run does after the fast tier) or by node id.
SLOW_TIER = "pytest tests -m slow"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.option.markexpr or any("::" in arg for arg in config.args):
        return  # a marker expression or a test picked by id chooses for itself
    slow = [item for item in items if item.get_closest_marker("slow") is not None]
    if slow:
        items[:] = [item for item in items if item.get_closest_marker("slow") is None]
        config.hook.pytest_deselected(items=slow)
        config.stash[_SLOW_DESELECTED] = len(slow)


_SLOW_DESELECTED = pytest.StashKey[int]()


def pytest_report_header(config: pytest.Config) -> str | None:
    return f"slow tier: real-model fine-tunes run with `{SLOW_TIER}`"


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    deselected = config.stash.get(_SLOW_DESELECTED, 0)
    if deselected:
        terminalreporter.write_line(f"slow tier: {deselected} test(s) not run here; run them with `{SLOW_TIER}`")
