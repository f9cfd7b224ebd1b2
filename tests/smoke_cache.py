"""A pytest plugin with one session fixture: a run cache already holding the smoke recipe's
fine-tunes for seeds 42 and 43 (``--harness-baseline-seeds 2`` from seed 42).

The plugin tests pass it as ``--harness-cache-dir`` and the CLI tests as the settings' cache, so
the whole suite trains the smoke model twice, not once per pytester run. Test modules load it
with ``pytest_plugins = ["smoke_cache"]``; a plugin is registered once however many modules ask,
so the fixture really is shared.

Training here, in the outer process, also imports torch and transformers before any in-process
pytester run: pytester restores ``sys.modules`` after each run, and torch cannot be imported twice.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.run.cache import RunCache
from harness.run.config import RunConfig
from harness.run.training import fine_tune

SMOKE_SEEDS = (42, 43)


@pytest.fixture(scope="session")
def smoke_cache(tmp_path_factory: pytest.TempPathFactory, smoke_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("smoke-cache")
    cache = RunCache(root, hub_offline=True)
    for seed in SMOKE_SEEDS:
        config = RunConfig.from_recipe("smoke", data_dir=smoke_dir, device="cpu", seed=seed)
        cache.get_or_run(config, lambda c: fine_tune(c, hub_offline=True, show_progress=False))
    return root
