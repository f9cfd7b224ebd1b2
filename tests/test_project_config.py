"""A team's own gate settings in pyproject.toml: defaults, overrides, and errors that name the fix."""

from __future__ import annotations

import pytest

from harness.run.config import ConfigError
from harness.quality.gate import GatePolicy
from harness.project_config import GATE_KEYS, read_gate_policy

pytest_plugins = ["pytester"]


def write(tmp_path, text: str):
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    return path


def test_no_file_or_no_section_means_the_documented_defaults(tmp_path):
    assert read_gate_policy(tmp_path / "pyproject.toml") == GatePolicy()
    assert read_gate_policy(write(tmp_path, "[project]\nname = 'x'\n")) == GatePolicy()
    defaults = GatePolicy()
    assert (defaults.procedure, defaults.alpha, defaults.power, defaults.max_runs) == ("auto", 0.01, 0.95, 12)


def test_a_section_sets_the_policy_with_margins_per_metric(tmp_path):
    policy = read_gate_policy(write(tmp_path, """
[tool.harness.gate]
procedure = "sequential"
alpha = 0.02
power = 0.9
max_runs = 6
metrics = ["f1"]

[tool.harness.gate.margins]
f1 = 0.005

[tool.harness.gate.effects]
f1 = 0.03
"""))
    assert (policy.procedure, policy.alpha, policy.power, policy.max_runs, policy.metrics) == ("sequential", 0.02, 0.9, 6, ("f1",))
    params = policy.sequential_parameters("f1")
    assert (params.margin, params.effect, params.alpha, params.direction) == (0.005, 0.03, 0.02, "higher")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tool.harness.gate]\nalfa = 0.01\n", "[tool.harness.gate]: unknown key(s) ['alfa']; valid keys: " + ", ".join(GATE_KEYS)),
        ("[tool.harness]\ngates = 1\n", "[tool.harness]: unknown key(s) ['gates']; valid keys: data_dir, cache_dir, reports_dir, baselines_dir, history, mlflow_tracking_uri, device, precision, gate, recipes"),
        ("[tool.harness.gate]\nalpha = 0.7\n", "gate alpha (the false-alarm rate) must be in (0, 0.5), got 0.7"),
        ("[tool.harness.gate]\npower = 'high'\n", "[tool.harness.gate] power: expected a number, got 'high'"),
        ("[tool.harness.gate.margins]\nf1 = 0.03\n", "margin must be in [0, effect) = [0, 0.02), got 0.03"),
        ("[tool.harness.gate.margins]\nbleu = 0.1\n", "unknown metric 'bleu'; valid: accuracy, f1, matthews_correlation, pearson, spearmanr, loss"),
        ("[tool.harness.gate]\nbootstrap_samples = 0\n", "gate bootstrap_samples must be a whole number from 1 to 100,000"),
        # An upper bound too: the bootstrap's time is linear in resamples x rows, and a typo's zeros are no plan.
        ("[tool.harness.gate]\nbootstrap_samples = 10000000\n", "from 1 to 100,000 (resamples of the evaluation set), got 10000000"),
        # Each gated metric gets alpha / (number of metrics): a repeated one would split alpha for nothing.
        ("[tool.harness.gate]\nmetrics = ['f1', 'f1', 'f1']\n", "metrics ['f1', 'f1', 'f1'] repeat a metric"),
        ("[tool.harness.gate]\nprocedure = 'bayes'\n", "unknown gate procedure 'bayes'; use one of auto, sequential, band"),
        ("[tool.harness.gate\n", "not valid TOML"),
    ],
)
def test_a_mistake_is_an_error_naming_what_is_valid(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        read_gate_policy(path)
    assert message in str(error.value) and str(path) in str(error.value)


def test_the_plugin_reads_the_projects_pyproject_and_stops_on_a_mistake(pytester):
    pytester.makepyprojecttoml("[tool.harness.gate]\nalfa = 0.01\n")
    pytester.makepyfile(test_x="def test_x(harness):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "[tool.harness.gate]: unknown key(s) ['alfa']" in result.stderr.str()


def test_the_command_line_procedure_wins_over_the_project_file(pytester):
    pytester.makepyprojecttoml("[tool.harness.gate]\nprocedure = 'band'\nalpha = 0.02\n")
    pytester.makepyfile(test_x="""
def test_x(harness):
    assert harness.policy.procedure == "sequential" and harness.policy.alpha == 0.02
""")
    pytester.runpytest("-p", "no:cacheprovider", "--harness-gate-procedure=sequential").assert_outcomes(passed=1)


def test_project_recipes_extend_the_built_ins(tmp_path):
    from harness.project_config import read_recipes

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.harness.recipes.slow-lr]\nbase = "minilm-cpu"\nlearning_rate = 2e-5\n')
    recipes = read_recipes(pyproject)
    assert recipes.get("slow-lr").learning_rate == 2e-5
    assert recipes.get("slow-lr").batch_size == recipes.get("minilm-cpu").batch_size
    assert {"course", "minilm-cpu", "smoke"} <= set(recipes.names())


@pytest.mark.parametrize(
    ("table", "phrase"),
    [
        ('[tool.harness.recipes.x]\nlearning_rate = 2e-5\n', "`base` (the recipe it starts from) is required; known recipes: course"),
        ('[tool.harness.recipes.x]\nbase = "nope"\n', "unknown recipe 'nope'; known recipes: course"),
        ('[tool.harness.recipes.x]\nbase = "smoke"\nlearnig_rate = 1\n', "unknown field(s) ['learnig_rate']; valid: batch_size"),
        ('[tool.harness.recipes.smoke]\nbase = "smoke"\n', "recipe 'smoke' is already registered"),
        ('[tool.harness.recipes.x]\nbase = "smoke"\nlearning_rate = 2\n', "learning_rate must be a finite number in (0, 1)"),
        ('[tool.harness.recipes.x]\nbase = "smoke"\ntraining_args = { optim = "sgd", seed = 1 }\n', "training_args.seed cannot be overridden"),
        ('[tool.harness.recipes]\nx = 1\n', "[tool.harness.recipes.x] must be a table"),
    ],
)
def test_bad_project_recipes_name_the_table_and_the_fix(tmp_path, table, phrase):
    from harness.project_config import read_recipes

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(table)
    with pytest.raises(ConfigError) as error:
        read_recipes(pyproject)
    assert phrase in str(error.value) and str(pyproject) in str(error.value)


def test_project_recipes_and_cases_take_the_variance_reduction_fields(tmp_path):
    from harness.project_config import read_cases, read_recipes

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.harness.recipes.minilm-swa]\nbase = "minilm-cpu"\nweight_average = "swa"\n'
                         '[tool.harness.cases.calm]\ntask = "mrpc"\nrecipe = "smoke"\n'
                         'overrides = { reinit_top_layers = 1, weight_average = "ema-0.95" }\n')
    assert read_recipes(pyproject).get("minilm-swa").weight_average == "swa"
    case = read_cases(pyproject).get("calm")
    assert (case.recipe.reinit_top_layers, case.recipe.weight_average) == (1, "ema-0.95")


