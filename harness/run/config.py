"""The one validated, frozen description of a run, and the named recipes it is built from.

What a recipe may override in ``TrainingArguments`` is :mod:`harness.run.training_args`'s to say,
and which faults a run may inject :mod:`harness.run.faults`'s.

A :class:`RunConfig` is everything that can change a fine-tune's result, so it is also what the
result cache is keyed by. It is built once (by the CLI, the pytest plugin or a user) and passed
down; nothing below it reads the environment.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from harness.checksums import sha256_json
from harness.names import path_name_problem
from harness.registry import Registry
from harness.run.faults import LABEL_NOISE, fault_problems
from harness.run.training_args import training_args_problem
from harness.tasks.metrics import MetricRegistry, MetricSpec, builtin_metrics
from harness.tasks.registry import TaskRegistry, builtin_tasks
from harness.tasks.spec import TaskError, TaskSpec

DEFAULT_TASK = "mrpc"
MAX_SEED = 2**32 - 1
PRECISIONS = ("fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda", "mps")
class ConfigError(ValueError):
    """A run was described in a way that cannot work; the message says which field and why."""


def refuse_unknown_keys(table: Mapping[str, Any], valid: Iterable[str], where: str) -> None:
    """A :class:`ConfigError` naming ``where``, the unknown keys of ``table`` and the valid ones: a
    misspelt key in a project's tables must never fall back to a default unnoticed."""
    valid = tuple(valid)
    unknown = sorted(set(table) - set(valid))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys: {', '.join(valid)}")


@dataclass(frozen=True)
class WeightAverage:
    """How the weights a run is scored with are averaged over its last steps (see harness.run.weight_averaging).

    ``kind`` is ``"ema"`` (an exponential moving average of the weights after every optimizer step,
    ``decay`` the weight the old average keeps) or ``"swa"`` (a uniform average of the weights after
    each of the last epoch's worth of optimizer steps; ``decay`` is None).
    """

    kind: str
    decay: float | None = None


def parse_weight_average(spec: str) -> WeightAverage | None:
    """The averaging ``spec`` names, None for ``""`` (no averaging); a ConfigError listing the valid forms otherwise.

    A decay is written as Python writes the float (``ema-0.99``, not ``ema-.99`` or ``ema-0.990``), so
    one averaging has one spelling and one recipe identity.

    >>> parse_weight_average("ema-0.99")
    WeightAverage(kind='ema', decay=0.99)
    >>> parse_weight_average("swa")
    WeightAverage(kind='swa', decay=None)
    >>> parse_weight_average("") is None
    True
    """
    valid = '"" (none), "swa" (uniform average over the final epoch\'s steps) or "ema-<decay>" with 0 < decay < 1 (e.g. "ema-0.99")'
    if not isinstance(spec, str):
        raise ConfigError(f"weight_average must be a string: {valid}; got {spec!r}")
    if spec == "":
        return None
    if spec == "swa":
        return WeightAverage("swa")
    if spec.startswith("ema-"):
        text = spec.removeprefix("ema-")
        try:
            decay = float(text)
        except ValueError:
            decay = math.nan
        if math.isfinite(decay) and 0 < decay < 1:
            if repr(decay) != text:
                raise ConfigError(f"weight_average {spec!r}: write the decay as ema-{decay!r}, so one averaging has one name")
            return WeightAverage("ema", decay)
        raise ConfigError(f"weight_average {spec!r}: the EMA decay must be a number strictly between 0 and 1 (e.g. ema-0.99)")
    raise ConfigError(f"unknown weight_average {spec!r}; valid: {valid}")


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
    # Variance reduction (both off by default, and then absent from the identity; see to_dict):
    # re-initialise the encoder's top N layers and its pooler before training (Zhang et al. 2021), and
    # score the run with averaged weights ("ema-<decay>" or "swa"; see parse_weight_average).
    reinit_top_layers: int = 0
    weight_average: str = ""
    description: str = ""
    # Any other TrainingArguments field, e.g. {"lr_scheduler_type": "cosine", "max_grad_norm": 0.5}:
    # kept as sorted (name, value) pairs so the recipe stays frozen, hashable and comparable.
    training_args: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        problem = path_name_problem(self.name, example="my-recipe")
        if problem:  # it names the recipe's baselines and run folders
            raise ConfigError(f"recipe name {problem}")
        overrides = dict(self.training_args.items() if isinstance(self.training_args, dict) else self.training_args)
        object.__setattr__(self, "training_args", tuple(sorted(overrides.items())))
        problem = training_args_problem(overrides)
        if problem:
            raise ConfigError(f"recipe {self.name!r}: {problem}")
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
        if not isinstance(self.reinit_top_layers, int) or isinstance(self.reinit_top_layers, bool) or self.reinit_top_layers < 0:
            raise ConfigError(f"recipe {self.name!r}: reinit_top_layers must be a whole number >= 0 (the encoder layers "
                              f"to re-initialise, counted from the top; 0 = none), got {self.reinit_top_layers!r}")
        try:
            parse_weight_average(self.weight_average)
        except ConfigError as error:
            raise ConfigError(f"recipe {self.name!r}: {error}") from None

    def to_dict(self) -> dict[str, Any]:
        """The recipe as plain data; ``training_args``, ``reinit_top_layers`` and ``weight_average``
        appear only when set, so recipes written before they existed keep their identity (and their
        cached runs and baselines)."""
        out = dataclasses.asdict(self)
        out["training_args"] = dict(self.training_args)
        for name, default in _ADDED_FIELD_DEFAULTS.items():
            if out[name] == default:
                del out[name]
        return out


