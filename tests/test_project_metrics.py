"""A project's own metric, declared in pyproject.toml: read, checked, listed by a task, and gated by its direction."""

from __future__ import annotations

import dataclasses
import json
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from fake_runs import run_result, smoke_run_config
from harness.checksums import sha256_file, sha256_json
from harness.run.config import ConfigError, RunConfig
from harness.run.run_identity import RunIdentity
from harness.project import Project
from harness.project_config import HarnessTable, read_cases, read_gate_policy, read_metrics, read_tasks
from harness.quality.baselines import BaselineError, BaselineStore, measured_from_runs
from harness.quality.gate import FAIL, IMPROVED, PASS, GatePolicy, check_run
from harness.settings import Settings
from harness.tasks.metrics import MetricSpec, TaskMetrics, builtin_metrics

METRIC_MODULE = '''
import numpy as np


def error_rate(predictions, references):
    """The fraction of rows predicted wrongly: lower is better."""
    return float(np.mean(np.asarray(predictions) != np.asarray(references)))


not_callable = 3
'''


@pytest.fixture
def metric_module(tmp_path, monkeypatch) -> str:
    """A module of the project's own, in the project folder, under a name no other test imports."""
    name = f"project_metrics_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(METRIC_MODULE, encoding="utf-8")
    yield name
    sys.modules.pop(name, None)


def project_file(tmp_path: Path, metric_module: str, *, extra: str = "") -> Path:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f"""
[tool.harness.metrics.error_rate]
function = "{metric_module}:error_rate"
better = "lower"
kind = "label"
bounds = [0.0, 1.0]
description = "fraction of rows predicted wrongly"

[tool.harness.tasks.pairs]
text_columns = ["sentence1", "sentence2"]
label_names = ["different", "same"]
metrics = ["accuracy", "error_rate"]

[tool.harness.gate]
procedure = "band"
metrics = ["error_rate"]

[tool.harness.gate.margins]
error_rate = 0.01
{extra}""", encoding="utf-8")
    return pyproject


def with_error_rate(result):
    """The fake run with its error rate, computed from its own predictions as a real run's would be."""
    predictions = np.argmax(result.logits, axis=-1)
    return dataclasses.replace(result, metrics={**result.metrics, "error_rate": float(np.mean(predictions != result.labels))})


def test_a_declared_metric_is_registered_with_its_direction_kind_and_bounds(tmp_path, metric_module):
    metrics = read_metrics(project_file(tmp_path, metric_module))

    spec = metrics.spec("error_rate")
    assert (spec.direction, spec.kind, spec.applies_to, spec.bounds) == ("lower", "label", "classification", (0.0, 1.0))
    assert metrics.function("error_rate")([1, 0, 1, 1], [1, 1, 1, 1]) == 0.25
    assert metrics.names()[: len(builtin_metrics())] == builtin_metrics().names()  # the built-ins, then the project's
    assert "error_rate" not in builtin_metrics()


def test_a_project_metric_is_gated_by_its_own_direction(tmp_path, metric_module):
    """End to end: pyproject -> registry -> task -> policy -> baseline file -> gate verdicts, lower being better."""
    project = Project.load(project_file(tmp_path, metric_module), environment=Settings(cache_dir=tmp_path / "cache"))
    task = project.tasks.get("pairs")
    policy = project.policy.for_task(task)
    assert policy.metrics == ("error_rate",) and policy.direction("error_rate") == "lower"
    assert TaskMetrics(task.metrics, num_labels=2, registry=project.metrics)(
        (np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([1, 1]))) == {"accuracy": 0.5, "error_rate": 0.5}

    config = smoke_run_config(task=task)
    seeds = [with_error_rate(run_result(config.replace(seed=seed), accuracy=0.70 + 0.05 * (seed % 3))) for seed in range(42, 47)]
    store = BaselineStore(tmp_path / "baselines", metrics=project.metrics)
    path = store.save(measured_from_runs(config, seeds))
    assert json.loads(path.read_text())["metrics"]["error_rate"]["better"] == "lower"
    baseline = store.load(path.stem)  # read back, its direction and bounds checked against the project's metric

    def gate(accuracy: float):
        candidate = with_error_rate(run_result(config.replace(seed=99), accuracy=accuracy))
        return check_run(candidate, baseline, name="pairs", policy=policy)

    fewer_errors, as_before, more_errors = gate(0.95), gate(0.75), gate(0.40)
    assert [report.checks[0].verdict for report in (fewer_errors, as_before, more_errors)] == [IMPROVED, PASS, FAIL]
    assert fewer_errors.passed and not more_errors.passed
    check = more_errors.checks[0]
    assert check.measured > check.band_high  # worse is above the band, as for a loss
    assert check.ci_low is not None and check.ci_low <= check.measured <= check.ci_high  # bootstrapped through the registry


