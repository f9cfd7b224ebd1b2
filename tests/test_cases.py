"""Cases declared in pyproject.toml: read and checked before anything trains, each its own recipe and
baseline, each with its own gate settings on top of the project's."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cases import Case, CaseRegistry
from harness.run.config import ConfigError, RunConfig
from harness.run.models import local_model_dir
from harness.project_config import read_cases
from harness.quality.gate import GatePolicy
from harness.quality.regression import name_for
from harness.project import Project
from harness.session import HarnessSession
from harness.settings import Settings

REVIEWS = """
[tool.harness.tasks.reviews]
text_columns = ["text"]
label_names = ["bad", "good"]
metrics = ["accuracy", "f1"]
"""


def cases_of(tmp_path: Path, text: str) -> CaseRegistry:
    path = tmp_path / "pyproject.toml"
    path.write_text(text, encoding="utf-8")
    return read_cases(path)


def test_a_case_is_its_task_its_data_and_its_own_recipe(tmp_path):
    cases = cases_of(tmp_path, REVIEWS + """
[tool.harness.cases.reviews-fast]
task = "reviews"
recipe = "smoke"
model = "minilm"
data_files = { train = "data/train.csv", validation = "/abs/dev.csv" }
columns = { text = "review" }
overrides = { epochs = 1.0, training_args = { max_grad_norm = 0.5 } }
metrics = ["f1"]
margins = { f1 = 0.005 }
""")
    case = cases.get("reviews-fast")
    assert cases.names() == ("reviews-fast",)
    assert case.task.name == "reviews" and case.model == "minilm"
    assert case.data_files == (("train", tmp_path / "data" / "train.csv"), ("validation", Path("/abs/dev.csv")))
    assert case.recipe.name == "reviews-fast" and case.recipe.epochs == 1.0 and case.recipe.batch_size == 4
    assert dict(case.recipe.training_args) == {"max_grad_norm": 0.5}
    session = HarnessSession(Project.of(Settings(hub_offline=True), tmp_path, device="cpu"))
    config = session.case_config(case)
    assert (config.task, config.model_spec, config.columns) == (case.task, "minilm", (("text", "review"),))
    assert name_for(config) == "reviews--reviews-fast--minilm--validation--cpu-fp32"  # its own baseline


def test_a_cases_gate_is_the_projects_with_its_own_settings_on_top(tmp_path):
    case = cases_of(tmp_path, REVIEWS + """
[tool.harness.cases.r]
task = "reviews"
recipe = "smoke"
data_files = { train = "t.csv", validation = "v.csv" }
margins = { f1 = 0.005 }
""").get("r")
    project = GatePolicy(max_runs=6, margins=(("accuracy", 0.01),))
    policy = case.policy(project)
    assert policy.metrics == ("accuracy", "f1") and policy.max_runs == 6
    assert dict(policy.margins) == {"accuracy": 0.01, "f1": 0.005}


def test_a_case_may_declare_its_task_inline(tmp_path):
    case = cases_of(tmp_path, """
