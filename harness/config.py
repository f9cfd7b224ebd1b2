"""The one validated, frozen description of a run, and the named recipes it is built from.

A :class:`RunConfig` is everything that can change a fine-tune's result, so it is also what the
result cache is keyed by. It is built once (by the CLI, the pytest plugin or a user) and passed
down; nothing below it reads the environment.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.checksums import sha256_json

TASKS = ("mrpc",)
PRECISIONS = ("fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda", "mps")
# Deliberate faults, injected to prove that a quality gate can fail: a gate that never fails is
# indistinguishable from no gate. Each one is a regression a real change could cause.
FAULTS = {
    "shuffled-labels": "train labels permuted across pairs (a broken data join or label mapping)",
    "truncated-inputs": "every pair truncated to 8 tokens (a tokenizer or max_length change gone wrong)",
    # Graded faults: small, realistic regressions (a noisy annotation batch) of a chosen size, to measure
    # what the gate can see. Their effect on F1 is measured over seeds, not assumed (see the README).
    # Any whole percent from 1 to 50 is valid (see fault_problem); these are the ones listed in help.
    **{f"label-noise-{pct}": f"{pct}% of train labels flipped, rows drawn from the seed (noisy annotation)"
       for pct in (5, 10, 20)},
}
LABEL_NOISE = "label-noise-"


def fault_problem(fault: str) -> str | None:
    """Why ``fault`` is not a fault the harness can inject, or None when it is.

    ``label-noise-N`` takes any whole percent N from 1 to 50, so a graded fault can be calibrated
    to a chosen effect size; flipping more than half the labels would invert the task instead.
    """
    if fault in FAULTS:
        return None
    if fault.startswith(LABEL_NOISE):
        pct = fault.removeprefix(LABEL_NOISE)
        if pct.isdigit() and str(int(pct)) == pct and 1 <= int(pct) <= 50:
            return None
        return f"{fault!r}: label-noise takes a whole percent from 1 to 50 (e.g. label-noise-12)"
    return f"unknown fault {fault!r}; known: {', '.join(FAULTS)} (label-noise-N for any N from 1 to 50)"


class ConfigError(ValueError):
    """A run was described in a way that cannot work; the message says which field and why."""


# Every float field of a Recipe, with the test its value must pass and that range in words.
_FLOAT_RANGES: dict[str, tuple[Callable[[float], bool], str]] = {
    "epochs": (lambda v: v > 0, "> 0"),
    "learning_rate": (lambda v: 0 < v < 1, "in (0, 1)"),
    "weight_decay": (lambda v: v >= 0, ">= 0"),
    "warmup_ratio": (lambda v: 0 <= v < 1, "in [0, 1)"),
}


@dataclass(frozen=True)
class Recipe:
    """Training hyper-parameters under a name, so a baseline can say exactly what it measured."""

    name: str
    model: str
    epochs: float = 3.0
    batch_size: int = 8
    eval_batch_size: int = 8
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    max_length: int | None = None
    group_by_length: bool = False
    freeze_word_embeddings: bool = False
    max_train_samples: int | None = None
    description: str = ""

    def __post_init__(self) -> None:
        # NaN compares False with everything, so each range is checked as "finite and inside",
        # never as "not outside": `--epochs nan` must be refused here, not crash the Trainer.
        for name, (inside, valid_range) in _FLOAT_RANGES.items():
            value = getattr(self, name)
            if not (math.isfinite(value) and inside(value)):
                raise ConfigError(f"recipe {self.name!r}: {name} must be a finite number {valid_range}, got {value}")
        for name in ("batch_size", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"recipe {self.name!r}: {name} must be >= 1")
        if self.max_length is not None and self.max_length < 8:
            raise ConfigError(f"recipe {self.name!r}: max_length must be >= 8 (room for [CLS] a [SEP] b [SEP])")
        if self.max_train_samples is not None and self.max_train_samples < 1:
            raise ConfigError(f"recipe {self.name!r}: max_train_samples must be >= 1")


RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            name="course",
            model="bert-base-uncased",
            description=(
                "The Hugging Face course, chapter 3: bert-base-uncased, TrainingArguments defaults "
                "(batch 8, lr 5e-5, linear decay, no warm-up), 3 epochs, per-epoch evaluation."
            ),
        ),
        Recipe(
            name="minilm-cpu",
            model="minilm",
            epochs=3.0,
            batch_size=32,
            eval_batch_size=64,
            learning_rate=1e-4,
            weight_decay=0.01,
            warmup_ratio=0.1,
            max_length=128,
            group_by_length=True,
            freeze_word_embeddings=True,
            description=(
                "The packaged all-MiniLM-L6-v2 encoder tuned for 2 CPU cores: batch 32, lr 1e-4 with "
                "10% warm-up, batches grouped by length so little padding is computed, frozen word "
                "embeddings (their dense gradient and AdamW update cost more than they give), 3 epochs."
            ),
        ),
        Recipe(
            name="smoke",
            model="arch:bert-tiny",
            epochs=2.0,
            batch_size=4,
            eval_batch_size=8,
            learning_rate=1e-3,
            max_length=64,
            description="A tiny random BERT for the smoke tier: the whole pipeline in seconds.",
        ),
    )
}


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        known = ", ".join(sorted(RECIPES))
        raise ConfigError(f"unknown recipe {name!r}; known recipes: {known}") from None


@dataclass(frozen=True)
class RunConfig:
    """One fine-tune and evaluation: what to train, how, where, and from which seed."""

    recipe: Recipe
    task: str = "mrpc"
    model: str | None = None
    device: str = "auto"
    precision: str = "fp32"
    seed: int = 42
    data_dir: Path | None = None
    output_dir: Path = Path("runs")
    faults: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "faults", tuple(sorted(set(self.faults))))
        problems = [problem for problem in map(fault_problem, self.faults) if problem]
        if problems:
            raise ConfigError("; ".join(problems))
        if sum(f.startswith(LABEL_NOISE) for f in self.faults) > 1:
            raise ConfigError(f"at most one label-noise fault per run, got {[f for f in self.faults if f.startswith(LABEL_NOISE)]}")
        if self.task not in TASKS:
            raise ConfigError(f"unknown task {self.task!r}; supported: {', '.join(TASKS)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; use one of {', '.join(PRECISIONS)}")
        if self.device not in DEVICES:
            raise ConfigError(
                f"unknown device {self.device!r}; use one of {', '.join(DEVICES)} "
                "(pick a GPU with CUDA_VISIBLE_DEVICES, as the Trainer does)"
            )
        if self.precision == "fp16" and self.device in ("cpu", "mps"):
            raise ConfigError("fp16 training needs a CUDA device; use fp32 (or bf16 on a CPU with native bf16)")
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        if self.data_dir is not None:
            object.__setattr__(self, "data_dir", Path(self.data_dir))
        object.__setattr__(self, "output_dir", Path(self.output_dir))

    @classmethod
    def from_recipe(cls, name: str, **kwargs: Any) -> RunConfig:
        """Build a config from a named recipe; recipe fields given as keywords override it."""
        recipe = get_recipe(name)
        recipe_fields = {f.name for f in dataclasses.fields(Recipe)}
        recipe_changes = {k: kwargs.pop(k) for k in list(kwargs) if k in recipe_fields and k != "model"}
        if recipe_changes:
            recipe = dataclasses.replace(recipe, **recipe_changes)
        return cls(recipe=recipe, **kwargs)

    @property
    def model_spec(self) -> str:
        return self.model or self.recipe.model

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def identity(self) -> dict[str, Any]:
        """What determines the result: the config without where it is written or read from."""
        return {
            "task": self.task,
            "model": self.model_spec,
            "recipe": dataclasses.asdict(self.recipe),
            "device": self.device,
            "precision": self.precision,
            "seed": self.seed,
            "faults": list(self.faults),
        }

    @property
    def short_id(self) -> str:
        """Eight hex digits of the identity's sha256: names this config's run folder and obtained file."""
        return sha256_json(self.identity())[:8]

    def to_dict(self) -> dict[str, Any]:
        out = self.identity()
        out["data_dir"] = str(self.data_dir) if self.data_dir else None
        out["output_dir"] = str(self.output_dir)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)
