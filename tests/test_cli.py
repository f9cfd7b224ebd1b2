"""The ``harness`` command: what a user types, what they see, and the exit codes scripts rely on."""

from __future__ import annotations

import hashlib
import json
import re
import runpy
import sys
from pathlib import Path

import pytest

from fake_runs import no_settings
from harness.checksums import sha256_json
from harness.cli import main
from harness.run.config import RECIPES
from harness.run.result import RESULT_FILE, RunResult
from harness.settings import Settings

OFFLINE = Settings(hub_offline=True)


def data_must_not_be_read(*args, **kwargs):
    raise AssertionError("the data was read before the config was checked")


def table_rows(text: str) -> dict[str, str]:
    """A two-column markdown table as {first cell: second cell}."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2 and not set(cells[0]) <= {"-"}:
            rows[cells[0]] = cells[1]
    return rows


def test_recipes_lists_every_recipe(capsys):
    assert main(["recipes"], settings=OFFLINE) == 0
    out = capsys.readouterr().out
    for name, recipe in RECIPES.items():
        assert f"| {name}" in out and recipe.model in out


def test_run_smoke_prints_the_metrics_table(smoke_dir, tmp_path, capsys):
    """One full CLI run: the table a user reads must match what was saved and the data read."""
    code = main(
        ["run", "--recipe", "smoke", "--data-dir", str(smoke_dir), "--device", "cpu", "--quiet", "--output-dir", str(tmp_path)],
        settings=OFFLINE,
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = table_rows(captured.out)
    assert 0.0 <= float(rows["accuracy"]) <= 1.0 and 0.0 <= float(rows["f1"]) <= 1.0
    assert float(rows["loss"]) > 0
    assert rows["weights sha256"] == "random init"
    assert "(48 pairs trained, 2 epochs)" in rows["train time"]  # the smoke recipe: 24 pairs, 2 epochs
    files = {name: hashlib.sha256((smoke_dir / name).read_bytes()).hexdigest() for name in ("train.tsv", "dev.tsv")}
    assert rows["data sha256"] == sha256_json(files)[:16]
    saved = Path(rows["saved to"])
    assert saved.parent == tmp_path and (saved / RESULT_FILE).is_file()
    assert "fine-tuning arch:bert-tiny on mrpc with recipe 'smoke'" in captured.err


def test_run_with_a_fault_records_it_in_the_saved_config(smoke_dir, tmp_path, capsys):
    """An injected fault must be visible in the result, or a failing gate could not say why."""
    code = main(
        ["run", "--recipe", "smoke", "--data-dir", str(smoke_dir), "--device", "cpu", "--quiet",
         "--output-dir", str(tmp_path), "--fault", "truncated-inputs"],
        settings=OFFLINE,
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    saved = Path(table_rows(captured.out)["saved to"])
    assert "-truncated-inputs-" in saved.name
    assert RunResult.load(saved).config.faults == ("truncated-inputs",)


def test_run_with_a_missing_data_dir_exits_2_with_the_error(tmp_path, capsys):
    missing = tmp_path / "no-mrpc-here"
    code = main(["run", "--recipe", "smoke", "--data-dir", str(missing), "--device", "cpu", "--quiet",
                 "--output-dir", str(tmp_path / "runs")], settings=OFFLINE)
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.count("harness: error:") == 1 and str(missing) in captured.err
    assert "Traceback" not in captured.err
    assert not (tmp_path / "runs").exists()


def test_run_reads_the_data_dir_from_settings(tmp_path, capsys):
    """HARNESS_DATA_DIR reaches the run through Settings when --data-dir is not given."""
    missing = tmp_path / "from-settings"
    code = main(["run", "--recipe", "smoke", "--device", "cpu", "--quiet", "--output-dir", str(tmp_path / "runs")],
                settings=Settings(data_dir=missing, hub_offline=True))
    assert code == 2
    assert str(missing) in capsys.readouterr().err


def test_run_with_an_impossible_config_exits_2(tmp_path, capsys):
    code = main(["run", "--recipe", "smoke", "--device", "cpu", "--precision", "fp16", "--output-dir", str(tmp_path)],
                settings=OFFLINE)
    assert code == 2
    assert "fp16" in capsys.readouterr().err


def test_run_fp16_on_auto_without_a_gpu_exits_2_before_training(smoke_dir, tmp_path, capsys, monkeypatch):
    """`auto` resolves to the CPU here: fp16 must be refused up front, not trained in fp32 and labelled fp16."""
    import torch

    from harness.run import training

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(training, "DataSource", data_must_not_be_read)
    code = main(["run", "--recipe", "smoke", "--data-dir", str(smoke_dir), "--device", "auto", "--precision", "fp16",
                 "--quiet", "--output-dir", str(tmp_path / "runs")], settings=OFFLINE)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("harness: error:") == 1 and "Traceback" not in err
    assert "fp16 training needs a CUDA device" in err and "'auto'" in err and "'cpu'" in err and "fp32" in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_run_with_non_finite_epochs_exits_2_naming_the_field(smoke_dir, tmp_path, capsys, monkeypatch, value):
    """`--epochs nan` used to pass validation and crash inside the Trainer."""
    from harness.run import training

    monkeypatch.setattr(training, "fine_tune", lambda *args, **kwargs: pytest.fail("it trained"))
    code = main(["run", "--recipe", "smoke", "--data-dir", str(smoke_dir), "--device", "cpu", "--epochs", value,
                 "--quiet", "--output-dir", str(tmp_path / "runs")], settings=OFFLINE)
    err = capsys.readouterr().err
    assert code == 2
    assert f"harness: error: recipe 'smoke': epochs must be a finite number > 0, got {value}" in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "argv",
    [[], ["run", "--max-train-samples", "0"], ["run", "--device", "gpu"]],
    ids=["no-command", "zero-samples", "unknown-device"],
)
def test_bad_arguments_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv, settings=OFFLINE)
    assert exit_info.value.code == 2
    assert "usage: harness" in capsys.readouterr().err


def test_python_dash_m_harness_runs_the_cli(monkeypatch, capsys):
    """harness/__main__.py run as ``python -m harness`` runs it, in this process (pytest's import hook
    owns the harness package, so by its path), not in a second interpreter that pays every import again."""
    import harness

    monkeypatch.setattr(sys, "argv", ["harness", "recipes"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(str(Path(harness.__file__).parent / "__main__.py"), run_name="__main__")
    captured = capsys.readouterr()
    assert exited.value.code == 0, captured.err
    assert all(name in captured.out for name in RECIPES)


def test_an_unknown_recipe_exits_2_listing_the_known_ones(capsys, tmp_path):
    code = main(["run", "--recipe", "no-such-recipe", "--pyproject", str(no_settings(tmp_path / "pyproject.toml"))], settings=OFFLINE)
    assert code == 2
    assert "unknown recipe 'no-such-recipe'; known recipes: course, minilm-cpu, minilm-cpu-ema, minilm-cpu-reinit, smoke" in capsys.readouterr().err


def test_a_project_recipe_is_listed_and_runs(smoke_dir, tmp_path, capsys):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[tool.harness.recipes.tiny-cosine]\nbase = "smoke"\nepochs = 1\n'
        'training_args = { lr_scheduler_type = "cosine", max_grad_norm = 0.5 }\n'
    )
    assert main(["recipes", "--pyproject", str(pyproject)]) == 0
    listing = capsys.readouterr().out
    assert "tiny-cosine" in listing and "lr_scheduler_type=cosine, max_grad_norm=0.5" in listing
    code = main(["run", "--recipe", "tiny-cosine", "--pyproject", str(pyproject), "--data-dir", str(smoke_dir), "--device", "cpu",
                 "--quiet", "--output-dir", str(tmp_path / "runs")], settings=OFFLINE)
    assert code == 0
    saved = next((tmp_path / "runs").glob("*/result.json"))
    recipe = json.loads(saved.read_text())["config"]["recipe"]
    assert recipe["name"] == "tiny-cosine" and recipe["epochs"] == 1.0
    assert recipe["training_args"] == {"lr_scheduler_type": "cosine", "max_grad_norm": 0.5}


def test_recipes_lists_each_recipes_variance_reduction(capsys):
    assert main(["recipes"], settings=OFFLINE) == 0
    rows = {line.split("|")[1].strip(): line for line in capsys.readouterr().out.splitlines() if line.startswith("| minilm")}
    assert "weight_average=ema-0.99" in rows["minilm-cpu-ema"] and "reinit_top_layers=1" in rows["minilm-cpu-reinit"]
    assert "weight_average" not in rows["minilm-cpu"] and "reinit_top_layers" not in rows["minilm-cpu"]


@pytest.mark.parametrize("command", ["recipes", "tasks", "cases"])
def test_the_listing_commands_refuse_a_recipe_they_would_ignore(command, capsys):
    """Issue 19, item 9: ``harness recipes --recipe x`` printed every recipe as if ``x`` had been obeyed."""
    with pytest.raises(SystemExit) as exit_:
        main([command, "--recipe", "minilm-cpu"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --recipe" in capsys.readouterr().err


def test_an_explicit_pyproject_that_is_not_a_file_is_an_error(tmp_path, capsys):
    """A typo in --pyproject must not run with no project settings at all."""
    for given in (tmp_path / "pyprojet.toml", tmp_path):
        assert main(["cases", "--pyproject", str(given)]) == 2
        err = capsys.readouterr().err
        assert f"--pyproject {given}:" in err and "leave --pyproject out" in err
    broken = tmp_path / "tool.toml"
    broken.write_text("tool = 3\n", encoding="utf-8")
    assert main(["cases", "--pyproject", str(broken)]) == 2
    assert "`tool` must be a table" in capsys.readouterr().err


def test_reports_go_to_the_projects_reports_folder_and_a_bad_output_fails_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    repository = Path(__file__).resolve().parents[1]
    gate = re.search(r"\[tool\.harness\.gate\].*?(?=\n\[(?!tool\.harness\.gate)|\Z)",
                     repository.joinpath("pyproject.toml").read_text(encoding="utf-8"), re.S).group(0)
    project = tmp_path / "pyproject.toml"  # the repository's gate (fitted to its baseline), reports elsewhere
    project.write_text(f'[tool.harness]\nreports_dir = "myreports"\n\n{gate}\n', encoding="utf-8")
    baselines = repository / "baselines"
    args = ["simulate-gate", "--pyproject", str(project), "--device", "cpu", "--baselines-dir", str(baselines), "--trials", "100",
            "--truths", "10", "--truth-trials", "100"]
    assert main(args) == 0, capsys.readouterr().err
    assert (tmp_path / "myreports" / "gate-simulation.md").is_file() and not (tmp_path / "reports").exists()
    for bad, message in (("--trials=50", "trials must be from 100"), ("--truths=5", "must be >= 10"), ("--output=" + str(tmp_path), "is a folder"),
                         ("--output=/proc/nope/x.md", "is not a writable folder")):
        with pytest.raises(SystemExit):
            main([*args, bad])
        assert message in capsys.readouterr().err


def test_bad_ports_and_seeds_are_refused_by_the_parser(tmp_path, capsys):
    for bad, message in ((["run", "--master-port", "99999"], "a TCP port is from 1 to 65535"),
                         (["record-baseline", "--seed", str(2**32)], "a seed must be from 0 to 2**32 - 1")):
        with pytest.raises(SystemExit):
            main(bad)
        assert message in capsys.readouterr().err
    empty = tmp_path / "pyproject.toml"
    empty.write_text("", encoding="utf-8")
    code = main(["record-baseline", "--recipe", "smoke", "--seed", str(2**32 - 2), "--seeds", "3", "--pyproject", str(empty),
                 "--device", "cpu", "--baselines-dir", str(tmp_path / "b")])
    assert code == 2 and "seed must be a whole number from 0 to 2**32 - 1" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()  # refused before the first seed trained
