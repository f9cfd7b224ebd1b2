"""Any task from declaration to a gate verdict, on the smoke tier: a three-class task, a regression task
and a user's CSV task each fine-tune, record a two-seed baseline and get a verdict, through the library
and through the ``harness`` command.

Every file is written here, in each task's own format (GLUE's TSV layouts from
``tests.tasks.glue_formats``, a CSV with its own column names), into pytest's temp folders; every
text is invented.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.run.config import ConfigError, RunConfig
from harness.project_config import read_gate_policy, read_tasks
from harness.quality.gate import REPRODUCED, GatePolicy
from harness.project import Project
from harness.session import HarnessSession
from harness.settings import Settings
from harness.tasks import builtin_tasks
from tests.tasks.glue_formats import WRITERS

WORDS = ("river", "market", "winter", "engine", "garden", "letter", "signal", "harbour", "orchard", "lantern")
POLICY = GatePolicy(bootstrap_samples=50)


def sentence(n: int, salt: int) -> str:
    """An invented sentence, different for every (n, salt)."""
    return f"the {WORDS[n % 10]} near the {WORDS[(n * 3 + salt) % 10]} was seen on day {n + 7 * salt}"


def glue_rows(task: str, counts: dict[str, int], labels: tuple[str, ...]) -> dict[str, list]:
    width = len(builtin_tasks().get(task).text_columns)
    return {
        split: [(tuple(sentence(n, salt + i) for i in range(width)), labels[n % len(labels)]) for n in range(count)]
        for salt, (split, count) in enumerate(counts.items())
    }


@pytest.fixture
def session(tmp_path: Path) -> HarnessSession:
    """A session that caches and records only under this test's temp folder, offline, on the CPU."""
    settings = Settings(hub_offline=True, cache_dir=tmp_path / "cache", reports_dir=tmp_path / "reports")
    return HarnessSession(Project.of(settings, tmp_path / "baselines", device="cpu", policy=POLICY),
                          show_progress=False, baseline_seeds=2)


def declaration_to_verdict(session: HarnessSession, config: RunConfig):
    """Record the config's two-seed baseline, then gate the config against it: the user's two steps."""
    from harness.quality.regression import name_for, record_baseline

    baseline = record_baseline(config, session.fine_tune, seeds=2)
    session.store.save(baseline)
    assert session.store.path(name_for(config)).is_file()
    return baseline, session.check_quality(config)


def test_a_three_class_task_goes_from_its_glue_files_to_a_verdict(session, tmp_path):
    labels = ("entailment", "neutral", "contradiction")
    folder = WRITERS["mnli"].write_folder(
        tmp_path / "MNLI", glue_rows("mnli", {"train": 24, "validation_matched": 9, "validation_mismatched": 6}, labels)
    )
    config = session.config("smoke", task="mnli", data_dir=folder)
    baseline, outcome = declaration_to_verdict(session, config)

    result = outcome.result
    assert result.logits.shape == (9, 3)  # validation_matched, the first evaluation split
    assert set(result.metrics) == {"accuracy", "loss"}
    np.testing.assert_array_equal(result.labels, [0, 1, 2] * 3)
    assert baseline.name == "mnli--smoke--arch-bert-tiny--validation_matched--cpu-fp32"
    assert set(baseline.metrics) == {"accuracy", "loss"} and baseline.seeds == (42, 43)
    assert [(c.metric, c.verdict) for c in outcome.report.checks] == [("accuracy", REPRODUCED)]
    assert outcome.passed


def test_a_regression_task_goes_from_its_glue_files_to_a_verdict(session, tmp_path):
    scores = ("0.000", "1.250", "2.500", "3.800", "5.000", "4.200")
    folder = WRITERS["stsb"].write_folder(tmp_path / "STS-B", glue_rows("stsb", {"train": 24, "validation": 8}, scores))
    config = session.config("smoke", task="stsb", data_dir=folder)
    baseline, outcome = declaration_to_verdict(session, config)

    result = outcome.result
    assert result.logits.shape == (8, 1) and result.labels.dtype == np.float32
    np.testing.assert_allclose(result.labels, [float(scores[n % 6]) for n in range(8)], rtol=1e-6)
    assert set(result.metrics) == {"pearson", "spearmanr", "loss"}
    assert result.metrics["loss"] == pytest.approx(float(np.mean((result.logits[:, 0] - result.labels) ** 2)), rel=1e-5)
    assert json.loads(session.store.path(baseline.name).read_text())["metrics"]["pearson"]["better"] == "higher"
    assert [(c.metric, c.verdict) for c in outcome.report.checks] == [("pearson", REPRODUCED), ("spearmanr", REPRODUCED)]
    assert outcome.passed


def write_reviews(folder: Path) -> dict[str, Path]:
    """A user's sentiment data as they keep it: their own column names, labels by name, quotes and commas."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for split, count, salt in (("train", 24, 0), ("validation", 8, 5)):
        path = files[split] = folder / f"{split}.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "review", "verdict"])
            for n in range(count):
                writer.writerow([f"r{n}", f'"{sentence(n, salt)}", she wrote, day {n}', ("bad", "good")[n % 2]])
    return files


PYPROJECT = """
[tool.harness.tasks.reviews]
text_columns = ["text"]
label_names = ["bad", "good"]
metrics = ["accuracy", "f1"]
description = "Is a product review good or bad?"

