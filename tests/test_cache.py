"""The fine-tune cache: one training per key, a new key for anything that changes the result.

The train function is a fake (no training), but the keys are real: they fingerprint the smoke
data files and resolve ``arch:bert-tiny``, as a cached pytest session does.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from fake_runs import run_result, smoke_run_config
from harness.cache import RunCache, cache_key
from harness.provenance import git_commit, harness_source_sha256
from harness.config import RunConfig
from harness.result import PREDICTIONS_FILE, RESULT_FILE, RunResult


class CountingTrain:
    """Stands in for ``fine_tune`` and counts how often the cache had to call it."""

    def __init__(self) -> None:
        self.configs: list[RunConfig] = []

    def __call__(self, config: RunConfig) -> RunResult:
        self.configs.append(config)
        return run_result(config)

    @property
    def calls(self) -> int:
        return len(self.configs)


@pytest.fixture
def cache(tmp_path) -> RunCache:
    return RunCache(tmp_path / "cache", hub_offline=True)


@pytest.fixture
def config(smoke_dir) -> RunConfig:
    return smoke_run_config(data_dir=smoke_dir)


def test_the_same_config_trains_once(cache, config):
    """A second pytest session with nothing changed must not pay for the fine-tune again."""
    train = CountingTrain()
    first = cache.get_or_run(config, train)
    second = cache.get_or_run(config, train)
    assert train.calls == 1
    assert second.metrics == first.metrics
    np.testing.assert_array_equal(second.logits, first.logits)
    np.testing.assert_array_equal(second.labels, first.labels)
    run_time = ("git", "harness_source_sha256", "cached")
    assert {k: v for k, v in second.provenance.items() if k not in run_time} == {
        k: v for k, v in first.provenance.items() if k not in run_time
    }
    assert len(list((cache.root / "runs").iterdir())) == 1


def test_a_reused_result_reports_the_commit_checked_out_now(cache, config):
    """A cached rerun after a commit must name that commit, not the one the result was trained at."""
    cache.get_or_run(config, CountingTrain())
    directory, _ = cache.entry(config)
    stored = json.loads((directory / "result.json").read_text())
    trained_at = {"commit": "0" * 40, "dirty": True, "checkout": "/elsewhere"}
    stored["provenance"]["git"] = trained_at
    (directory / "result.json").write_text(json.dumps(stored))
    reused = cache.get_or_run(config, CountingTrain())
    assert reused.provenance["git"] == git_commit()
    assert reused.provenance["harness_source_sha256"] == harness_source_sha256()
    assert reused.provenance["cached"] == {"entry": directory.name, "trained": stored["provenance"]["created"],
                                           "trained_git": trained_at}


def test_training_happens_in_a_scratch_folder_that_is_removed(cache, config):
    train = CountingTrain()
    cache.get_or_run(config, train)
    directory, key = cache.entry(config)
    assert train.configs[0].output_dir == directory / "work"
    assert not (directory / "work").exists()
    assert json.loads((directory / "key.json").read_text()) == json.loads(json.dumps(key))


@pytest.mark.parametrize(
    "changes",
    [{"seed": 43}, {"epochs": 1.0}, {"learning_rate": 2e-3}, {"faults": ("shuffled-labels",)}, {"precision": "bf16"}],
    ids=["seed", "recipe-epochs", "recipe-learning-rate", "fault", "precision"],
)
def test_anything_that_changes_the_result_is_a_new_key(cache, config, changes):
    train = CountingTrain()
    cache.get_or_run(config, train)
    changed = RunConfig.from_recipe("smoke", data_dir=config.data_dir, device="cpu", **({"seed": 42} | changes))
    cache.get_or_run(changed, train)
    assert train.calls == 2
    assert len(list((cache.root / "runs").iterdir())) == 2


def test_where_files_go_is_not_part_of_the_key(cache, config, tmp_path):
    """Output folders differ between the CLI and pytest; the fine-tune they hold does not."""
    train = CountingTrain()
    cache.get_or_run(config, train)
    cache.get_or_run(config.replace(output_dir=tmp_path / "elsewhere"), train)
    assert train.calls == 1


def test_changed_data_content_is_a_new_key(cache, smoke_dir, tmp_path):
    """The key follows the files' bytes, not their folder name: an edited dev.tsv is new data."""
    data = tmp_path / "mrpc"
    shutil.copytree(smoke_dir, data)
    config = smoke_run_config(data_dir=data)
    train = CountingTrain()
    cache.get_or_run(config, train)
    dev = data / "dev.tsv"
    original = dev.read_bytes()
    edited = original.replace(b"the ", b"a ", 1)
    assert edited != original
    dev.write_bytes(edited)
    cache.get_or_run(config, train)
    assert train.calls == 2


@pytest.mark.parametrize(
    ("damaged", "content"),
    [(RESULT_FILE, b"{\"schema\": 1, \"metr"), (RESULT_FILE, b"[]"), (PREDICTIONS_FILE, b"not a zip"), (PREDICTIONS_FILE, None)],
    ids=["truncated-json", "wrong-shape-json", "bad-predictions", "missing-predictions"],
)
def test_a_damaged_entry_is_retrained_not_a_crash(cache, config, damaged, content):
    train = CountingTrain()
    cache.get_or_run(config, train)
    directory, _ = cache.entry(config)
    if content is None:
        (directory / damaged).unlink()
    else:
        (directory / damaged).write_bytes(content)
    result = cache.get_or_run(config, train)
    assert train.calls == 2
    assert RunResult.load(directory).metrics == result.metrics  # the entry was rewritten whole


def test_cache_key_covers_code_data_model_and_versions(config):
    key = cache_key(config, hub_offline=True)
    assert key["run"]["seed"] == 42 and key["run"]["device"] == "cpu"
    assert len(key["data_sha256"]) == 64
    assert key["model"]["spec"] == "arch:bert-tiny" and key["model"]["architecture_sha256"]
    assert "torch" in key["versions"] and "harness" not in key["versions"]
    assert key["harness_source_sha256"] == harness_source_sha256()


def test_harness_source_hash_is_stable():
    """An unstable hash would make every session a cache miss."""
    first = harness_source_sha256()
    assert first == harness_source_sha256()
    assert len(first) == 64 and set(first) <= set("0123456789abcdef")
