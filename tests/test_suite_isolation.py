"""`pytest tests` writes nothing into the user's caches: ~/.cache/harness holds their real
fine-tunes (a test writing there would make their next session reuse a test's run),
~/.cache/huggingface their Hugging Face files, and .harness/history.sqlite the checkout's history. conftest.py's ``cache_in_a_temp_dir`` moves both into
pytest's temp folder, for this process and every process the suite starts; these tests fail if
any route a test could take there still leads home.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.settings import Settings

# Everything that decides where the harness and the Hugging Face libraries write, as a child sees it.
CHILD = """
import json
import datasets.config
import evaluate.config
import huggingface_hub.constants
from harness.settings import Settings

print(json.dumps({
    "harness cache (Settings.from_environ)": str(Settings.from_environ().cache_dir),
    "history store (Settings.from_environ)": str(Settings.from_environ().history),
    "evaluate modules": str(evaluate.config.HF_MODULES_CACHE),
    "evaluate metrics": str(evaluate.config.HF_METRICS_CACHE),
    "datasets cache": str(datasets.config.HF_DATASETS_CACHE),
    "hub cache": str(huggingface_hub.constants.HF_HUB_CACHE),
}))
"""


def outside(paths: dict[str, str | Path], base: Path) -> dict[str, str]:
    base = base.resolve()
    return {what: str(path) for what, path in paths.items() if not Path(path).expanduser().resolve().is_relative_to(base)}


def test_this_process_caches_inside_the_suites_temp_dir(harness, tmp_path_factory):
    """In-process writers: the session's fine-tunes, a Settings read from the environment (the CLI
    and in-process pytester runs build one), and evaluate's copy of the metric and its lock files."""
    import evaluate.config

    paths = {
        "session cache": harness.settings.cache_dir,
        "harness cache (Settings.from_environ)": Settings.from_environ().cache_dir,
        "session history store": harness.settings.history or tmp_path_factory.getbasetemp(),  # None: not recorded
        "history store (Settings.from_environ)": Settings.from_environ().history,
        "evaluate modules": evaluate.config.HF_MODULES_CACHE,
        "evaluate metrics": evaluate.config.HF_METRICS_CACHE,
    }
    assert outside(paths, tmp_path_factory.getbasetemp()) == {}


def test_child_processes_cache_inside_the_suites_temp_dir(tmp_path_factory, tmp_path):
    """What the CLI, the cache's kill tests and pytester's subprocess runs inherit."""
    completed = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    paths = json.loads(completed.stdout.splitlines()[-1])
    assert outside(paths, tmp_path_factory.getbasetemp()) == {}
