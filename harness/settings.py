"""Every environment variable the harness reads, read in one place.

Library code never looks at ``os.environ`` itself: the CLI and the pytest plugin build one
:class:`Settings` and pass what it holds down, so a test can construct any environment it likes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA_DIR_VAR = "HARNESS_DATA_DIR"
CACHE_DIR_VAR = "HARNESS_CACHE_DIR"
REPORTS_DIR_VAR = "HARNESS_REPORTS_DIR"
HISTORY_VAR = "HARNESS_HISTORY"
MLFLOW_VAR = "HARNESS_MLFLOW_TRACKING_URI"
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
    # The history store (harness.history) sessions are recorded in; None: not recorded. From the
    # environment alone it is only what $HARNESS_HISTORY says: the default (beside pyproject.toml) is
    # the Project's to decide.
    history: Path | None = None
    # An MLflow tracking URI each recorded session is also logged to (harness.history.mlflow_log);
    # None: MLflow is not used. A URI, not a path: a server (http://...) or a file store (sqlite:///...).
    mlflow_tracking_uri: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        values = environment_values(environ)
        return cls(
            data_dir=values.get("data_dir"),
            cache_dir=values.get("cache_dir", default_cache_dir()),
            reports_dir=values.get("reports_dir", Path("reports")),
            hub_offline=values["hub_offline"],
            step_summary=values.get("step_summary"),
            history=values.get("history"),
            mlflow_tracking_uri=values.get("mlflow_tracking_uri"),
        )


def environment_values(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What the environment itself sets, and nothing it does not: a :class:`harness.project.Project`
    puts ``pyproject.toml`` before the environment and the environment before the defaults, so it must
    tell an unset variable from a default. ``hub_offline`` is always there (unset is online)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {"hub_offline": (env.get("HF_HUB_OFFLINE", "").lower() in _TRUTHY)
                              or (env.get("TRANSFORMERS_OFFLINE", "").lower() in _TRUTHY)}
    for name, var in (("data_dir", DATA_DIR_VAR), ("cache_dir", CACHE_DIR_VAR), ("reports_dir", REPORTS_DIR_VAR),
                      ("step_summary", STEP_SUMMARY_VAR), ("history", HISTORY_VAR)):
        if env.get(var):
            values[name] = Path(env[var]).expanduser()
    if env.get(MLFLOW_VAR):
        values["mlflow_tracking_uri"] = env[MLFLOW_VAR]
    return values
