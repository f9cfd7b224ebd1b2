"""A user's project with a CSV task of its own ("reviews": one text, two classes, its own column
names), shared by the pytester tests that walk a case from declaration to a verdict. Every row is
invented and written into the test's temp folder."""

from __future__ import annotations

import csv
from pathlib import Path

# The task and one case on it, as a team writes them in its pyproject.toml.
REVIEWS = """
[tool.pytest.ini_options]
testpaths = ["benchmarks"]

[tool.harness.tasks.reviews]
text_columns = ["text"]
label_names = ["bad", "good"]
metrics = ["accuracy", "f1"]

[tool.harness.cases.reviews]
task = "reviews"
recipe = "smoke"
data_files = { train = "data/train.csv", validation = "data/dev.csv" }
columns = { text = "review", label = "verdict" }
"""
# The one test the README tells a team to put in its benchmarks/.
THE_READMES_TEST = """
import pytest


@pytest.mark.quality
def test_case(harness_case, quality_gate):
    quality_gate.check(harness_case)
"""


def write_reviews(folder: Path) -> None:
    """train.csv (24 rows) and dev.csv (8 rows), classes alternating, with an extra column the task ignores."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", 24), ("dev", 8)):
        with open(folder / f"{split}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["review", "verdict", "stars"])
            for n in range(count):
                verdict = ("bad", "good")[n % 2]
                writer.writerow([f"{split} review {n}: the {('hinge', 'lamp', 'kettle')[n % 3]} was {verdict}, or so", verdict, n % 5])
