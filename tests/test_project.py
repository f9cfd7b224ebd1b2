"""One Project, resolved once: flag > pyproject.toml > environment > default, for every entry point."""

from __future__ import annotations

import dataclasses

import textwrap
from pathlib import Path

import pytest

from harness import project_config
from harness.run.config import ConfigError
from harness.project import Project, ProjectFlags
from harness.settings import Settings

pytest_plugins = ["pytester"]


def pyproject(tmp_path: Path, text: str = "") -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


PATHS = ("data_dir", "cache_dir", "reports_dir", "baselines_dir", "history")
ENV = {"data_dir": "HARNESS_DATA_DIR", "cache_dir": "HARNESS_CACHE_DIR", "reports_dir": "HARNESS_REPORTS_DIR",
       "history": "HARNESS_HISTORY"}


def _resolved(project: Project, name: str) -> Path | None:
    return project.baselines_dir if name == "baselines_dir" else getattr(project.settings, name)


@pytest.mark.parametrize("name", PATHS)
@pytest.mark.parametrize("given", ["flag", "pyproject", "environment", "default"])
def test_each_path_is_the_flag_else_pyproject_else_the_environment_else_the_default(tmp_path, name, given):
    layers = ("flag", "pyproject", "environment", "default")
    present = layers[layers.index(given):]  # the chosen layer and every layer below it say something
    path = pyproject(tmp_path, f'[tool.harness]\n{name} = "from-pyproject"\n' if "pyproject" in present else "")
    flags = ProjectFlags(**({name: tmp_path / "from-flag"} if "flag" in present else {}))
    environ = {ENV[name]: str(tmp_path / "from-env")} if "environment" in present and name in ENV else {}
    project = Project.load(path, flags=flags, environ=environ)
    expected = {
        "flag": tmp_path / "from-flag",
        "pyproject": tmp_path / "from-pyproject",  # relative to pyproject.toml's folder
        "environment": tmp_path / "from-env" if name in ENV else None,
        "default": None,
    }[given]
    if expected is None:  # no environment variable for baselines_dir: its default
        defaults = {"data_dir": None, "cache_dir": Path("~/.cache/harness").expanduser(), "reports_dir": tmp_path / "reports",
                    "baselines_dir": tmp_path / "baselines", "history": tmp_path / ".harness" / "history.sqlite"}
        expected = defaults[name]
    assert _resolved(project, name) == expected


@pytest.mark.parametrize("given", ["flag", "pyproject", "environment", "default"])
def test_no_history_records_nowhere_whatever_names_a_store(tmp_path, given):
    path = pyproject(tmp_path, '[tool.harness]\nhistory = "h.sqlite"\n' if given == "pyproject" else "")
    flags = ProjectFlags(history=tmp_path / "flag.sqlite" if given == "flag" else None, record_history=False)
    environ = {"HARNESS_HISTORY": str(tmp_path / "env.sqlite")} if given == "environment" else {}
    assert Project.load(path, flags=flags, environ=environ).settings.history is None


@pytest.mark.parametrize("given", ["flag", "pyproject", "environment", "default"])
def test_the_mlflow_uri_is_the_flag_else_pyproject_else_the_environment_else_none(tmp_path, given):
    layers = ("flag", "pyproject", "environment", "default")
    present = layers[layers.index(given):]
    path = pyproject(tmp_path, '[tool.harness]\nmlflow_tracking_uri = "sqlite:///p.db"\n' if "pyproject" in present else "")
    flags = ProjectFlags(mlflow_tracking_uri="http://flag:5000" if "flag" in present else None)
    environ = {"HARNESS_MLFLOW_TRACKING_URI": "http://env:5000"} if "environment" in present else {}
    uri = Project.load(path, flags=flags, environ=environ).settings.mlflow_tracking_uri
    # A URI is not a path: pyproject's is kept as written, not joined to the project's folder.
    assert uri == {"flag": "http://flag:5000", "pyproject": "sqlite:///p.db", "environment": "http://env:5000",
                   "default": None}[given]
    off = Project.load(path, flags=dataclasses.replace(flags, record_history=False), environ=environ)
    assert off.settings.mlflow_tracking_uri is None  # --harness-no-history logs nowhere


def test_a_gate_flag_equal_to_the_library_default_overrides_pyproject(tmp_path):
    """--harness-gate-sigmas=3 is the library default; it must still beat the project's sigmas = 2."""
    path = pyproject(tmp_path, "[tool.harness.gate]\nsigmas = 2\nfloor = 0.02\nbootstrap_samples = 50\n")
    project = Project.load(path, flags=ProjectFlags(gate={"sigmas": 3.0, "floor": 0.01, "bootstrap_samples": 1000}), environ={})
    assert (project.policy.sigmas, project.policy.floor, project.policy.bootstrap_samples) == (3.0, 0.01, 1000)
    untouched = Project.load(path, environ={})
    assert (untouched.policy.sigmas, untouched.policy.floor, untouched.policy.bootstrap_samples) == (2.0, 0.02, 50)


