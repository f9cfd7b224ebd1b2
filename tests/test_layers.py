"""The shape of the code, checked like behaviour: imports run one way through the layers named in
pyproject.toml ([tool.importlinter]), and no function is more tangled than radon's grade C."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEV = "the dev tools: pip install -e '.[dev]' (.ci/setup does)"


def test_imports_run_one_way_through_the_layers():
    pytest.importorskip("importlinter", reason=f"import-linter is not installed; {DEV}")
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint), str(REPO_ROOT / "pyproject.toml")], cwd=REPO_ROOT,
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 kept, 0 broken" in run.stdout


def test_no_function_is_above_radon_grade_c():
    radon = pytest.importorskip("radon.complexity", reason=f"radon is not installed; {DEV}")
    tangled = []
    for path in sorted((REPO_ROOT / "harness").rglob("*.py")):
        for block in radon.cc_visit(path.read_text(encoding="utf-8")):
            if radon.cc_rank(block.complexity) > "C":
                tangled.append(f"{path.relative_to(REPO_ROOT)}:{block.lineno} {block.fullname} "
                               f"grade {radon.cc_rank(block.complexity)} ({block.complexity})")
    assert not tangled, "split these into named steps:\n" + "\n".join(tangled)
