"""The project's own cases (``[tool.harness.cases.NAME]`` in pyproject.toml), each gated against its baseline.

The plugin runs this test once per declared case; a project that declares none sees it skipped.
"""

from __future__ import annotations

import pytest


@pytest.mark.quality
@pytest.mark.slow
def test_case(harness_case, quality_gate):
    quality_gate.check(harness_case)