[tool.harness.gate]
bootstrap_samples = 50
"""


def test_a_users_csv_task_goes_from_declaration_to_a_verdict_with_the_commands(tmp_path, capsys):
    """The README's steps: declare the task in pyproject.toml, record with `harness record-baseline`, gate."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(PYPROJECT.replace("bootstrap_samples = 50\n", ""), encoding="utf-8")
    files = write_reviews(tmp_path / "data")
    settings = Settings(hub_offline=True, cache_dir=tmp_path / "cache")
    data_files = ",".join(f"{split}={path}" for split, path in files.items())
    code = main(["record-baseline", "--recipe", "smoke", "--task", "reviews", "--pyproject", str(pyproject),
                 "--data-files", data_files, "--columns", "text=review,label=verdict", "--seeds", "2", "--device", "cpu",
                 "--baselines-dir", str(tmp_path / "baselines"), "--quiet"], settings=settings)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    written = tmp_path / "baselines" / "reviews--smoke--arch-bert-tiny--validation--cpu-fp32.json"
    assert f"wrote {written}" in captured.out
    recorded = json.loads(written.read_text())
    assert recorded["seeds"] == [42, 43] and set(recorded["metrics"]) == {"accuracy", "f1", "loss"}
    assert recorded["provenance"]["data"]["columns"] == {"text": "review", "label": "verdict"}

    session = HarnessSession(Project.of(settings, tmp_path / "baselines", device="cpu", tasks=read_tasks(pyproject),
                                        policy=read_gate_policy(pyproject, bootstrap_samples=50)), show_progress=False)
    config = session.config("smoke", task="reviews", data_files=files, columns={"text": "review", "label": "verdict"})
    outcome = session.check_quality(config)
    assert [(c.metric, c.verdict) for c in outcome.report.checks] == [("accuracy", REPRODUCED), ("f1", REPRODUCED)]
    assert outcome.passed
    assert outcome.result.logits.shape == (8, 2)


def test_a_users_task_without_a_baseline_is_told_the_command_that_records_it(session, tmp_path):
    files = write_reviews(tmp_path / "data")
    session.project = dataclasses.replace(session.project, tasks=read_tasks(_write(tmp_path / "pyproject.toml", PYPROJECT)))
    config = session.config("smoke", task="reviews", data_files=files, columns={"text": "review", "label": "verdict"})
    outcome = session.check_quality(config)
    assert not outcome.passed
    expected = (f"harness record-baseline --recipe smoke --task reviews --data-files train={files['train']},"
                f"validation={files['validation']} --columns text=review,label=verdict --seeds 2")
    assert expected in outcome.message


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_gate_naming_a_metric_the_task_lacks_fails_before_training(session, tmp_path):
    session.project = dataclasses.replace(session.project, policy=GatePolicy(metrics=("accuracy", "f1"), bootstrap_samples=50))
    config = session.config("smoke", task="mnli", data_dir=tmp_path / "never-read")
    with pytest.raises(ConfigError) as error:
        session.check_quality(config)
    assert "which task 'mnli' does not report" in str(error.value)
    assert not (tmp_path / "cache").exists()


def test_harness_run_takes_a_glue_task_and_its_folder(tmp_path, capsys):
    folder = WRITERS["sst2"].write_folder(tmp_path / "SST-2", glue_rows("sst2", {"train": 12, "validation": 6}, ("0", "1")))
    code = main(["run", "--recipe", "smoke", "--task", "sst2", "--data-dir", str(folder), "--device", "cpu", "--quiet",
                 "--output-dir", str(tmp_path / "runs")], settings=Settings(hub_offline=True))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "| SST2 validation" in captured.out and "| accuracy" in captured.out and "| f1 " not in captured.out
    assert "(24 texts trained, 2 epochs)" in captured.out
    assert "fine-tuning arch:bert-tiny on sst2" in captured.err
    assert len(list((tmp_path / "runs").glob("sst2-smoke-arch-bert-tiny-fp32-seed42-*"))) == 1


@pytest.mark.parametrize(
    ("argv", "phrase"),
    [
        (["--task", "sst3"], "unknown task 'sst3'; did you mean 'sst2'?"),
        (["--task", "mnli", "--data-files", "train=t.csv,validation=v.csv"], "lacks ['validation_matched', 'validation_mismatched']"),
        (["--columns", "label=stars"], "give data_files too"),
    ],
)
def test_harness_run_refuses_an_impossible_task_or_data_before_training(argv, phrase, capsys):
    code = main(["run", "--recipe", "smoke", "--device", "cpu", "--quiet", *argv], settings=Settings(hub_offline=True))
    err = capsys.readouterr().err
    assert code == 2 and phrase in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "phrase"),
    [
        (["--data-files", "train"], "expected split files as NAME=VALUE pairs separated by commas"),
        (["--columns", "sentence1=a,sentence1=b"], "names ['sentence1'] more than once"),
    ],
)
def test_harness_run_refuses_malformed_data_options_as_usage_errors(argv, phrase, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--recipe", "smoke", *argv], settings=Settings(hub_offline=True))
    assert exit_.value.code == 2 and phrase in capsys.readouterr().err