def test_the_gate_policy_takes_the_projects_metric_names(tmp_path, metric_module):
    table = HarnessTable.read(project_file(tmp_path, metric_module, extra="[tool.harness.gate.effects]\nerror_rate = 0.05\n"))
    policy = read_gate_policy(table)
    assert dict(policy.effects) == {"error_rate": 0.05} and policy.sequential_parameters("error_rate").direction == "lower"
    with pytest.raises(ConfigError, match=r"cannot gate unknown metric\(s\) \['error_rate'\]"):
        GatePolicy(metrics=("error_rate",))  # the built-ins alone do not know it


def test_a_baseline_is_checked_against_the_project_metrics_bounds_and_direction(tmp_path, metric_module):
    metrics = read_metrics(project_file(tmp_path, metric_module))
    config = smoke_run_config()
    seeds = [with_error_rate(run_result(config.replace(seed=seed), accuracy=0.7 + 0.05 * i)) for i, seed in enumerate((42, 43))]
    store = BaselineStore(tmp_path, metrics=metrics)
    path = store.save(measured_from_runs(config, seeds))
    data = json.loads(path.read_text())

    data["metrics"]["error_rate"]["better"] = "higher"
    path.write_text(json.dumps(data))
    with pytest.raises(BaselineError, match="metric 'error_rate' says better is 'higher', but error_rate is better lower"):
        store.load(path.stem)

    data["metrics"]["error_rate"] = {"values": [0.3, 1.5], "better": "lower"}
    path.write_text(json.dumps(data))
    with pytest.raises(BaselineError, match=r"metric 'error_rate' has per-seed values outside \[0, 1\]"):
        store.load(path.stem)
    assert BaselineStore(tmp_path).load(path.stem).metrics["error_rate"].values == (0.3, 1.5)  # the built-ins cannot tell


def test_a_task_may_only_list_a_metric_the_project_declares(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.harness.tasks.pairs]\ntext_columns = ["a", "b"]\nlabel_names = ["n", "y"]\n'
                         'metrics = ["error_rate"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[tool.harness.tasks.pairs\]: unknown metric 'error_rate'"):
        read_tasks(pyproject)


def test_the_python_api_registers_a_metric_with_its_function():
    metrics = builtin_metrics()
    metrics.register(MetricSpec("error_rate", "lower", "label", "fraction wrong", bounds=(0.0, 1.0),
                                function=lambda predictions, references: float(np.mean(predictions != references))))
    policy = GatePolicy(metrics=("error_rate",), metric_registry=metrics)
    assert policy.direction("error_rate") == "lower"
    with pytest.raises(TypeError, match="its function must be callable"):
        metrics.register(MetricSpec("no_function", "higher", "label", ""))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('function = "{m}:error_rate"\nbetter = "lower"\ndirection = "lower"',
         r"unknown key\(s\) \['direction'\]; valid keys: function, better, kind, applies_to, bounds, description"),
        ('function = "{m}:error_rate"', r"`better` is required \(which way is better: \"higher\" or \"lower\"\)"),
        ('better = "lower"', r"`function` is required"),
        ('function = "{m}:error_rate"\nbetter = "down"', r"better must be one of 'higher', 'lower', got 'down'"),
        ('function = "{m}:error_rate"\nbetter = "lower"\nkind = "class"', r"kind must be one of 'label', 'score', got 'class'"),
        ('function = "{m}:error_rate"\nbetter = "lower"\napplies_to = "regression"',
         r"a 'label' metric needs predicted classes, so it applies to 'classification' or 'binary' tasks, not 'regression'"),
        ('function = "{m}:error_rate"\nbetter = "lower"\nbounds = [1.0]', r"bounds must be \[low, high\], two numbers"),
        ('function = "{m}:error_rate"\nbetter = "lower"\nbounds = [1.0, 0.0]', r"bounds must be \(low, high\) with low < high"),
        ('function = "{m}.error_rate"\nbetter = "lower"', r'function must be "package.module:callable"'),
        ('function = 3\nbetter = "lower"', r'function must be "package.module:callable"'),
        ('function = "no_such_module_here:f"\nbetter = "lower"',
         r"function: cannot import module 'no_such_module_here' from .*ModuleNotFoundError.*put no_such_module_here.py in the project folder"),
        ('function = "{m}:missing"\nbetter = "lower"', r"module '.*' has no callable 'missing' \(found nothing\); define def missing"),
        ('function = "{m}:not_callable"\nbetter = "lower"', r"has no callable 'not_callable' \(found int\)"),
        ('function = "{m}:error_rate"\nbetter = "lower"\ndescription = 3', r"description must be a string, got 3"),
    ],
)
def test_a_mistake_in_a_metric_table_names_the_file_the_table_and_the_fix(tmp_path, metric_module, table, message):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.harness.metrics.error_rate]\n" + table.replace("{m}", metric_module) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as error:
        read_metrics(pyproject)
    assert str(error.value).startswith(f"{pyproject}: [tool.harness.metrics.error_rate]")


