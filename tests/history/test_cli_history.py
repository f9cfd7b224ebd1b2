"""``harness history``: the trend of every series in a store, as Markdown and a PNG, with a planted
slowdown found at the commit where it began; an empty or missing store says so."""

from __future__ import annotations

import re

import pytest

from fake_history import CASE, CHECK, GPU_BOX, LAPTOP, fake_quality, fake_session, fake_throughput
from fake_runs import no_settings
from harness.cli import main
from harness.history.store import HistoryStore
from harness.settings import Settings

SESSIONS = 12
STEP_AT = 7  # the first session with 20% fewer samples/s on the laptop
NOISE = (1.0, 1.012, 0.991, 1.004, 0.987, 1.009, 0.996, 1.011, 0.993, 1.002, 0.99, 1.007)  # about 1% CV


def laptop_speed(index: int) -> float:
    return 100.0 * NOISE[index] * (0.8 if index >= STEP_AT else 1.0)


@pytest.fixture
def store_path(tmp_path):
    """Twelve commits on the laptop (the step at c7) and on the GPU box (steady), a quality check each."""
    path = tmp_path / "history.sqlite"
    store = HistoryStore(path)
    for index in range(SESSIONS):
        quality = (fake_quality(accuracy=0.85 - 0.001 * index),)
        store.append(fake_session(2 * index, commit=f"c{index}", quality=quality,
                                  throughput=(fake_throughput(samples_per_s=laptop_speed(index),
                                                              faults=("slow-steps-25",) if index >= STEP_AT else ()),)))
        store.append(fake_session(2 * index + 1, commit=f"c{index}", machine=GPU_BOX, quality=(),
                                  throughput=(fake_throughput(samples_per_s=900.0 * NOISE[-1 - index]),)))
    return path


def history(tmp_path, *args: str, settings: Settings | None = None) -> int:
    pyproject = no_settings(tmp_path / "pyproject.toml")
    return main(["history", "--pyproject", str(pyproject), "--output-dir", str(tmp_path / "out"), *args],
                settings=settings or Settings(hub_offline=True))


def section(text: str, title: str) -> str:
    return text.split(f"### {title}", 1)[1].split("\n### ", 1)[0]


def commit_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"\| c\d+ ", line)]


def test_history_prints_the_trend_writes_markdown_and_png_and_finds_the_planted_slowdown(tmp_path, store_path, capsys):
    assert history(tmp_path, "--history", str(store_path)) == 0
    out = capsys.readouterr().out
    markdown = (tmp_path / "out" / "history.md").read_text(encoding="utf-8")
    assert markdown in out
    assert (tmp_path / "out" / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![Quality and throughput per commit](history.png)" in markdown

    laptop = section(markdown, f"{CASE} on {LAPTOP.key}")
    marked = [line.split("|")[1].strip() for line in laptop.splitlines() if "from here" in line]
    assert marked == [f"c{STEP_AT}"]  # the first commit of the slowdown, and only it
    planted = [line.split("|")[1].strip() for line in commit_rows(laptop) if "| slow-steps-25 |" in line]
    assert planted == [f"c{index}" for index in range(STEP_AT, SESSIONS)]  # a planted step reads as planted
    assert re.search(r"slower (19|20)\.\d% from here", laptop)
    assert re.search(rf"- slower by (19|20)\.\d% \(95% interval .*\) from run {STEP_AT + 1} \(c{STEP_AT}\)", laptop)
    assert "no change point in 12 run(s)" in section(markdown, f"{CASE} on {GPU_BOX.key}")  # a series per machine

    quality = section(markdown, CHECK)
    assert "accuracy (baseline 0.8400)" in quality and "Baseline `mrpc-minilm` (baseline-a)" in quality
    rows = commit_rows(quality)
    assert len(rows) == SESSIONS and "| no regression |" in rows[0] and "(+0.0150)" in rows[0]


def test_last_keeps_each_series_last_commits(tmp_path, store_path, capsys):
    assert history(tmp_path, "--history", str(store_path), "--last", "3") == 0
    laptop = section(capsys.readouterr().out, f"{CASE} on {LAPTOP.key}")
    assert [line.split("|")[1].strip() for line in commit_rows(laptop)] == ["c9", "c10", "c11"]
    assert "no change point in 3 run(s) (too few to detect one)" in laptop


def test_the_trend_is_appended_to_the_ci_step_summary_without_the_chart(tmp_path, store_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    assert history(tmp_path, "--history", str(store_path), settings=Settings(hub_offline=True, step_summary=summary)) == 0
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n# History") and "history.png" not in text and f"c{STEP_AT}" in text


def test_the_environment_names_the_store(tmp_path, store_path, capsys):
    assert history(tmp_path, settings=Settings(hub_offline=True, history=store_path)) == 0
    assert "# History" in capsys.readouterr().out


def test_a_missing_store_says_so_and_is_not_created(tmp_path, capsys):
    missing = tmp_path / "none.sqlite"
    assert history(tmp_path, "--history", str(missing)) == 2
    assert f"no history store at {missing}" in capsys.readouterr().err
    assert not missing.exists() and not (tmp_path / "out").exists()


def test_an_empty_store_says_so(tmp_path, capsys):
    HistoryStore(tmp_path / "empty.sqlite")
    assert history(tmp_path, "--history", str(tmp_path / "empty.sqlite")) == 2
    assert "holds no quality check or throughput case yet" in capsys.readouterr().err


def test_a_file_that_is_not_a_store_is_an_error_naming_it(tmp_path, capsys):
    (tmp_path / "notes.sqlite").write_bytes(b"these are notes, not a database" * 10)
    assert history(tmp_path, "--history", str(tmp_path / "notes.sqlite")) == 2
    err = capsys.readouterr().err
    assert f"harness: error: {tmp_path / 'notes.sqlite'} is not a readable harness history store" in err


def test_a_retired_baseline_or_machine_leaves_the_trend(tmp_path, store_path, capsys):
    """A series with no point among the last N commits (a re-recorded baseline, a runner gone from CI)
    draws no panel and no table: the trend is the last commits', not everything ever recorded."""
    store = HistoryStore(store_path)
    store.append(fake_session(100, commit="c12", quality=(fake_quality(identity="baseline-b"),),
                              throughput=(fake_throughput(samples_per_s=80.0),)))
    assert history(tmp_path, "--history", str(store_path), "--last", "1") == 0
    out = capsys.readouterr().out
    assert "baseline-b" in out and "baseline-a" not in out
    assert f"{CASE} on {LAPTOP.key}" in out and GPU_BOX.key not in out
