"""sha256 of files, the identity that results, baselines and the run cache all agree on."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_files(paths: Iterable[str | Path]) -> dict[str, str]:
    """Map each file's name to its sha256, in name order so the mapping hashes stably."""
    return {Path(p).name: sha256_file(p) for p in sorted(paths, key=lambda p: Path(p).name)}


def sha256_json(value: Any) -> str:
    """A stable hash of JSON-able data: key order and whitespace do not change it."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
