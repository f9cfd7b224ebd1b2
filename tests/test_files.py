"""Atomic writes: a reader sees the old file or the new one, never half of one, and no debris."""

from __future__ import annotations

import json
import os

import pytest

from harness.files import atomic_write_bytes, atomic_write_json, atomic_write_text


def test_write_creates_parents_and_leaves_only_the_file(tmp_path):
    path = tmp_path / "a" / "b" / "result.bin"
    assert atomic_write_bytes(path, b"\x00\x01payload") == path
    assert path.read_bytes() == b"\x00\x01payload"
    assert os.listdir(path.parent) == ["result.bin"]


def test_overwrite_replaces_the_content(tmp_path):
    path = tmp_path / "baseline.txt"
    atomic_write_text(path, "old ✓")
    atomic_write_text(path, "new ✓")
    assert path.read_text(encoding="utf-8") == "new ✓"
    assert os.listdir(tmp_path) == ["baseline.txt"]


def test_json_round_trips_and_serialises_paths(tmp_path):
    """Results hold Paths and other non-JSON values; they are written as strings, not refused."""
    path = atomic_write_json(tmp_path / "r.json", {"b": 1, "a": [1.5, None], "where": tmp_path})
    assert json.loads(path.read_text()) == {"b": 1, "a": [1.5, None], "where": str(tmp_path)}
    assert path.read_text().endswith("\n")


def test_failed_replace_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    """The crash that matters: the new bytes are written, then the rename fails."""
    path = tmp_path / "result.json"
    path.write_text("old")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["result.json"]


def test_interrupt_mid_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    """Ctrl-C is a BaseException, not an Exception; the temp file must go then too."""
    path = tmp_path / "result.json"
    path.write_text("old")

    def interrupt(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["result.json"]
