"""The sequential gate's later candidate runs, named before the gate runs, so they can be trained ahead.

The sequential gate (:class:`harness.quality.procedures.SequentialProcedure`) fine-tunes its candidate
seeds one at a time: the config's own seed, then, unless that run reproduces a baseline seed (see
:func:`harness.quality.gate.reproduced_seed`),
fresh seeds after the baseline's, until every gated metric decides. Which seeds those are depends only
on the config and the baseline, so other processes sharing the run cache can train them while the
gate trains its first: the gate then finds them in the cache, or waits on an entry's lock while
another process finishes it. ``pytest -n N --harness-seeds-ahead=K`` does this through pytest-xdist
(see :mod:`harness.plugin`).

:func:`candidate_config` is the config of the gate's ``run``-th candidate run, as the gate's own
procedure names it, or :class:`NothingAhead` saying why the gate will never ask for that run.

No deadlock is possible between a gate and the processes training ahead of it: a process holds the
lock of at most one cache entry at a time, the one it is training (``RunCache.get_or_run``), and
never waits for an entry while holding another, so no chain of waits can close into a cycle.
"""

from __future__ import annotations

import itertools

from harness.run.config import ConfigError, RunConfig
from harness.quality.baselines import BaselineError, BaselineStore
from harness.quality.gate import GatePolicy
from harness.quality.regression import GatePlan, name_for, procedure_for
from harness.quality.sequential_check import candidate_seeds


class NothingAhead(Exception):
    """Why training one of a gate's later runs ahead would be wasted: the gate will not ask for it."""


def candidate_config(config: RunConfig | GatePlan, *, run: int, store: BaselineStore, policy: GatePolicy = GatePolicy(),
                     force_regen: bool = False, case: str | None = None) -> RunConfig:
    """The config the gate of ``config`` (a :class:`GatePlan`, or a config ``policy`` and ``case`` make
    one) fine-tunes as its ``run``-th candidate run (2 is the first after the config's own); raises
    :class:`NothingAhead` when the gate will not ask for it.

    Which seeds a gate asks for is its procedure's to say (:func:`procedure_for`, the one the gate
    itself runs): the band check asks for one, the sequential gate for up to its cap. With
    ``force_regen`` the gate re-measures the baseline instead; problems the gate itself reports
    before training (an unreadable baseline, metrics the task lacks) are reasons too.
    """
    if run < 2:
        raise ValueError(f"run 1 is the gate's own first run; runs ahead count from 2, got {run}")
    if force_regen:
        raise NothingAhead("--harness-force-regen re-measures the baseline instead of running the sequential gate")
    try:
        plan = config if isinstance(config, GatePlan) else GatePlan.of(config, policy, case=case)
        baseline = store.load(plan.baseline)
        if baseline is None:
            raise NothingAhead(f"no baseline at {store.path(plan.baseline)}: the gate trains only its first seed "
                               f"({plan.config.seed}) and fails, so there is nothing to train ahead of it")
        procedure = procedure_for(plan, baseline, store)
    except (ConfigError, BaselineError) as error:
        raise NothingAhead(f"the gate stops before it trains: {error}") from error
    seeds = procedure.seeds(plan.config, baseline)
    if run > len(seeds):
        raise NothingAhead(procedure.why_not(plan.config, run))
    return plan.config.replace(seed=seeds[run - 1])


def planned_seeds(config: RunConfig, store: BaselineStore, runs: int) -> tuple[int, ...] | None:
    """The seeds of candidate runs 2 to ``runs + 1`` from the stored baseline, or None where there is
    no readable baseline: what the plugin names its items after, before anything runs. The seeds
    come from the one sequence every procedure draws from (:func:`~harness.quality.sequential_check.candidate_seeds`);
    whether the gate will ask for a run is :func:`candidate_config`'s to say, when the item runs."""
    try:
        baseline = store.load(name_for(config))
    except BaselineError:
        return None
    if baseline is None:
        return None
    return tuple(itertools.islice(candidate_seeds(config, baseline), 1, runs + 1))
