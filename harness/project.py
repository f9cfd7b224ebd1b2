"""One project's harness settings, resolved once: what the pytest plugin and every CLI command start from.

Every setting is decided here, in one order, for every entry point:

1. a command-line flag (``--harness-device``, ``--device``, ...), when it was given;
2. ``[tool.harness]`` in the project's ``pyproject.toml``;
3. the environment (``HARNESS_DATA_DIR``, ``HARNESS_CACHE_DIR``, ``HARNESS_REPORTS_DIR``, ``HARNESS_HISTORY``,
   ``HARNESS_MLFLOW_TRACKING_URI``);
4. the documented default.

A flag is "given" when it is not None: options default to None, so a flag whose value happens to
equal the library's default (``--harness-gate-sigmas=3``) still overrides the project's ``sigmas = 2``.

    [tool.harness]
    device = "auto"           # cpu, cuda, mps or auto (cuda, then mps, then cpu)
    precision = "auto"        # fp32, bf16, fp16 or auto (bf16 where the device multiplies it natively)
    baselines_dir = "baselines"
    reports_dir = "reports"
    data_dir = "data/glue/MRPC"   # the GLUE folder of configs that name no data
    cache_dir = ".harness-cache"  # where fine-tunes are cached
    history = ".harness/history.sqlite"  # the history store each session is recorded in (the default)
    mlflow_tracking_uri = "http://mlflow.internal:5000"  # also log sessions to MLflow (default: none)

Paths in ``pyproject.toml`` are relative to its folder; a flag's or the environment's to the working
folder. The device and precision come out concrete (``cpu``, ``bf16``), checked against this
machine, so nothing below resolves ``auto`` again for the project's device (a recipe that asks for
another device gets ``auto`` resolved for that device, by :meth:`Project.precision_on`);
``pyproject.toml`` is parsed once, here. The history store is ``Settings.history`` and the MLflow
tracking URI ``Settings.mlflow_tracking_uri``: both None when the command line turned recording off
(``--harness-no-history``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cases import CaseRegistry
from harness.run.config import DEVICES, PRECISIONS, ConfigError, RecipeRegistry, builtin_recipes
from harness.run.precision import AUTO_PRECISION, check_device_available, check_precision, resolve_precision
from harness.project_config import HarnessTable, read_cases, read_gate_policy, read_metrics, read_recipes, read_tasks
from harness.run.provenance import resolve_device
from harness.quality.gate import GatePolicy
from harness.settings import Settings, default_cache_dir, environment_values
from harness.tasks.metrics import MetricRegistry, builtin_metrics
from harness.tasks.registry import TaskRegistry, builtin_tasks

DEFAULT_DEVICE = "auto"
DEFAULT_PRECISION = "fp32"
DEFAULT_HISTORY = Path(".harness") / "history.sqlite"  # beside pyproject.toml: kept across runs, unlike reports/
GATE_FLAGS = ("procedure", "sigmas", "floor", "bootstrap_samples")


@dataclass(frozen=True)
class ProjectFlags:
    """What the command line said; None is "not given" (see the module docstring's order)."""

    data_dir: Path | None = None
    cache_dir: Path | None = None
    reports_dir: Path | None = None
    baselines_dir: Path | None = None
    history: Path | None = None
    record_history: bool = True  # False: --harness-no-history, whatever the store's path
    mlflow_tracking_uri: str | None = None
    device: str | None = None
    precision: str | None = None
    # [tool.harness.gate] values given as flags: procedure, sigmas, floor, bootstrap_samples.
    gate: Mapping[str, Any] = field(default_factory=dict)
    prefix: str = "--"  # how the entry point spells its flags (the plugin's are --harness-*), for messages

    def __post_init__(self) -> None:
        unknown = sorted(set(self.gate) - set(GATE_FLAGS))
        if unknown:
            raise ConfigError(f"gate flags {unknown} are not settable from the command line; valid: {', '.join(GATE_FLAGS)}")


@dataclass(frozen=True)
class Project:
    """The resolved settings of one project; built by :meth:`load`, never re-read below it."""

    root: Path
    pyproject: Path | None  # None: built in code (:meth:`of`), from no pyproject.toml
    settings: Settings
    baselines_dir: Path
    device: str  # concrete: cpu, cuda, cuda:N or mps
    precision: str  # concrete, and trainable on ``device``
    policy: GatePolicy
    recipes: RecipeRegistry
    tasks: TaskRegistry
    cases: CaseRegistry
    metrics: MetricRegistry = field(default_factory=builtin_metrics)  # the built-ins and [tool.harness.metrics]
    # What was asked for (``auto`` or a precision): a config on another device than the project's (a
    # recipe that asks for cuda) resolves ``auto`` for its own device, from this.
    asked_precision: str | None = None

    def precision_on(self, device: str) -> str:
        """The precision a config on ``device`` trains in: :attr:`precision` on the project's own device."""
        if self.asked_precision is None or resolve_device(device) == self.device:
            return self.precision
        return resolve_precision(self.asked_precision, device)

    @classmethod
    def of(cls, settings: Settings, baselines_dir: Path, *, device: str = DEFAULT_DEVICE, precision: str = DEFAULT_PRECISION,
           policy: GatePolicy | None = None, recipes: RecipeRegistry | None = None, tasks: TaskRegistry | None = None,
           cases: CaseRegistry | None = None, metrics: MetricRegistry | None = None) -> Project:
        """A project built in code, from no ``pyproject.toml``: the given values, the built-ins for the rest.

        The device and precision are resolved and checked as :meth:`load` resolves a flag's."""
        flags = ProjectFlags(device=device, precision=precision, prefix="")
        asked, (device, precision) = precision, _hardware(flags, {}, None)
        policy = GatePolicy() if policy is None else policy
        metrics = policy.metric_registry if metrics is None else metrics
        return cls(root=Path("."), pyproject=None, settings=settings, baselines_dir=Path(baselines_dir), device=device,
                   precision=precision, policy=policy, recipes=builtin_recipes() if recipes is None else recipes,
                   tasks=builtin_tasks() if tasks is None else tasks, cases=CaseRegistry() if cases is None else cases,
                   metrics=metrics, asked_precision=asked)

    @classmethod
    def load(cls, pyproject: Path, *, flags: ProjectFlags | None = None, environ: Mapping[str, str] | None = None,
             environment: Settings | None = None) -> Project:
        """Read ``pyproject`` (absent: no project settings) once and resolve every setting in order.

        The environment is ``environ`` (default ``os.environ``), or ``environment``: a :class:`Settings`
        that stands in for it whole (a test's), every value it holds counting as set."""
        flags = flags or ProjectFlags()
        table = HarnessTable.read(pyproject)
        root = pyproject.parent  # relative when pyproject is: a CLI's paths stay as the user wrote them
        env = environment_values(environ) if environment is None else _as_environment(environment)
        tops = table.top_level()

        def path(name: str, default: Path) -> Path:
            if getattr(flags, name) is not None:
                return Path(getattr(flags, name)).expanduser()
            if name in tops:
                return root / Path(tops[name]).expanduser()
            if env.get(name) is not None:
                return env[name]
            return default

        data_dir = path("data_dir", None)  # type: ignore[arg-type]
        settings = Settings(data_dir=data_dir, cache_dir=path("cache_dir", default_cache_dir()),
                            reports_dir=path("reports_dir", root / "reports"), hub_offline=env["hub_offline"],
                            step_summary=env.get("step_summary"),
                            history=path("history", root / DEFAULT_HISTORY) if flags.record_history else None,
                            mlflow_tracking_uri=_first(flags.mlflow_tracking_uri, tops.get("mlflow_tracking_uri"),
                                                       env.get("mlflow_tracking_uri")) if flags.record_history else None)
        device, precision = _hardware(flags, tops, pyproject)
        metrics = read_metrics(table)
        recipes, tasks = read_recipes(table), read_tasks(table, metrics=metrics)
        return cls(root=root, pyproject=pyproject, settings=settings, baselines_dir=path("baselines_dir", root / "baselines"),
                   device=device, precision=precision, policy=_policy(table, flags, metrics), recipes=recipes, tasks=tasks,
                   cases=read_cases(table, tasks=tasks, recipes=recipes, metrics=metrics), metrics=metrics,
                   asked_precision=flags.precision if flags.precision is not None else tops.get("precision", DEFAULT_PRECISION))


def _first(*values: str | None) -> str | None:
    """The first value given, in the order flag, pyproject, environment."""
    return next((value for value in values if value is not None), None)


def _as_environment(settings: Settings) -> dict[str, Any]:
    return {key: value for key, value in dataclasses.asdict(settings).items() if value is not None}


def _hardware(flags: ProjectFlags, tops: Mapping[str, Any], pyproject: Path | None) -> tuple[str, str]:
    """The concrete device and precision, the precision refused where the device cannot train in it
    (bf16 on a CPU without native bf16 would be emulated and about 100 times slower; fp16 needs CUDA)."""
    device = flags.device if flags.device is not None else tops.get("device", DEFAULT_DEVICE)
    precision = flags.precision if flags.precision is not None else tops.get("precision", DEFAULT_PRECISION)
    said = {name: (f"{flags.prefix}{name}={value}" if getattr(flags, name) is not None
                   else f"{pyproject}: [tool.harness] {name} = {value!r}" if name in tops
                   else f"the default {name} {value!r}")
            for name, value in (("device", device), ("precision", precision))}
    if device not in DEVICES:
        raise ConfigError(f"{said['device']}: unknown device; use one of {', '.join(DEVICES)}")
    if precision not in (*PRECISIONS, AUTO_PRECISION):
        raise ConfigError(f"{said['precision']}: unknown precision; use one of {', '.join((*PRECISIONS, AUTO_PRECISION))}")
    try:
        check_device_available(resolve_device(device))  # "checked against this machine": a GPU project on a CPU says so now
    except ConfigError as error:
        raise ConfigError(f"{said['device']}: {error}") from None
    precision = resolve_precision(precision, device)
    try:
        check_precision(precision, device)  # before resolving, so the refusal says "'auto', which resolves to 'cpu'"
    except ConfigError as error:
        raise ConfigError(f"{said['precision']}: {error}") from None
    return resolve_device(device), precision


def _policy(table: HarnessTable, flags: ProjectFlags, metrics: MetricRegistry) -> GatePolicy:
    """``[tool.harness.gate]``, with the gate flags that were given on top."""
    policy = read_gate_policy(table, metric_registry=metrics)
    given = {key: value for key, value in flags.gate.items() if value is not None}
    try:
        return dataclasses.replace(policy, **given)
    except ConfigError as error:
        raise ConfigError(f"the command line's gate options: {error}") from error
