"""Settings: the one place the environment is read, so each variable's meaning is pinned here."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.settings import Settings, default_cache_dir


def test_empty_environment_gives_the_defaults():
    settings = Settings.from_environ({})
    assert settings.data_dir is None and settings.step_summary is None
    assert settings.cache_dir == default_cache_dir()
    assert settings.reports_dir == Path("reports")
    assert settings.hub_offline is False


def test_variables_are_read_and_expanded(monkeypatch):
    monkeypatch.setenv("HOME", "/home/someone")
    settings = Settings.from_environ({
        "HARNESS_DATA_DIR": "~/mrpc",
        "HARNESS_CACHE_DIR": "/cache",
        "HARNESS_REPORTS_DIR": "out/reports",
        "GITHUB_STEP_SUMMARY": "/tmp/summary.md",
    })
    assert settings.data_dir == Path("/home/someone/mrpc")
    assert settings.cache_dir == Path("/cache")
    assert settings.reports_dir == Path("out/reports")
    assert settings.step_summary == Path("/tmp/summary.md")


def test_empty_values_count_as_unset():
    """CI templates often export VAR= ; that must not mean 'the current directory'."""
    settings = Settings.from_environ({"HARNESS_DATA_DIR": "", "HARNESS_CACHE_DIR": "", "GITHUB_STEP_SUMMARY": ""})
    assert settings.data_dir is None and settings.step_summary is None
    assert settings.cache_dir == default_cache_dir()


@pytest.mark.parametrize(
    ("environ", "offline"),
    [
        ({"HF_HUB_OFFLINE": "1"}, True),
        ({"HF_HUB_OFFLINE": "TRUE"}, True),
        ({"TRANSFORMERS_OFFLINE": "yes"}, True),
        ({"HF_HUB_OFFLINE": "0"}, False),
        ({"HF_HUB_OFFLINE": ""}, False),
        ({}, False),
    ],
)
def test_hub_offline_follows_the_hugging_face_variables(environ, offline):
    assert Settings.from_environ(environ).hub_offline is offline


def test_the_suite_caches_fine_tunes_inside_its_own_temp_dir(harness, tmp_path_factory):
    """`pytest tests` must not leave runs in the user's ~/.cache/harness."""
    assert harness.settings.cache_dir.is_relative_to(tmp_path_factory.getbasetemp())
