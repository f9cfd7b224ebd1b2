"""Every environment variable the harness reads, read in one place.

Library code never looks at ``os.environ`` itself: the CLI and the pytest plugin build one
:class:`Settings` and pass what it holds down, so a test can construct any environment it likes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_VAR = "HARNESS_DATA_DIR"
CACHE_DIR_VAR = "HARNESS_CACHE_DIR"
REPORTS_DIR_VAR = "HARNESS_REPORTS_DIR"
STEP_SUMMARY_VAR = "GITHUB_STEP_SUMMARY"

_TRUTHY = {"1", "true", "yes", "on"}


def default_cache_dir() -> Path:
    """Where cached fine-tunes live unless told otherwise; shared by every checkout of a user."""
    return Path(os.path.expanduser("~/.cache/harness"))


@dataclass(frozen=True)
class Settings:
    """What the environment says about where things are and whether the Hub can be reached."""

    data_dir: Path | None = None
    cache_dir: Path = Path(".harness-cache")
    reports_dir: Path = Path("reports")
    hub_offline: bool = False
    step_summary: Path | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = env.get(DATA_DIR_VAR) or None
        summary = env.get(STEP_SUMMARY_VAR) or None
        return cls(
            data_dir=Path(data_dir).expanduser() if data_dir else None,
            cache_dir=Path(env.get(CACHE_DIR_VAR) or default_cache_dir()).expanduser(),
            reports_dir=Path(env.get(REPORTS_DIR_VAR) or "reports").expanduser(),
            hub_offline=(env.get("HF_HUB_OFFLINE", "").lower() in _TRUTHY)
            or (env.get("TRANSFORMERS_OFFLINE", "").lower() in _TRUTHY),
            step_summary=Path(summary) if summary else None,
        )
