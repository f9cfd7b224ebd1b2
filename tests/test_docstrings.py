"""Every docstring example in the package runs, so the examples in the docs cannot rot."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import harness

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(harness.__path__, prefix="harness.")
    if info.name != "harness.__main__"
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples in {name} failed (see the output above)"


def test_the_package_has_runnable_examples():
    """The test above would pass vacuously if module discovery broke."""
    attempted = sum(doctest.testmod(importlib.import_module(n), verbose=False).attempted for n in ("harness.run.devices", "harness.tasks.metrics"))
    assert attempted >= 3