# Fields added after recipes were first recorded, with the default at which to_dict leaves them out.
_ADDED_FIELD_DEFAULTS: dict[str, Any] = {"training_args": {}, "reinit_top_layers": 0, "weight_average": ""}


_MINILM_CPU = Recipe(
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
)

_BUILTIN_RECIPES = (
    Recipe(
        name="course",
        model="bert-base-uncased",
        description=(
            "The Hugging Face course, chapter 3: bert-base-uncased, TrainingArguments defaults "
            "(batch 8, lr 5e-5, linear decay, no warm-up), 3 epochs, per-epoch evaluation."
        ),
    ),
    _MINILM_CPU,
    # Two variance-reduction variants of minilm-cpu for the noise study (`harness noise-study`): each is
    # minilm-cpu with one change, so their seed-to-seed spread can be compared with its (F1 sd 1.06
    # points over 30 seeds). minilm-cpu trains ceil(3668 / 32) = 115 steps an epoch, 345 in all.
    dataclasses.replace(
        _MINILM_CPU,
        name="minilm-cpu-ema",
        weight_average="ema-0.99",
        description=(
            "minilm-cpu scored with an exponential moving average of its weights (decay 0.99), to lower the "
            "seed-to-seed spread: the average's time constant is 1/(1-0.99) = 100 optimizer steps, about "
            "0.9 of an epoch of 115, so the last epoch carries 1-0.99^115 = 69% of its weight and the first "
            "(warm-up, largest steps) about 10%. The per-epoch evaluations show the raw weights."
        ),
    ),
    dataclasses.replace(
        _MINILM_CPU,
        name="minilm-cpu-reinit",
        reinit_top_layers=1,
        description=(
            "minilm-cpu with the pooler and the top one of MiniLM's 6 encoder layers re-initialised before "
            "training (Zhang et al. 2021, Revisiting Few-sample BERT Fine-tuning), to lower the seed-to-seed "
            "spread: the top layer of a contrastively trained sentence encoder is the most specific to its "
            "pre-training objective, and the pooler was never trained by it; one layer keeps 5/6 of the "
            "pretrained depth, where two would discard a third of a small model for 345 steps of training."
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


class RecipeRegistry(Registry[Recipe]):
    """Named recipes: the built-ins, plus any a team adds (in Python, or in its pyproject.toml).

    A :class:`harness.registry.Registry`: a plain object, not module state, so one team's recipe
    never leaks into another's run; registering a taken name is an error unless ``replace=True``,
    so a typo cannot silently shadow a built-in.
    """

    kind = "recipe"
    item_type = Recipe
    error = ConfigError
    path_names = True

    def derive(self, name: str, *, base: str, description: str = "", **changes: Any) -> Recipe:
        """Register ``name`` as ``base`` with ``changes``; unknown fields are named with the valid ones."""
        fields = {f.name for f in dataclasses.fields(Recipe)} - {"name"}
        unknown = sorted(set(changes) - fields)
        if unknown:
            raise ConfigError(f"recipe {name!r}: unknown field(s) {unknown}; valid: {', '.join(sorted(fields))}")
        recipe = dataclasses.replace(self.get(base), name=name, description=description or f"{base} with {changes}", **changes)
        return self.register(recipe)


def builtin_recipes() -> RecipeRegistry:
    """A fresh registry holding the built-in recipes, for a session to extend."""
    return RecipeRegistry(_BUILTIN_RECIPES)


# The built-ins by name, read-only (extend a registry from builtin_recipes() instead).
RECIPES: Mapping[str, Recipe] = MappingProxyType({recipe.name: recipe for recipe in _BUILTIN_RECIPES})


def get_recipe(name: str, recipes: RecipeRegistry | None = None) -> Recipe:
    return (recipes or builtin_recipes()).get(name)


def _pairs(value: Any) -> tuple[tuple[str, Any], ...]:
    """A mapping (or pairs) as a tuple of pairs in the given order, so a frozen config stays hashable."""
    return tuple((key, item) for key, item in (value.items() if isinstance(value, Mapping) else value))


def resolve_task(task: TaskSpec | str, tasks: TaskRegistry | None = None) -> TaskSpec:
    """``task`` as a spec: a spec as given, a name looked up in ``tasks`` (default: the built-ins)."""
    if isinstance(task, TaskSpec):
        return task
    try:
        return (tasks or builtin_tasks()).get(task)
    except TaskError as error:
        raise ConfigError(str(error)) from None


def is_builtin_task(task: TaskSpec) -> bool:
    """Whether ``task`` is exactly the built-in of its name: only then does its name alone identify it."""
    builtins = builtin_tasks()
    return task.name in builtins and builtins.get(task.name) == task


@dataclass(frozen=True)
class RunConfig:
    """One fine-tune and evaluation: what to train, how, on what, where, and from which seed.

    ``task`` is a :class:`~harness.tasks.spec.TaskSpec`; a name is looked up among the built-in
    tasks (``from_recipe(..., tasks=registry)`` looks it up in a project's registry). The data is a
    local GLUE folder (``data_dir``), the user's own files (``data_files``: split -> path, read
    with datasets' csv/json/parquet builders, their columns mapped onto the task's by
    ``columns``: task column -> file column), or, with neither, the Hub. Where data is read from
    is not part of the identity (its sha256 is, in the cache key and the provenance); the
    column mapping is, since the same files read through another mapping are other data.
    """

    recipe: Recipe
    task: TaskSpec = DEFAULT_TASK  # type: ignore[assignment]  # a name is resolved in __post_init__
    model: str | None = None
    device: str = "auto"
    precision: str = "fp32"
    seed: int = 42
    data_dir: Path | None = None
    output_dir: Path = Path("runs")
    faults: tuple[str, ...] = ()
    # Training processes (DDP) over all nodes. It changes the result: each process trains
    # ``batch_size`` rows a step, so the global batch is world_size x batch_size.
    world_size: int = 1
    data_files: tuple[tuple[str, Path], ...] = ()
    columns: tuple[tuple[str, str], ...] = ()
    # Where a relative model folder is read from: a case's pyproject.toml folder (None: the working
    # folder). Like data_dir, where is not what: the model's weights are in the run's identity, and
    # its spec stays as written, so a baseline's name does not depend on where a project is checked out.
    model_root: Path | None = None
    # The project's own metrics the task is scored with, by spec and source (MetricSpec.source, the
    # sha256 of its module): part of the identity, so an edit to a metric's code retrains, and how
    # a DDP worker imports the same functions. Empty where the task's metrics are all built-ins.
    project_metrics: tuple[MetricSpec, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "task", resolve_task(self.task))
        object.__setattr__(self, "project_metrics", tuple(self.project_metrics))
        strays = [spec for spec in self.project_metrics if not isinstance(spec, MetricSpec) or spec.name not in self.task.metrics
                  or spec.source is None or spec.source_sha256 is None]
        if strays or len({spec.name for spec in self.project_metrics}) != len(self.project_metrics):
            raise ConfigError(f"project_metrics must be MetricSpecs of task {self.task.name!r}'s metrics "
                              f"({', '.join(self.task.metrics)}), each once, with its source and source_sha256; got "
                              f"{strays or self.project_metrics!r}")
        object.__setattr__(self, "faults", tuple(sorted(set(self.faults))))
        object.__setattr__(self, "data_files", tuple((str(split), Path(path)) for split, path in _pairs(self.data_files)))
        object.__setattr__(self, "columns", _pairs(self.columns))
        if not isinstance(self.world_size, int) or self.world_size < 1:
            raise ConfigError(f"world_size (training processes over all nodes) must be an integer >= 1, got {self.world_size!r}")
        self._check_faults()
        self._check_hardware()
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed must be a whole number from 0 to 2**32 - 1 (numpy's and torch's seed range), "
                              f"got {self.seed!r}")
        self._normalise_paths()
        self._check_data()

    def _check_faults(self) -> None:
        """Reject faults that cannot be injected into this run: every problem at once, so one
        edit fixes them all, then the label-noise ones, which need classes and stack badly."""
        problems = fault_problems(self.faults)
        if problems:
            raise ConfigError("; ".join(problems))
        label_noise = [f for f in self.faults if f.startswith(LABEL_NOISE)]
        if self.task.is_regression and label_noise:
            raise ConfigError(f"task {self.task.name!r} is a regression task: label-noise flips classes, and it has none; "
                              "use shuffled-labels or truncated-inputs")

    def _check_hardware(self) -> None:
        """Reject a precision or device the harness does not know, and fp16 where no CUDA device
        can run it, before any model is loaded."""
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; use one of {', '.join(PRECISIONS)}")
        if self.device not in DEVICES:
            raise ConfigError(
                f"unknown device {self.device!r}; use one of {', '.join(DEVICES)} "
                "(pick a GPU with CUDA_VISIBLE_DEVICES, as the Trainer does)"
            )
        if self.precision == "fp16" and self.device in ("cpu", "mps"):
            raise ConfigError("fp16 training needs a CUDA device; use fp32 (or bf16 on a CPU with native bf16)")

    def _normalise_paths(self) -> None:
        """Store the folders as :class:`~pathlib.Path`, whatever a caller passed (a str from the
        command line or a TOML file), so equal configs compare and serialise equal."""
        if self.data_dir is not None:
            object.__setattr__(self, "data_dir", Path(self.data_dir))
        object.__setattr__(self, "output_dir", Path(self.output_dir))
        if self.model_root is not None:
            object.__setattr__(self, "model_root", Path(self.model_root))

    def _check_data(self) -> None:
        """Reject data given two ways at once, then check the files and the column mapping."""
        if self.data_files and self.data_dir is not None:
            raise ConfigError(f"give the data as a GLUE folder (data_dir {self.data_dir}) or as files (data_files), not both")
        if self.data_files:
            self._check_data_files()
        if self.columns:
            self._check_columns()

    def _check_data_files(self) -> None:
        """The user's files must be exactly one per split the task trains and evaluates on: a
        missing split would fail late, in the middle of a run, and an extra one is a typo."""
        task = self.task
        splits = [split for split, _ in self.data_files]
        needed = ["train", *task.evaluation_splits]
        missing, unknown = [s for s in needed if s not in splits], [s for s in splits if s not in needed]
        if len(set(splits)) != len(splits) or missing or unknown:
            problem = (f"lacks {missing}" if missing else f"names {unknown}, which the task does not use" if unknown
                       else "repeats a split")
            raise ConfigError(
                f"data_files {dict(self.data_files)} {problem}; task {task.name!r} needs one file for each of the "
                f"splits {needed} (e.g. --data-files {','.join(f'{s}={s}.csv' for s in needed)})"
            )

    def _check_columns(self) -> None:
        """The column mapping only applies to data_files, and must map each of the task's columns
        at most once, onto a non-empty column name, or the files would be read as other data."""
        task = self.task
        if not self.data_files:
            raise ConfigError("columns maps the task's columns onto the columns of your data_files; give data_files too")
        task_columns = [*task.text_columns, task.label_column]
        unknown = [column for column, _ in self.columns if column not in task_columns]
        if unknown or len({column for column, _ in self.columns}) != len(self.columns):
            raise ConfigError(
                f"columns {dict(self.columns)}: each key must be one of task {task.name!r}'s columns {task_columns}, "
                f"once (task column = the column in your files){'; unknown: ' + str(unknown) if unknown else ''}"
            )
        for column, file_column in self.columns:
            if not isinstance(file_column, str) or not file_column:
                raise ConfigError(f"columns: {column!r} must map to a column name in your files, got {file_column!r}")

    @classmethod
    def from_recipe(cls, name: str | Recipe, *, recipes: RecipeRegistry | None = None, tasks: TaskRegistry | None = None,
                    metrics: MetricRegistry | None = None, **kwargs: Any) -> RunConfig:
        """Build a config from a named recipe (built-in, or in ``recipes``) or a recipe itself; recipe
        fields given as keywords override it. A task given by name is looked up in ``tasks`` (default:
        the built-ins); the task's metrics that ``metrics`` imported from a project's module become
        the config's ``project_metrics``."""
        recipe = name if isinstance(name, Recipe) else get_recipe(name, recipes)
        recipe_fields = {f.name for f in dataclasses.fields(Recipe)}
        recipe_changes = {k: kwargs.pop(k) for k in list(kwargs) if k in recipe_fields and k != "model"}
        if recipe_changes:
            recipe = dataclasses.replace(recipe, **recipe_changes)
        if "task" in kwargs:
            kwargs["task"] = resolve_task(kwargs["task"], tasks)
        config = cls(recipe=recipe, **kwargs)
        if metrics is None or "project_metrics" in kwargs:
            return config
        known = set(metrics.names())
        return config.replace(project_metrics=tuple(
            spec for spec in map(metrics.spec, (name for name in config.task.metrics if name in known))
            if spec.source is not None))

    def metric_registry(self, import_root: Path | str | None = None) -> MetricRegistry:
        """The registry the task is scored with in another process: the built-ins and this config's
        project metrics, each imported from its source (``import_root``, the project's folder, on the
        import path) and refused if its module changed since the config was made."""
        registry = builtin_metrics()
        for spec in self.project_metrics:
            try:
                registry.register(spec.imported(import_root))
            except ValueError as error:  # its message names the metric
                raise ConfigError(str(error)) from error
        return registry

    @property
    def model_spec(self) -> str:
        return self.model or self.recipe.model

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def identity(self) -> dict[str, Any]:
        """What determines the result: the config without where it is written or read from.

        A built-in task is named; any other task also carries its whole spec (``task_spec``), so two
        projects' different tasks of one name never share a cache entry or a baseline. Keys that
        only some configs have (the spec, the column mapping, the world size) appear only then, so
        the configs that existed before them keep the identity they always had.
        """
        return {
            "task": self.task.name,
            **({} if is_builtin_task(self.task) else {"task_spec": self.task.to_dict()}),
            "model": self.model_spec,
            "recipe": self.recipe.to_dict(),
            "device": self.device,
            "precision": self.precision,
            "seed": self.seed,
            "faults": list(self.faults),
            **({"columns": dict(self.columns)} if self.columns else {}),
            # Only when distributed, so single-process configs keep the identity they always had.
            **({"world_size": self.world_size} if self.world_size > 1 else {}),
            **({"project_metrics": [spec.to_dict() for spec in self.project_metrics]} if self.project_metrics else {}),
        }

    def recipe_record(self) -> dict[str, Any]:
        """The recipe as a baseline file records it (``recipe_config``): JSON data, tuples as lists."""
        return json.loads(json.dumps(self.recipe.to_dict(), default=str))

    @property
    def short_id(self) -> str:
        """Eight hex digits of the identity's sha256: names this config's run folder and obtained file."""
        return sha256_json(self.identity())[:8]

    def to_dict(self) -> dict[str, Any]:
        out = self.identity()
        out["data_dir"] = str(self.data_dir) if self.data_dir else None
        if self.data_files:
            out["data_files"] = {split: str(path) for split, path in self.data_files}
        out["output_dir"] = str(self.output_dir)
        if self.model_root is not None:
            out["model_root"] = str(self.model_root)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """The inverse of :meth:`to_dict`: how a config crosses a process boundary (a DDP worker)."""
        recipe = dict(data["recipe"])
        recipe["training_args"] = tuple(sorted(recipe.get("training_args", {}).items()))
        recipe = Recipe(**recipe)
        task = TaskSpec(**data["task_spec"]) if "task_spec" in data else data["task"]
        return cls(
            recipe=recipe,
            task=task,
            model=None if data["model"] == recipe.model else data["model"],
            device=data["device"],
            precision=data["precision"],
            seed=data["seed"],
            data_dir=Path(data["data_dir"]) if data.get("data_dir") else None,
            output_dir=Path(data["output_dir"]),
            faults=tuple(data["faults"]),
            world_size=data.get("world_size", 1),
            data_files=tuple((split, Path(path)) for split, path in data.get("data_files", {}).items()),
            columns=tuple(data.get("columns", {}).items()),
            model_root=Path(data["model_root"]) if data.get("model_root") else None,
            project_metrics=_project_metrics(data.get("project_metrics", ())),
        )


def _project_metrics(stored: Any) -> tuple[MetricSpec, ...]:
    """A stored config's ``project_metrics``, or a ConfigError saying what is wrong with them."""
    try:
        if not isinstance(stored, (list, tuple)):
            raise TypeError(f"expected a list of metric specs, got {type(stored).__name__}")
        return tuple(MetricSpec.from_dict(dict(spec)) for spec in stored)
    except (TypeError, KeyError, ValueError) as error:
        raise ConfigError(f"project_metrics: not the metric specs a config records ({type(error).__name__}: {error})") from None