@pytest.mark.parametrize(
    ("table", "phrase"),
    [
        ('[tool.harness.recipes.x]\nbase = "smoke"\nweight_average = "ema-2"\n', "the EMA decay must be a number strictly between 0 and 1"),
        ('[tool.harness.recipes.x]\nbase = "smoke"\nweight_average = "average"\n', "valid: \"\" (none), \"swa\""),
        ('[tool.harness.recipes.x]\nbase = "smoke"\nreinit_top_layers = -2\n', "reinit_top_layers must be a whole number >= 0"),
        ('[tool.harness.cases.c]\ntask = "mrpc"\nrecipe = "smoke"\noverrides = { weight_average = "ema" }\n',
         "unknown weight_average 'ema'"),
    ],
)
def test_bad_variance_reduction_values_in_pyproject_name_the_table_and_the_fix(tmp_path, table, phrase):
    from harness.project_config import read_cases, read_recipes

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(table)
    with pytest.raises(ConfigError) as error:
        read_cases(pyproject, recipes=read_recipes(pyproject))
    assert phrase in str(error.value) and str(pyproject) in str(error.value)


@pytest.mark.parametrize(
    ("section", "name", "table"),
    [
        ("recipes", "../../../escaped", 'base = "smoke"\n'),
        ("recipes", "x\\u0000", 'base = "smoke"\n'),
        ("recipes", "r" * 300, 'base = "smoke"\n'),
        ("tasks", "a--b", 'text_columns = ["text"]\nlabel_names = ["no", "yes"]\nmetrics = ["accuracy"]\n'),
        ("tasks", "t" * 300, 'text_columns = ["text"]\nlabel_names = ["no", "yes"]\nmetrics = ["accuracy"]\n'),
    ],
    ids=["recipe-parent-folders", "recipe-nul", "recipe-300-characters", "task-double-dash", "task-300-characters"],
)
def test_a_recipe_or_task_name_that_cannot_be_a_file_name_is_refused_when_pyproject_is_read(tmp_path, section, name, table):
    """Recipe and task names are parts of baseline file names and run folders (issue 19, item 5)."""
    from harness.project_config import read_recipes, read_tasks

    pyproject = write(tmp_path, f'[tool.harness.{section}."{name}"]\n{table}')
    with pytest.raises(ConfigError) as error:
        (read_recipes if section == "recipes" else read_tasks)(pyproject)
    message = str(error.value)
    assert str(pyproject) in message and "is not a valid name" in message
    assert "lowercase letters, digits, '.', '_' and '-', starting with a letter or digit and never '--'" in message


def test_the_gate_defaults_may_name_the_gated_metrics_beside_the_registry(tmp_path):
    """``metrics`` among the defaults is GatePolicy's (the gated names); the registry has its own keyword."""
    from harness.tasks.metrics import builtin_metrics

    registry = builtin_metrics()
    policy = read_gate_policy(tmp_path / "pyproject.toml", metrics=("accuracy",), metric_registry=registry)
    assert policy.metrics == ("accuracy",) and policy.metric_registry is registry
