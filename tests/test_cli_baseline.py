"""``harness record-baseline``: the way to record a baseline outside pytest.

It reads fine-tunes through the shared ``smoke_cache``, so the seeds it records are not retrained.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.settings import Settings

pytest_plugins = ["smoke_cache"]

BASELINE_NAME = "mrpc--smoke--arch-bert-tiny--validation--cpu"


def record(smoke_dir: Path, baselines: Path, cache: Path) -> int:
    argv = [
        "record-baseline", "--recipe", "smoke", "--seeds", "2", "--data-dir", str(smoke_dir),
        "--device", "cpu", "--baselines-dir", str(baselines), "--quiet",
    ]  # fmt: skip
    return main(argv, settings=Settings(cache_dir=cache, hub_offline=True))


def test_record_baseline_writes_the_file_and_prints_the_diff(smoke_cache, smoke_dir, tmp_path, capsys):
    baselines = tmp_path / "baselines"
    assert record(smoke_dir, baselines, smoke_cache) == 0
    out = capsys.readouterr().out
    path = baselines / f"{BASELINE_NAME}.json"
    data = json.loads(path.read_text())
    assert data["kind"] == "measured" and data["seeds"] == [42, 43] and data["recipe"] == "smoke"
    assert "| metric" in out and "old baseline" in out and "new baseline" in out
    assert f"wrote {path}" in out


def test_re_recording_shows_the_old_values(smoke_cache, smoke_dir, tmp_path, capsys):
    """The diff against the committed file is what a reviewer reads before accepting a new baseline."""
    baselines = tmp_path / "baselines"
    record(smoke_dir, baselines, smoke_cache)
    capsys.readouterr()
    assert record(smoke_dir, baselines, smoke_cache) == 0
    accuracy_row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| accuracy"))
    cells = [cell.strip() for cell in accuracy_row.strip("|").split("|")]
    assert cells[1] == cells[2] != "-"  # old baseline == new baseline, from the same cached fine-tunes
    assert cells[3] == "+0.0000"


def test_a_corrupt_existing_baseline_is_a_clear_error(smoke_cache, smoke_dir, tmp_path, capsys):
    baselines = tmp_path / "baselines"
    baselines.mkdir()
    path = baselines / f"{BASELINE_NAME}.json"
    path.write_text("{not json")
    assert record(smoke_dir, baselines, smoke_cache) == 2
    err = capsys.readouterr().err
    assert f"harness: error: {path}: not valid JSON" in err


@pytest.mark.parametrize(("seeds", "message"), [("0", "must be >= 1"), ("1", "a baseline needs at least 2 seeds")])
def test_too_few_seeds_is_a_usage_error_before_any_training(seeds, message, capsys):
    """One seed gives no spread; finding that out after a MiniLM fine-tune would cost minutes."""
    with pytest.raises(SystemExit) as exit_info:
        main(["record-baseline", "--recipe", "smoke", "--seeds", seeds], settings=Settings(hub_offline=True))
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