def test_a_metric_may_not_shadow_a_builtin_or_be_no_identifier(tmp_path, metric_module):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f'[tool.harness.metrics.accuracy]\nfunction = "{metric_module}:error_rate"\nbetter = "lower"\n',
                         encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[tool.harness.metrics.accuracy\]: 'accuracy' is already a metric .*another name"):
        read_metrics(pyproject)
    pyproject.write_text(f'[tool.harness.metrics.error-rate]\nfunction = "{metric_module}:error_rate"\nbetter = "lower"\n',
                         encoding="utf-8")
    with pytest.raises(ConfigError, match=r"a metric name must be an identifier"):
        read_metrics(pyproject)


def test_an_open_end_is_written_as_infinity(tmp_path, metric_module):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f'[tool.harness.metrics.error_rate]\nfunction = "{metric_module}:error_rate"\nbetter = "lower"\n'
                         'bounds = [0, inf]\n', encoding="utf-8")
    assert read_metrics(pyproject).spec("error_rate").bounds == (0.0, None)


def test_a_case_gates_a_project_metric_with_its_own_margin(tmp_path, metric_module):
    pyproject = project_file(tmp_path, metric_module, extra="""
[tool.harness.cases.pairs-fast]
task = "pairs"
recipe = "smoke"
data_files = { train = "train.csv", validation = "dev.csv" }
metrics = ["error_rate"]
margins = { error_rate = 0.015 }
""")
    case = read_cases(pyproject).get("pairs-fast")
    policy = case.policy(read_gate_policy(pyproject))
    assert policy.metrics == ("error_rate",) and dict(policy.margins) == {"error_rate": 0.015}
    assert policy.direction("error_rate") == "lower"
    pyproject.write_text(pyproject.read_text().replace('metrics = ["accuracy", "error_rate"]', 'metrics = ["accuracy"]'))
    with pytest.raises(ConfigError, match=r"include \['error_rate'\], which task 'pairs' does not report"):
        read_cases(pyproject)


def pairs_config(project: Project, tmp_path: Path, **changes):
    files = {"train": tmp_path / "train.csv", "validation": tmp_path / "dev.csv"}
    return RunConfig.from_recipe("smoke", recipes=project.recipes, tasks=project.tasks, metrics=project.metrics,
                                 task="pairs", data_files=files, device="cpu", **changes)


def edit_metric_module(tmp_path: Path, metric_module: str) -> None:
    """An edit to the metric's code, as a user makes it between two runs (a new process imports it anew)."""
    path = tmp_path / f"{metric_module}.py"
    path.write_text(path.read_text().replace("!= np.asarray(references)", "!= np.asarray(references).astype(int)"))
    sys.modules.pop(metric_module, None)


def test_a_project_metrics_code_is_part_of_the_run_identity(tmp_path, metric_module):
    """An edit to a project metric's module retrains: the cache key and the run folder change, as for the harness's own code."""
    project = Project.load(project_file(tmp_path, metric_module), environment=Settings(cache_dir=tmp_path / "cache"))
    config = pairs_config(project, tmp_path)
    (spec,) = config.project_metrics
    assert (spec.name, spec.source) == ("error_rate", f"{metric_module}:error_rate")
    assert spec.source_sha256 == sha256_json({metric_module: sha256_file(tmp_path / f"{metric_module}.py")})
    assert config.identity()["project_metrics"][0]["source_sha256"] == spec.source_sha256
    assert RunConfig.from_dict(config.to_dict()) == config  # how it crosses to a DDP worker
    identity = RunIdentity._build(config.identity(), task=config.task.to_dict(), world_size=1, device="cpu",
                                  data_sha256="d", model={}, versions={}, harness_source="h")

    edit_metric_module(tmp_path, metric_module)
    edited = pairs_config(Project.load(tmp_path / "pyproject.toml", environment=Settings(cache_dir=tmp_path / "cache")), tmp_path)
    assert edited.short_id != config.short_id
    edited_identity = RunIdentity._build(edited.identity(), task=edited.task.to_dict(), world_size=1, device="cpu",
                                         data_sha256="d", model={}, versions={}, harness_source="h")
    assert edited_identity.cache_key() != identity.cache_key() and edited_identity.folder_hash() != identity.folder_hash()
    assert edited_identity.ledger() != identity.ledger()  # a recording cannot merge seeds scored by two versions


