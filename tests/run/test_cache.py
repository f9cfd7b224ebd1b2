"""The fine-tune cache: one training per key, a new key for anything that changes the result,
and an entry trusted only while its files match the checksums written last.

The train function is a fake (no training), but the keys are real: they fingerprint the smoke
data files and resolve ``arch:bert-tiny``, as a cached pytest session does. Several processes and
``kill -9`` are in ``test_cache_concurrency.py``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from fake_runs import run_result, smoke_run_config
from harness.run.cache import KEY_FILE, MANIFEST_FILE, WORK_DIR, RunCache, cache_key
from harness.checksums import sha256_file
from harness.files import atomic_write_json
from harness.run.provenance import git_commit, harness_source_sha256
from harness.run.config import RunConfig
from harness.run.result import PREDICTIONS_FILE, RESULT_FILE, RunResult


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


# The key holds a hash of the harness's own source. Pinned, an editor saving a harness file while
# these tests run cannot move an entry between two look-ups of one test.
PINNED_SOURCE_SHA256 = "pinned-by-the-cache-tests"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> RunCache:
    monkeypatch.setattr("harness.run.cache.harness_source_sha256", lambda: PINNED_SOURCE_SHA256)
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
    trained_at = {"commit": "0" * 40, "dirty": True, "checkout": "/elsewhere"}

    def train_at_another_commit(c: RunConfig) -> RunResult:
        result = run_result(c)
        return dataclasses.replace(result, provenance=result.provenance | {"git": trained_at})

    trained = cache.get_or_run(config, train_at_another_commit)
    directory, _ = cache.entry(config)
    train = CountingTrain()
    reused = cache.get_or_run(config, train)
    assert train.calls == 0
    assert reused.provenance["git"] == git_commit()
    assert reused.provenance["harness_source_sha256"] == PINNED_SOURCE_SHA256  # the source checked out now
    assert reused.provenance["cached"] == {"entry": directory.name, "trained": trained.provenance["created"],
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


def test_an_entry_is_complete_with_a_manifest_of_its_files_checksums(cache, config):
    cache.get_or_run(config, CountingTrain())
    directory, _ = cache.entry(config)
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    assert manifest == {"schema": 1, "files": {name: sha256_file(directory / name)
                                               for name in (KEY_FILE, PREDICTIONS_FILE, RESULT_FILE)}}
    assert sorted(p.name for p in directory.iterdir()) == sorted([KEY_FILE, MANIFEST_FILE, PREDICTIONS_FILE, RESULT_FILE])
    assert cache.lock_path(directory).parent == cache.root / "locks"  # inside the cache root, beside the entries


def _edit_json(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _as_a_killed_writer_leaves_it(directory: Path) -> None:
    (directory / MANIFEST_FILE).unlink()
    (directory / WORK_DIR).mkdir()


DAMAGES = {
    # A file that no longer parses: the checksum catches it before the parser does.
    "truncated-json": (lambda d: (d / RESULT_FILE).write_bytes(b'{"schema": 1, "metr'), "result.json does not match its sha256"),
    "wrong-shape-json": (lambda d: (d / RESULT_FILE).write_bytes(b"[]"), "result.json does not match its sha256"),
    # A result.json edited by hand that still loads: only the checksum can tell.
    "hand-edited-json": (lambda d: _edit_json(d / RESULT_FILE, lambda r: r["metrics"].update(accuracy=0.99)),
                         "result.json does not match its sha256"),
    "truncated-predictions": (lambda d: _truncate(d / PREDICTIONS_FILE), "predictions.npz does not match its sha256"),
    "bad-predictions": (lambda d: (d / PREDICTIONS_FILE).write_bytes(b"not a zip"), "predictions.npz does not match its sha256"),
    "missing-predictions": (lambda d: (d / PREDICTIONS_FILE).unlink(), "predictions.npz is missing"),
    "missing-key": (lambda d: (d / KEY_FILE).unlink(), "key.json is missing"),
    "truncated-manifest": (lambda d: _truncate(d / MANIFEST_FILE), "manifest.json is unreadable"),
    "emptied-manifest": (lambda d: (d / MANIFEST_FILE).write_text('{"schema": 1, "files": {}}'),
                         "manifest.json does not list the checksums"),
    "manifest-naming-another-folder": (lambda d: _edit_json(d / MANIFEST_FILE, lambda m: m["files"].update({"../x": "0"})),
                                       "manifest.json names '../x'"),
    # What a trainer killed before its last write leaves: whole files, no manifest, its work folder.
    "writer-stopped-before-the-manifest": (_as_a_killed_writer_leaves_it, "stopped before finishing"),
}


@pytest.mark.parametrize("damage", DAMAGES.values(), ids=DAMAGES.keys())
def test_a_damaged_entry_is_reported_and_retrained_never_trusted(cache, config, damage, caplog):
    damage_entry, reason = damage
    train = CountingTrain()
    first = cache.get_or_run(config, train)
    directory, _ = cache.entry(config)
    damage_entry(directory)
    result = cache.get_or_run(config, train)
    assert train.calls == 2
    assert f"cached fine-tune {directory.name} is damaged (" in caplog.text
    assert reason in caplog.text and caplog.text.rstrip().endswith("; retraining")
    assert result.metrics == first.metrics
    assert RunResult.load(directory).metrics == result.metrics  # the entry was rewritten whole
    cache.get_or_run(config, train)
    assert train.calls == 2  # and is trusted again


def _stored_by_an_older_harness(cache: RunCache, config: RunConfig) -> Path:
    """An entry as the harness wrote it before manifests: result, predictions and key, no checksums."""
    directory, key = cache.entry(config)
    run_result(config).save(directory)
    atomic_write_json(directory / KEY_FILE, key)
    return directory


def test_an_entry_from_an_older_harness_is_kept_and_given_a_manifest(cache, config, caplog):
    """Upgrading the harness must not throw away fine-tunes that are still good."""
    directory = _stored_by_an_older_harness(cache, config)
    train = CountingTrain()
    with caplog.at_level(logging.INFO, logger="harness.run.cache"):
        reused = cache.get_or_run(config, train)
    assert train.calls == 0
    assert f"cached fine-tune {directory.name} was stored by an older harness without checksums" in caplog.text
    np.testing.assert_array_equal(reused.logits, run_result(config).logits)
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    assert manifest["files"] == {name: sha256_file(directory / name) for name in (KEY_FILE, PREDICTIONS_FILE, RESULT_FILE)}
    _edit_json(directory / RESULT_FILE, lambda r: r["metrics"].update(accuracy=0.99))
    cache.get_or_run(config, train)
    assert train.calls == 1  # from now on its checksums are checked


@pytest.mark.parametrize(
    ("damage_entry", "reason"),
    [
        (lambda d: _truncate(d / PREDICTIONS_FILE), "predictions.npz: unreadable"),
        (lambda d: (d / RESULT_FILE).write_text("[]"), "result.json: schema None"),
        (lambda d: (d / KEY_FILE).unlink(), "key.json is missing or unreadable"),
        (lambda d: _edit_json(d / KEY_FILE, lambda k: k.update(data_sha256="0" * 64)), "key.json holds another run's key"),
    ],
    ids=["truncated-predictions", "unloadable-json", "no-key", "another-key"],
)
def test_an_older_entry_that_does_not_load_cleanly_is_retrained(cache, config, damage_entry, reason, caplog):
    directory = _stored_by_an_older_harness(cache, config)
    damage_entry(directory)
    train = CountingTrain()
    cache.get_or_run(config, train)
    assert train.calls == 1
    assert f"cached fine-tune {directory.name} is damaged (" in caplog.text and reason in caplog.text
    assert (directory / MANIFEST_FILE).is_file() and not (directory / WORK_DIR).exists()


def test_cache_key_covers_code_data_model_and_versions(config):
    key = cache_key(config, hub_offline=True)
    assert key["config"]["seed"] == 42 and key["device"] == "cpu" and key["world_size"] == 1
    assert len(key["data_sha256"]) == 64 and len(key["task_spec_sha256"]) == 64
    assert key["model"]["spec"] == "arch:bert-tiny" and key["model"]["architecture_sha256"]
    assert "torch" in key["versions"] and "harness" not in key["versions"]
    assert key["harness_source_sha256"] == harness_source_sha256()


@pytest.mark.parametrize("library", ["pandas", "pyarrow", "safetensors", "scipy"])
def test_cache_key_holds_the_versions_that_decide_how_files_parse(config, library):
    """Issue 20 (e): datasets reads a user's CSV, JSON or Parquet through pandas and pyarrow, weights
    load through safetensors, scipy computes correlations: an upgrade of any of them retrains."""
    import importlib.metadata

    key = cache_key(config, hub_offline=True)
    assert key["versions"][library] == importlib.metadata.version(library)


def test_harness_source_hash_is_stable():
    """An unstable hash would make every session a cache miss."""
    first = harness_source_sha256()
    assert first == harness_source_sha256()
    assert len(first) == 64 and set(first) <= set("0123456789abcdef")