def test_the_plugins_gate_flag_equal_to_the_default_overrides_pyproject(pytester):
    pytester.makepyprojecttoml("[tool.harness.gate]\nsigmas = 2\n")
    pytester.makepyfile("""
        def test_policy(harness):
            print("SIGMAS", harness.policy.sigmas)
    """)
    result = pytester.runpytest("-s", "--harness-gate-sigmas=3")
    result.stdout.fnmatch_lines(["*SIGMAS 3.0*"])
    result = pytester.runpytest("-s")
    result.stdout.fnmatch_lines(["*SIGMAS 2.0*"])


def test_the_device_and_precision_come_out_concrete_and_every_config_carries_them(tmp_path, monkeypatch):
    import torch

    from harness.session import HarnessSession

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    project = Project.load(pyproject(tmp_path, '[tool.harness]\ndevice = "auto"\nprecision = "auto"\n'), environ={})
    assert project.device == "cpu" and project.precision in ("fp32", "bf16")
    config = HarnessSession(project).config("smoke")
    assert (config.device, config.precision) == (project.device, project.precision)


def test_pyproject_device_and_precision_apply_unless_a_flag_says_otherwise(tmp_path):
    path = pyproject(tmp_path, '[tool.harness]\ndevice = "cpu"\nprecision = "fp16"\n')
    with pytest.raises(ConfigError) as error:  # fp16 needs CUDA: refused, naming the file and key
        Project.load(path, environ={})
    assert f"{path}: [tool.harness] precision = 'fp16'" in str(error.value) and "fp16 training needs a CUDA device" in str(error.value)
    assert Project.load(path, flags=ProjectFlags(precision="fp32"), environ={}).precision == "fp32"
    with pytest.raises(ConfigError, match=r"--precision=fp16: fp16 training needs a CUDA device"):
        Project.load(pyproject(tmp_path, ""), flags=ProjectFlags(precision="fp16", device="cpu"), environ={})


@pytest.mark.parametrize("text, message", [
    ('[tool.harness]\ndevice = "tpu"\n', "[tool.harness] device = 'tpu': unknown device"),
    ("[tool.harness]\nbaselines_dir = 3\n", "[tool.harness] baselines_dir: expected a non-empty string, got 3"),
    ('[tool.harness]\nbaseline_dir = "b"\n', "[tool.harness]: unknown key(s) ['baseline_dir']"),
])
def test_a_bad_project_setting_names_the_file_and_the_key(tmp_path, text, message):
    path = pyproject(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        Project.load(path, environ={})
    assert message in str(error.value) and str(path) in str(error.value)


class _CountingToml:
    """Stands in for the tomllib module harness.project_config parses with, counting the parses."""

    def __init__(self, real) -> None:
        self.real, self.calls, self.TOMLDecodeError = real, 0, real.TOMLDecodeError

    def loads(self, text: str):
        self.calls += 1
        return self.real.loads(text)


def test_pyproject_is_parsed_once_per_session(pytester, monkeypatch):
    counting = _CountingToml(project_config.tomllib)
    monkeypatch.setattr(project_config, "tomllib", counting)
    pytester.makepyprojecttoml("""
        [tool.harness.gate]
        sigmas = 2
        [tool.harness.recipes.mine]
        base = "smoke"
        [tool.harness.tasks.reviews]
        text_columns = ["text"]
        label_names = ["bad", "good"]
        metrics = ["accuracy"]
    """)
    pytester.makepyfile("def test_nothing(harness):\n    assert 'mine' in harness.recipes\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert counting.calls == 1


def test_the_cli_reads_its_baselines_folder_and_precision_from_pyproject(tmp_path, capsys):
    from harness.cli import main

    path = pyproject(tmp_path, """
        [tool.harness]
        baselines_dir = "gates"
        precision = "fp32"
        [tool.harness.tasks.reviews]
        text_columns = ["text"]
        label_names = ["bad", "good"]
        metrics = ["accuracy"]
        [tool.harness.cases.reviews-smoke]
        task = "reviews"
        recipe = "smoke"
        data_files = { train = "train.csv", validation = "dev.csv" }
    """)
    assert main(["cases", "--pyproject", str(path), "--device", "cpu"], settings=Settings(hub_offline=True)) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "gates" / "reviews--reviews-smoke--arch-bert-tiny--validation--cpu-fp32.json") in out


def test_a_device_this_machine_lacks_is_refused_when_the_project_resolves(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    path = pyproject(tmp_path, '[tool.harness]\ndevice = "cuda"\n')
    with pytest.raises(ConfigError, match=r"\[tool.harness\] device = 'cuda': device 'cuda' was asked for, but torch .* sees no CUDA GPU"):
        Project.load(path, environ={})
    assert Project.load(path, flags=ProjectFlags(device="cpu"), environ={}).device == "cpu"


def test_bf16_on_mps_is_refused(monkeypatch):
    from harness.run.precision import check_precision

    with pytest.raises(ConfigError, match="bf16 training is not supported on the device 'mps'"):
        check_precision("bf16", "mps")
