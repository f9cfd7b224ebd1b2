"""Atomic writes: a crash or a full disk mid-write never leaves a half-written result or baseline."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would otherwise survive the rename
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable. Until its directory is synced, a power cut can undo a rename
    while keeping a later one, and the run cache's rule that a checksum manifest lands after the
    files it vouches for would no longer hold on disk."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; it journals renames itself
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems (network, FUSE) refuse to sync a directory; the rename still happened
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, value: Any) -> Path:
    return atomic_write_text(path, json.dumps(value, indent=2, sort_keys=False, default=str) + "\n")


def append_to_step_summary(step_summary: str | Path | None, markdown: str) -> None:
    """Append a report to a CI step summary (``$GITHUB_STEP_SUMMARY``), if there is one.

    Appended, never rewritten: earlier steps own what is already there. A step summary shows no
    local images, so callers pass Markdown without them.
    """
    if step_summary is None:
        return
    with open(step_summary, "a", encoding="utf-8") as handle:
        handle.write(markdown.rstrip("\n") + "\n")
