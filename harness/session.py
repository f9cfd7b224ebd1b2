"""What one pytest (or CLI) session shares: its Project (settings, device, precision, gate policy,
registries), the run cache, the baseline store, and the verdicts collected for the end-of-session
reports. A plain object; the pytest plugin only builds it from options and hands it to fixtures.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.quality.baselines import BaselineStore, MeasuredBaseline
from harness.run.cache import RunCache
from harness.cases import Case, CaseRegistry
from harness.run.config import Recipe, RecipeRegistry, RunConfig
from harness.quality.gate import GatePolicy
from harness.quality.regression import DEFAULT_BASELINE_SEEDS, GatePlan, QualityOutcome, name_for, perform_quality_check
from harness.quality.report import QualitySummary
from harness.quality.seeds_ahead import candidate_config
from harness.run.result import RunResult
from harness.settings import Settings
from harness.tasks.registry import TaskRegistry
from harness.run.precision import resolve_precision
from harness.project import Project
from harness.throughput.runner import ThroughputResult, ThroughputSkip
from harness.run.training import fine_tune

log = logging.getLogger(__name__)


@dataclass
class HarnessSession:
    """One session's run options and what it collects, over a :class:`~harness.project.Project` it
    reads its settings, device, precision, gate policy and registries from, and never re-resolves."""

    project: Project
    force_regen: bool = False
    baseline_seeds: int = DEFAULT_BASELINE_SEEDS
    show_progress: bool = True
    seed: int | None = None  # None: the recipe's
    faults: tuple[str, ...] = ()  # injected into every config this session builds
    nproc: int = 1  # training processes per fine-tune (DDP on this machine, see harness.run.distributed)
    run_started: float | None = None  # when the whole run began (the xdist controller's clock for every worker)
    # Every gate this session ran, in order, as the reports need it: verdicts and errors alike.
    verdicts: list[QualitySummary] = field(default_factory=list)
    throughput: list[ThroughputResult] = field(default_factory=list)
    throughput_skipped: list[ThroughputSkip] = field(default_factory=list)
    regenerated: dict[str, MeasuredBaseline] = field(default_factory=dict)  # baselines re-measured this session
    _memo: dict[str, RunResult] = field(default_factory=dict, repr=False)

    @property
    def settings(self) -> Settings:
        return self.project.settings

    @property
    def baselines_dir(self) -> Path:
        return self.project.baselines_dir

    @property
    def device(self) -> str:
        return self.project.device

    @property
    def precision(self) -> str:
        return self.project.precision

    @property
    def policy(self) -> GatePolicy:
        return self.project.policy

    @property
    def recipes(self) -> RecipeRegistry:
        return self.project.recipes

    @property
    def tasks(self) -> TaskRegistry:
        return self.project.tasks

    @property
    def cases(self) -> CaseRegistry:
        return self.project.cases

    @property
    def store(self) -> BaselineStore:
        return BaselineStore(self.baselines_dir, metrics=self.policy.metric_registry)

    @property
    def cache(self) -> RunCache:
        return RunCache(self.settings.cache_dir, hub_offline=self.settings.hub_offline)

    def config(self, recipe: str | Recipe, **changes: Any) -> RunConfig:
        """A run config from a named recipe with this session's data, device, precision, seed and injected faults.

        A task is named from this session's registry (the built-ins and the project's). The
        settings' data folder is the data of a config that names none (no ``data_dir``, no ``data_files``).
        """
        if self.seed is not None:
            changes.setdefault("seed", self.seed)
        changes.setdefault("world_size", self.nproc)
        changes["faults"] = tuple(changes.get("faults", ())) + self.faults
        if not changes.get("data_files"):
            changes.setdefault("data_dir", self.settings.data_dir)
        changes.setdefault("device", self.device)
        if "precision" in changes:
            changes["precision"] = resolve_precision(changes["precision"], changes["device"])
        else:
            changes["precision"] = self.project.precision_on(changes["device"])
        changes.setdefault("output_dir", self.settings.cache_dir / "work")
        return RunConfig.from_recipe(recipe, recipes=self.recipes, tasks=self.tasks, metrics=self.project.metrics, **changes)

    def fine_tune(self, config: RunConfig) -> RunResult:
        """The fine-tune for ``config``: once per session in memory, once per key on disk."""
        key = config.to_json()
        if key not in self._memo:
            self._memo[key] = self.cache.get_or_run(config, self._train)
        return self._memo[key]

    def _train(self, config: RunConfig) -> RunResult:
        if config.world_size == 1:
            return fine_tune(config, hub_offline=self.settings.hub_offline, show_progress=self.show_progress,
                             metrics=self.policy.metric_registry)
        from harness.run.distributed import Launch, launch_fine_tune

        return launch_fine_tune(config, Launch(nproc_per_node=config.world_size), hub_offline=self.settings.hub_offline,
                                show_progress=self.show_progress, import_root=self.project.root)

    def case_config(self, case: Case, **changes: Any) -> RunConfig:
        """The run config of one of the project's cases, with this session's device, seed and faults."""
        return self.config(case.recipe, **{**case.config_changes(), **changes})

    def check_case(self, case: Case) -> QualityOutcome:
        """Gate a case against its own baseline, with its own metrics, effects and margins."""
        try:
            config, policy = self.case_config(case), case.policy(self.policy)
        except Exception as error:
            self.verdicts.append(QualitySummary.errored(f"case {case.name}", error))
            raise
        return self.check_quality(config, policy=policy, case=case.name)

    def candidate_config(self, config: RunConfig, *, run: int, policy: GatePolicy | None = None,
                         case: str | None = None) -> RunConfig:
        """The config :meth:`check_quality` would fine-tune as its gate's ``run``-th candidate run, to
        train ahead of it; raises :class:`harness.quality.seeds_ahead.NothingAhead` when it would not."""
        return candidate_config(config, run=run, store=self.store, policy=self.policy if policy is None else policy,
                                force_regen=self.force_regen, case=case)

    def check_quality(self, config: RunConfig, *, policy: GatePolicy | None = None, case: str | None = None) -> QualityOutcome:
        """Gate ``config``; a gate that raises is recorded as FAILED, with its error, before the error propagates."""
        try:
            plan = GatePlan.of(config, self.policy if policy is None else policy, case=case)  # resolved once, here
        except Exception as error:  # no plan: name the gate by its baseline where the config has one, else its recipe
            self.verdicts.append(self._unplanned(config, error))
            raise
        try:
            outcome = perform_quality_check(plan, fine_tune=self.fine_tune, store=self.store, force_regen=self.force_regen,
                                            seeds=self.baseline_seeds, regenerated=self.regenerated,
                                            run_started=self.run_started)
        except Exception as error:
            self.verdicts.append(QualitySummary.errored(plan.baseline, error, baseline_path=str(self.store.path(plan.baseline))))
            raise
        self.verdicts.append(QualitySummary.of(outcome))
        return outcome

    def _unplanned(self, config: RunConfig, error: BaseException) -> QualitySummary:
        """The FAILED verdict of a gate whose plan could not be made (an unknown metric, a bad config)."""
        try:
            name = name_for(config)
        except Exception:  # the config itself is what failed
            return QualitySummary.errored(f"recipe {getattr(getattr(config, 'recipe', None), 'name', config)!r}", error)
        return QualitySummary.errored(name, error, baseline_path=str(self.store.path(name)))
