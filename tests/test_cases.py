"""Cases declared in pyproject.toml: read and checked before anything trains, each its own recipe and
baseline, each with its own gate settings on top of the project's."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cases import Case, CaseRegistry
from harness.config import ConfigError
from harness.project_config import read_cases
from harness.quality.gate import GatePolicy
from harness.quality.regression import name_for
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
    session = HarnessSession(settings=Settings(hub_offline=True), baselines_dir=tmp_path, device="cpu")
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
    with pytest.raises(ConfigError, match="unknown case 'mrpc-slow'; the project's cases: mrpc-fast"):
        cases.get("mrpc-slow")
    assert isinstance(cases.get("mrpc-fast"), Case) and len(CaseRegistry()) == 0
