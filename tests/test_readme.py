"""The README's journey, run as written: its marked blocks (``<!-- journey: NAME -->`` before each)
become a user's project in a temp folder: the ``pyproject.toml`` block, the test file, the
``harness record-baseline`` command and ``pytest benchmarks``, whose output must show the lines the
README shows. Only what cannot be the README's is substituted: the user's data (invented reviews,
tests/review_project.py), the cache and reports folders, and ``--device cpu`` so the baseline's
name does not depend on the machine's GPU.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from review_project import write_reviews

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"<!-- (journey: [a-z-]+|verdict) -->\n```[a-z]*\n(.*?)\n```", re.S)
BLOCKS = {marker.removeprefix("journey: "): body for marker, body in BLOCK.findall(README)}
TEST_FILE = "benchmarks/test_harness_cases.py"


def commands(name: str) -> list[list[str]]:
    """A shell block's commands, comments dropped."""
    return [shlex.split(line, comments=True) for line in BLOCKS[name].splitlines() if line.strip() and not line.startswith("#")]


def literal(text: str) -> str:
    """``text`` as an fnmatch pattern that matches only itself (``test_case[reviews]`` holds a class)."""
    return "".join(f"[{char}]" if char in "[]*?" else char for char in text)


def test_the_readme_marks_each_step_of_the_journey():
    assert {"pyproject", "test", "record", "gate", "gate-output", "verdict"} <= set(BLOCKS)
    assert f"`{TEST_FILE}`" in README
    assert [argv[:2] for argv in commands("record")] == [["harness", "record-baseline"]]
    assert commands("gate") == [["pytest", "benchmarks"]]


def test_the_readmes_pyproject_declares_a_task_and_a_case_with_its_model(tmp_path, capsys):
    from harness.cli import main

    declared = tomllib.loads(BLOCKS["pyproject"])["tool"]["harness"]
    assert declared["cases"]["reviews"]["model"] == "minilm"  # the model is a line of its own, not a comment
    (tmp_path / "pyproject.toml").write_text(BLOCKS["pyproject"], encoding="utf-8")
    assert main(["cases", "--pyproject", str(tmp_path / "pyproject.toml"), "--device", "cpu",
                 "--baselines-dir", str(tmp_path / "baselines")]) == 0
    listed = capsys.readouterr().out
    assert "| reviews " in listed and "`harness record-baseline --case reviews`" in listed


def test_the_readmes_failing_verdict_is_a_table_the_gate_prints():
    verdict = BLOCKS["verdict"]
    assert verdict.startswith("Quality gate: mrpc--minilm-cpu--minilm--validation--cpu-fp32")
    header = [cell.strip() for cell in verdict.splitlines()[1].strip("|").split("|")]
    assert header == ["metric", "measured [95% CI]", "baseline mean ± std", "delta", "allowed band", "verdict"]
    assert "REGRESSION" in verdict and "FAILED" in verdict


def test_the_develop_commands_are_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for job in (".venv/bin/python -m pytest tests", ".venv/bin/python -m pytest benchmarks"):
        assert f"bash .ci/setup && HF_HUB_OFFLINE=1 HARNESS_DATA_DIR=../shared/data/glue/MRPC {job}\n" in README
        assert job in ci


def test_the_readmes_python_names_are_exported_and_import_harness_stays_light():
    (line,) = [line for line in README.splitlines() if "from harness import" in line]
    named = re.search(r"from harness import ([\w, ]+)", line).group(1).split(", ")
    program = ("import sys, harness\n"
               "heavy = sorted({'torch', 'transformers', 'datasets'} & set(sys.modules))\n"
               "assert not heavy, f'import harness imported {heavy}'\n"
               f"assert set({named!r}) <= set(harness.__all__)\n"
               "missing = [n for n in harness.__all__ if getattr(harness, n, None) is None]\n"
               "assert not missing, missing\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr


def test_every_relative_link_in_the_readme_and_the_docs_resolves():
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"


def test_each_measurement_states_its_date_machine_and_command():
    pages = sorted((ROOT / "docs" / "measurements").glob("[0-9]*.md"))
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert re.match(r"\d{4}-\d{2}-\d{2}-[a-z0-9-]+\.md$", page.name), page.name
        for field in ("**Date", "**Machine", "**Command"):
            assert field in text, f"{page.name} does not state its {field.strip('*').lower()}"


@pytest.mark.slow
def test_the_readmes_journey_runs_as_written(pytester: pytest.Pytester, tmp_path: Path):
    """Declare, add the test, record a 5-seed baseline, gate: five MiniLM fine-tunes on 24 invented rows."""
    project = pytester.path
    (project / "pyproject.toml").write_text(BLOCKS["pyproject"] + "\n", encoding="utf-8")
    write_reviews(project / "data")
    (project / "benchmarks").mkdir()
    (project / TEST_FILE).write_text(BLOCKS["test"] + "\n", encoding="utf-8")
    cache, reports = tmp_path / "cache", tmp_path / "reports"
    env = {**os.environ, "HARNESS_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}

    for argv in commands("record"):  # `harness ...` as the user types it, in its own process
        recording = subprocess.run([sys.executable, "-m", "harness", *argv[1:], "--device", "cpu", "--quiet"],
                                   cwd=project, env=env, capture_output=True, text=True, timeout=1800)
        assert recording.returncode == 0, recording.stdout + recording.stderr
    baseline = project / "baselines" / "reviews--reviews--minilm--validation--cpu-fp32.json"
    assert baseline.is_file() and f"`{baseline.relative_to(project).as_posix()}`" in README

    (argv,) = commands("gate")
    result = pytester.runpytest_subprocess(*argv[1:], "-p", "no:cacheprovider", f"--harness-cache-dir={cache}",
                                           "--harness-device=cpu", "--harness-no-progress", f"--harness-reports-dir={reports}")
    result.assert_outcomes(passed=1)
    shown = [line for line in BLOCKS["gate-output"].splitlines() if line != "..."]  # "..." stands for lines left out
    result.stdout.fnmatch_lines([f"*{literal(line)}*" for line in shown])
    assert (reports / "quality.md").is_file() and (reports / "quality.json").is_file()