[tool.harness.cases.topics]
task = { text_columns = ["title", "body"], label_names = ["news", "sport", "tech"], metrics = ["accuracy"] }
recipe = "smoke"
data_files = { train = "t.jsonl", validation = "v.jsonl" }
""").get("topics")
    assert (case.task.name, case.task.num_labels, case.task.text_columns) == ("topics", 3, ("title", "body"))


@pytest.mark.parametrize(
    ("table", "phrase"),
    [
        ('task = "reviews"\nrecipe = "smoke"\ndata_file = {}', "unknown key(s) ['data_file']"),
        ('task = "reviews"\ndata_files = { train = "t.csv", validation = "v.csv" }', "`recipe` (the recipe it fine-tunes with) is required"),
        ('recipe = "smoke"', "`task` is required"),
        ('task = "revues"\nrecipe = "smoke"', "unknown task 'revues'; did you mean 'reviews'?"),
        ('task = "reviews"\nrecipe = "smoke"\ndata_files = { train = "t.csv" }', "lacks ['validation']"),
        ('task = "reviews"\nrecipe = "smoke"\ndata_files = { train = "t.csv", validation = "v.csv" }\noverrides = { epoch = 1 }',
         "overrides: "),
        ('task = "mnli"\nrecipe = "smoke"\nmetrics = ["f1"]', "include ['f1'], which task 'mnli' does not report; its metrics are accuracy"),
        ('task = { text_columns = ["t"], label_names = ["a", "b", "c"], metrics = ["f1"] }\nrecipe = "smoke"',
         "'f1' scores a two-class task"),
        ('task = "reviews"\nrecipe = "smoke"\nmargins = { f1 = -1 }', "margins.f1 must be a number >= 0"),
    ],
)
def test_a_case_that_cannot_work_is_refused_naming_where_and_the_fix(tmp_path, table, phrase):
    with pytest.raises(ConfigError) as error:
        cases_of(tmp_path, REVIEWS + f"\n[tool.harness.cases.mine]\n{table}\n")
    assert "[tool.harness.cases.mine]" in str(error.value) and phrase in str(error.value)


def test_a_case_may_not_take_a_recipes_name(tmp_path):
    with pytest.raises(ConfigError, match="a case is a recipe of its own, named after it, and 'smoke' is already a recipe"):
        cases_of(tmp_path, '[tool.harness.cases.smoke]\ntask = "mrpc"\nrecipe = "smoke"\n')


def test_an_unknown_case_lists_the_projects_cases(tmp_path):
    cases = cases_of(tmp_path, '[tool.harness.cases.mrpc-fast]\ntask = "mrpc"\nrecipe = "smoke"\n')
    with pytest.raises(ConfigError, match="unknown case 'mrpc-slow'; did you mean 'mrpc-fast'\\? known cases: mrpc-fast"):
        cases.get("mrpc-slow")
    assert isinstance(cases.get("mrpc-fast"), Case) and len(CaseRegistry()) == 0


# --- names that become paths, and keys that must not be dropped (issue 19, items 5 and 7) -------------


@pytest.mark.parametrize(
    "name",
    ["../../../escaped", "a/b", "bad\u0000name", "x" * 300, "Reviews", ".hidden", "-x", "a--b", "with space"],
    ids=["parent-folders", "slash", "nul", "300-characters", "uppercase", "dot-first", "dash-first", "double-dash", "space"],
)
def test_a_case_name_that_cannot_be_a_file_name_is_refused_when_pyproject_is_read(tmp_path, name):
    """The name becomes the case's recipe, its baseline's file name and its run folders: `../../../escaped`
    would write outside baselines/ and the cache; NUL or 300 characters would crash with an OSError after the
    data loaded."""
    key = name.replace("\\", "\\\\").replace('"', '\\"').replace("\u0000", "\\u0000")
    with pytest.raises(ConfigError) as error:
        cases_of(tmp_path, f'[tool.harness.cases."{key}"]\ntask = "mrpc"\nrecipe = "smoke"\n')
    message = str(error.value)
    assert "case name" in message and "lowercase letters, digits, '.', '_' and '-'" in message
    assert len(name) < 60 or "... (300 characters)" in message  # a long name is shown cut short


def test_a_case_built_in_python_keeps_to_the_name_rule_too(tmp_path):
    case = cases_of(tmp_path, '[tool.harness.cases.fine]\ntask = "mrpc"\nrecipe = "smoke"\n').get("fine")
    with pytest.raises(ConfigError, match="case name '../x' is not a valid name"):
        Case(name="../x", task=case.task, recipe=case.recipe)


@pytest.mark.parametrize(
    ("table", "phrase"),
    [
        # RunConfig refuses both; the case used to keep data_files and drop data_dir without a word.
        ('data_dir = "glue"\ndata_files = { train = "t.csv", validation = "v.csv" }', "not both"),
        # A GLUE folder is read with the task's own columns: a mapping for it was dropped unchecked.
        ('data_dir = "glue"\ncolumns = { sentence1 = "no-such-column" }', "columns maps the task's columns onto the columns of your data_files"),
        # alpha is split over the gated metrics: f1 three times would gate f1 at alpha / 3.
        ('metrics = ["f1", "f1", "f1"]', "metrics ['f1', 'f1', 'f1'] repeat a metric"),
        ('model = "./mymodels/missing"', "model directory"),
        ('model = "mymodels/sub/missing"', "is never taken for a Hub id"),
    ],
    ids=["data-dir-and-files", "columns-for-a-glue-folder", "repeated-metric", "dot-path", "deep-path"],
)
def test_case_keys_that_cannot_work_together_are_refused_not_dropped(tmp_path, table, phrase):
    with pytest.raises(ConfigError) as error:
        cases_of(tmp_path, f'[tool.harness.cases.mine]\ntask = "mrpc"\nrecipe = "smoke"\n{table}\n')
    assert "[tool.harness.cases.mine]" in str(error.value) and phrase in str(error.value)


def test_a_cases_model_folder_is_read_from_beside_pyproject_not_the_working_folder(tmp_path, monkeypatch):
    """`model = "mymodels/mini"` with `--pyproject proj/pyproject.toml` from elsewhere used to be looked
    for in the working folder, then taken for a Hub id: online, whatever Hub repository has that name."""
    project = tmp_path / "proj"
    (project / "mymodels" / "mini").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[tool.harness.cases.mine]\ntask = "mrpc"\nrecipe = "smoke"\n'
                                            'model = "mymodels/mini"\n', encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    case = read_cases(Path("../proj/pyproject.toml")).get("mine")
    session = HarnessSession(Project.of(Settings(hub_offline=True), tmp_path, device="cpu"))
    config = session.case_config(case)
    assert config.model_spec == "mymodels/mini"  # as written: the baseline's name must not depend on the checkout's folder
    assert local_model_dir(config.model_spec, config.model_root).resolve() == (project / "mymodels" / "mini").resolve()
    assert "mymodels--mini" in name_for(config) and str(tmp_path.name) not in name_for(config)
    assert RunConfig.from_dict(config.to_dict()).model_root == config.model_root  # it reaches DDP workers too


def test_a_hub_id_in_a_case_stays_a_hub_id_unless_a_folder_of_that_name_is_beside_pyproject(tmp_path):
    text = '[tool.harness.cases.mine]\ntask = "mrpc"\nrecipe = "smoke"\nmodel = "google-bert/bert-base-uncased"\n'
    case = cases_of(tmp_path, text).get("mine")
    assert case.model == "google-bert/bert-base-uncased" and local_model_dir(case.model, case.model_root) is None
    (tmp_path / "google-bert" / "bert-base-uncased").mkdir(parents=True)
    case = cases_of(tmp_path, text).get("mine")
    assert local_model_dir(case.model, case.model_root).resolve() == (tmp_path / "google-bert" / "bert-base-uncased").resolve()