def test_a_config_of_built_in_metrics_keeps_its_identity(tmp_path, metric_module):
    project = Project.load(project_file(tmp_path, metric_module), environment=Settings(cache_dir=tmp_path / "cache"))
    config = RunConfig.from_recipe("smoke", metrics=project.metrics, device="cpu")
    assert config.project_metrics == () and "project_metrics" not in config.identity()
    assert config.short_id == RunConfig.from_recipe("smoke", device="cpu").short_id


def test_a_ddp_worker_imports_the_projects_metric_and_refuses_an_edited_one(tmp_path, metric_module):
    project = Project.load(project_file(tmp_path, metric_module), environment=Settings(cache_dir=tmp_path / "cache"))
    config = RunConfig.from_dict(pairs_config(project, tmp_path, world_size=2).to_dict())  # what the worker reads
    sys.modules.pop(metric_module, None)  # a fresh process
    registry = config.metric_registry(tmp_path)
    assert registry.function("error_rate")([1, 0, 1, 1], [1, 1, 1, 1]) == 0.25
    assert registry.spec("error_rate").direction == "lower"

    edit_metric_module(tmp_path, metric_module)  # edited after the run was configured, before the worker started
    with pytest.raises(ConfigError, match=r"metric 'error_rate': the module of .* changed since the run was configured"):
        config.metric_registry(tmp_path)


def test_a_metric_registered_in_code_is_refused_before_a_ddp_launch(tmp_path):
    from harness.run.distributed import Launch, launch_fine_tune
    from harness.tasks.spec import TaskSpec

    metrics = builtin_metrics()
    metrics.register(MetricSpec("error_rate", "lower", "label", "", function=lambda p, r: float(np.mean(np.asarray(p) != r))))
    task = TaskSpec(name="pairs", text_columns=("sentence1", "sentence2"), label_names=("different", "same"),
                    num_labels=2, metrics=("accuracy", "error_rate"))
    files = {"train": tmp_path / "train.csv", "validation": tmp_path / "dev.csv"}
    config = RunConfig.from_recipe("smoke", metrics=metrics, task=task, data_files=files, device="cpu", world_size=2)
    assert config.project_metrics == ()  # no source to import it from
    with pytest.raises(ConfigError, match=r"scored with \['error_rate'\], which a DDP worker cannot import"):
        launch_fine_tune(config, Launch(nproc_per_node=2))
    assert not (tmp_path / "runs").exists()


def test_an_edit_inside_a_metrics_package_changes_its_fingerprint(tmp_path):
    """``function = "pkg:fn"`` where pkg/__init__.py imports fn from pkg/impl.py: an edit to impl.py counts."""
    name = f"metric_pkg_{uuid.uuid4().hex[:8]}"
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text(f"from {name}.impl import error_rate\n", encoding="utf-8")
    (package / "impl.py").write_text(METRIC_MODULE, encoding="utf-8")
    from harness.tasks.metrics import import_source

    try:
        _, before = import_source(f"{name}:error_rate", tmp_path)
        (package / "impl.py").write_text(METRIC_MODULE.replace("!=", "=="), encoding="utf-8")
        _, after = import_source(f"{name}:error_rate", tmp_path)
    finally:
        for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            sys.modules.pop(module)
    assert before != after


@pytest.mark.parametrize(("tamper", "message"), [
    (lambda spec: {**spec, "source_sha256": None}, "with its source and source_sha256"),
    (lambda spec: {**spec, "extra": 1}, "not the metric specs a config records"),
    (lambda spec: {key: value for key, value in spec.items() if key != "bounds"}, "not the metric specs a config records"),
    (lambda spec: "error_rate", "not the metric specs a config records"),
])
def test_a_tampered_stored_config_is_refused_by_name(tmp_path, metric_module, tamper, message):
    project = Project.load(project_file(tmp_path, metric_module), environment=Settings(cache_dir=tmp_path / "cache"))
    stored = pairs_config(project, tmp_path).to_dict()
    (spec,) = stored["project_metrics"]
    tampered = tamper(spec)
    stored["project_metrics"] = tampered if isinstance(tampered, str) else [tampered]
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict(stored)


def test_a_metric_module_that_exits_or_is_shadowed_is_an_error_naming_it(tmp_path):
    (tmp_path / "exits_on_import.py").write_text("import sys\nsys.exit(3)\n", encoding="utf-8")
    (tmp_path / "numbers.py").write_text(METRIC_MODULE, encoding="utf-8")  # the standard library's numbers wins
    from harness.tasks.metrics import import_source

    try:
        with pytest.raises(ValueError, match=r"cannot import module 'exits_on_import'.*SystemExit"):
            import_source("exits_on_import:error_rate", tmp_path)
    finally:
        sys.modules.pop("exits_on_import", None)
    with pytest.raises(ValueError, match=r"'numbers' resolves to .*, not .*numbers.py: a module of that name was imported first"):
        import_source("numbers:error_rate", tmp_path)
