"""Provenance: a stored number must say which code, libraries, machine, seed, model and data made it.

Expected values are read here from their sources (importlib.metadata, hashlib over the smoke files,
``git rev-parse``), never from the harness's own provenance helpers.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import harness

from harness.checksums import sha256_json
from harness.run.provenance import LIBRARIES, cpu_name, git_commit, library_versions, resolve_device

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_smoke_provenance_names_the_library_versions(smoke_result):
    versions = smoke_result.provenance["versions"]
    for name in ("harness", "torch", "transformers", "datasets", "evaluate", "accelerate", "tokenizers", "numpy"):
        assert versions[name] == importlib.metadata.version(name), name
    assert versions["python"]


def test_smoke_provenance_names_the_device(smoke_result):
    device = smoke_result.provenance["device"]
    assert device["device"] == "cpu"
    assert device["cpu"] and device["cpu_count"] >= 1 and device["torch_threads"] >= 1
    assert "gpu" not in device  # a CPU run must not claim a GPU, even on a machine that has one


def test_smoke_provenance_names_the_seed_precision_and_model(smoke_result, smoke_config):
    provenance = smoke_result.provenance
    assert provenance["seed"] == smoke_config.seed
    assert provenance["precision"] == smoke_config.precision
    model = provenance["model"]
    assert (model["spec"], model["kind"], model["source"]) == ("arch:bert-tiny", "arch", "bert-tiny")
    assert model["weights_sha256"] is None and model["architecture_sha256"]


def test_smoke_provenance_fingerprints_the_data_files(smoke_result, smoke_dir):
    """Two results are only comparable on the same data: the sha256 must be of the files read."""
    data = smoke_result.provenance["data"]
    expected = {name: hashlib.sha256((smoke_dir / name).read_bytes()).hexdigest() for name in ("train.tsv", "dev.tsv")}
    assert data["files"] == expected
    assert data["sha256"] == sha256_json(expected)
    assert data["source"] == f"local:{smoke_dir.resolve()}"


def test_smoke_provenance_records_the_git_commit(smoke_result):
    git = smoke_result.provenance["git"]
    assert set(git) == {"commit", "dirty", "checkout"}
    if git["commit"] is not None:
        assert re.fullmatch(r"[0-9a-f]{40}", git["commit"])
        assert isinstance(git["dirty"], bool)


def test_smoke_provenance_is_json(smoke_result):
    """It is written to result.json and baselines as it is."""
    provenance = smoke_result.provenance
    assert json.loads(json.dumps(provenance)) == provenance
    assert provenance["created"].endswith("+00:00")


def test_library_versions_cover_the_training_stack():
    versions = library_versions()
    assert set(versions) == {"python", *LIBRARIES}
    assert versions["torch"] == importlib.metadata.version("torch")
    assert versions["transformers"] == importlib.metadata.version("transformers")


def test_library_versions_record_a_missing_library_as_none(monkeypatch):
    """A missing optional library is a fact to record, not a reason to fail the run."""
    real = importlib.metadata.version

    def version(name):
        if name == "scikit-learn":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    assert library_versions()["scikit-learn"] is None


def test_cpu_name_is_a_name():
    name = cpu_name()
    assert isinstance(name, str) and name.strip() == name and name


def test_resolve_device_keeps_an_explicit_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("cuda") == "cuda"


def test_resolve_device_auto_picks_what_this_machine_has():
    import torch

    resolved = resolve_device("auto")
    if torch.cuda.is_available():
        assert resolved == "cuda"
    elif torch.backends.mps.is_available():
        assert resolved == "mps"
    else:
        assert resolved == "cpu"


def test_git_commit_is_head_in_a_checkout():
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout (or no git)")
    assert git_commit(REPO_ROOT / "harness")["commit"] == head
    assert git_commit()["commit"] == head  # by default, the checkout the package is imported from


def test_git_commit_outside_a_checkout_is_none(tmp_path, monkeypatch):
    """Running from an unpacked sdist is normal; provenance says 'unknown' rather than failing."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    (tmp_path / "harness").mkdir()
    assert git_commit(tmp_path / "harness") == {"commit": None, "dirty": None, "checkout": None}


def _git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def other_repo(tmp_path, monkeypatch):
    """A repository that is not the harness's, with a ``harness/`` package and a notes file tracked."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    repo = tmp_path / "other"
    (repo / "harness").mkdir(parents=True)
    (repo / "harness" / "code.py").write_text("x = 1\n")
    (repo / "notes.md").write_text("notes\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "init")
    return repo


def test_git_provenance_does_not_depend_on_the_working_directory(other_repo):
    """Started from inside another repository, a run still names the harness's own commit."""
    head = git_commit()["commit"]
    if head is None:
        pytest.skip("the harness under test is not imported from a git checkout")
    code = "import json; from harness.run.provenance import git_commit; print(json.dumps(git_commit()))"
    out = subprocess.run([sys.executable, "-c", code], cwd=other_repo, capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["commit"] == head


def test_a_package_nested_deeper_in_some_repository_has_no_commit(other_repo):
    """A harness installed into a virtualenv that lives inside a repository must not claim that repository's commit."""
    nested = other_repo / ".venv" / "lib" / "site-packages" / "harness"
    nested.mkdir(parents=True)
    assert git_commit(nested) == {"commit": None, "dirty": None, "checkout": None}


def test_dirty_means_the_package_sources_changed(other_repo):
    git = git_commit(other_repo / "harness")
    assert git["checkout"] == str(other_repo.resolve()) and git["dirty"] is False
    (other_repo / "notes.md").write_text("edited notes\n")
    assert git_commit(other_repo / "harness")["dirty"] is False  # a committed baseline or note is not the code
    (other_repo / "harness" / "code.py").write_text("x = 2\n")
    assert git_commit(other_repo / "harness")["dirty"] is True


def _covering_part(module: str) -> str:
    """The entry of NUMBER_SOURCES a harness module's file falls under."""
    parts = module.split(".")[1:]
    return "__init__.py" if not parts else parts[0] if len(parts) > 1 or parts[0] in ("run", "tasks") else f"{parts[0]}.py"


def test_the_source_hash_covers_everything_a_fine_tune_imports():
    """A module the run layer comes to import (directly or not) must enter the source hash, or an edit
    to it would reuse runs computed by the old code. Fails when run/ imports something not listed."""
    import grimp

    from harness.run.provenance import NUMBER_SOURCES

    graph = grimp.build_graph("harness")
    imported = {m for m in graph.find_upstream_modules("harness.run", as_package=True)} | {"harness.run", "harness"}
    missing = sorted(m for m in imported if _covering_part(m) not in NUMBER_SOURCES)
    assert not missing, f"harness.run imports {missing}, which harness_source_sha256 does not hash"
    for part in NUMBER_SOURCES:
        assert (Path(harness.__file__).parent / part).exists(), part


def test_editing_the_gate_or_the_cli_keeps_the_source_hash_and_editing_a_run_module_changes_it(tmp_path, monkeypatch):
    import shutil

    from harness.run import provenance

    copy = tmp_path / "harness"
    shutil.copytree(Path(harness.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "_PACKAGE_DIR", copy)
    before = provenance.harness_source_sha256()
    for above in ("quality/sequential_gate.py", "cli/__init__.py", "plugin.py"):
        (copy / above).write_text((copy / above).read_text() + "\n# edited\n")
    assert provenance.harness_source_sha256() == before
    (copy / "run/training.py").write_text((copy / "run/training.py").read_text() + "\n# edited\n")
    assert provenance.harness_source_sha256() != before
