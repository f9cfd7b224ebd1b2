"""Seeds ahead under pytest-xdist (``--harness-seeds-ahead``): the items that train a gate's later
candidate runs into the shared run cache while the gate trains its first.

A gate whose config is known before it runs (a ``harness_case`` test, or one marked
``harness_recipe``) is followed, at collection, by items that fine-tune the candidate runs the
gate's procedure would ask for next (:func:`harness.quality.seeds_ahead.planned_seeds`). The items
carry the gate's markers, so ``-m`` and ``-k`` select them with it, and never run without it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import pytest

from harness.cases import Case
from harness.run.config import ConfigError, RunConfig
from harness.quality.seeds_ahead import NothingAhead, planned_seeds
from harness.session import HarnessSession


@dataclass(frozen=True)
class GateTarget:
    """What a gate test checks, known before it runs: one of the project's cases (its ``harness_case``
    parameter), or the recipe and RunConfig fields of its ``harness_recipe`` marker."""

    case: Case | None = None
    recipe: str | None = None
    fields: tuple[tuple[str, Any], ...] = ()

    def config(self, session: HarnessSession) -> RunConfig:
        return session.case_config(self.case) if self.case else session.config(self.recipe, **dict(self.fields))

    def candidate_config(self, session: HarnessSession, run: int) -> RunConfig:
        """The config the gate fine-tunes as its ``run``-th candidate run (raises NothingAhead)."""
        if self.case:
            return session.candidate_config(self.config(session), run=run, policy=self.case.policy(session.policy),
                                            case=self.case.name)
        return session.candidate_config(self.config(session), run=run)

    def max_runs(self, session: HarnessSession) -> int:
        return (self.case.policy(session.policy) if self.case else session.policy).max_runs

    def __str__(self) -> str:
        if self.case:
            return f"case {self.case.name}"
        return f"harness_recipe({', '.join([repr(self.recipe), *(f'{k}={v!r}' for k, v in self.fields)])})"


def gate_target(item: pytest.Item) -> GateTarget | None:
    """The gate ``item`` runs, where its config is known before it runs; a malformed marker is a usage error."""
    case = getattr(getattr(item, "callspec", None), "params", {}).get("harness_case")
    if isinstance(case, Case):
        return GateTarget(case=case)
    marker = item.get_closest_marker("harness_recipe")
    if marker is None:
        return None
    if len(marker.args) != 1 or not isinstance(marker.args[0], str):
        raise pytest.UsageError(f"{item.nodeid}: harness_recipe takes one recipe name and RunConfig fields by keyword, "
                                f"e.g. @pytest.mark.harness_recipe(\"minilm-cpu\"), got args {marker.args!r}")
    return GateTarget(recipe=marker.args[0], fields=tuple(marker.kwargs.items()))


# The gate's own markers an item ahead of it takes: all but how the gate is called and whether it may fail.
_GATE_ONLY_MARKERS = frozenset({"parametrize", "usefixtures", "xfail", "harness_recipe"})


class SeedPrefetch(pytest.Item):
    """One of a gate's later candidate runs, fine-tuned into the shared run cache ahead of the gate
    (``--harness-seeds-ahead``). It carries the gate's markers and its name starts with the gate's,
    so ``-m`` and ``-k`` select it with its gate; it never runs without its gate."""

    def __init__(self, *, gate: pytest.Item, target: GateTarget, run: int, harness_session: HarnessSession,
                 finished: set[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate, self.target, self.run = gate, target, run
        self.harness_session, self.finished = harness_session, finished
        for mark in gate.own_markers:
            if mark.name not in _GATE_ONLY_MARKERS:
                self.add_marker(getattr(pytest.mark, mark.name).with_args(*mark.args, **mark.kwargs))

    def runtest(self) -> None:
        session = self.harness_session
        try:
            config = self.target.candidate_config(session, self.run)
        except NothingAhead as why:
            pytest.skip(f"nothing to train ahead of {self.gate.name}: {why}")
        if self.gate.nodeid in self.finished:
            pytest.skip(f"{self.gate.name} already finished in this process, with every run it needed: "
                        f"training seed {config.seed} now is moot")
        capture = self.config.pluginmanager.getplugin("capturemanager")
        live = session.show_progress and capture is not None
        with capture.global_and_fixture_disabled() if live else contextlib.nullcontext():
            session.fine_tune(config)

    def reportinfo(self):
        path, lineno, _ = self.gate.reportinfo()
        return path, lineno, self.name


def items_ahead(gate: pytest.Item, session: HarnessSession, ahead: int, finished: set[str]) -> list[SeedPrefetch]:
    """The items that train ``gate``'s candidate runs 2 to ``ahead + 1`` (no further than its policy's
    cap), named after their seeds where the baseline says them, else after their run numbers."""
    target = gate_target(gate)
    if target is None:
        return []
    try:
        runs = min(ahead, target.max_runs(session) - 1)
        seeds = planned_seeds(target.config(session), session.store, runs)
    except (ConfigError, TypeError):  # a config that cannot be built: the items fail with the reason when they run
        runs, seeds = ahead, None
    names = [f"seed{seed}" for seed in seeds] if seeds else [f"run{run}" for run in range(2, runs + 2)]
    return [SeedPrefetch.from_parent(gate.parent, name=f"{gate.name}::prefetch-{name}", gate=gate, target=target, run=run,
                                    harness_session=session, finished=finished)
            for run, name in enumerate(names, start=2)]


def drop_orphans(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the items ahead whose gate ``-k``, ``-m`` or ``--deselect`` did not select."""
    selected = {id(item) for item in items}
    orphans = [item for item in items if isinstance(item, SeedPrefetch) and id(item.gate) not in selected]
    if orphans:
        config.hook.pytest_deselected(items=orphans)
        items[:] = [item for item in items if id(item) not in {id(orphan) for orphan in orphans}]


class HarnessRecipeWarning(pytest.PytestWarning):
    """A test's ``harness_recipe`` marker names another config than the one it gates."""


def declaration_problem(target: GateTarget, session: HarnessSession, config: RunConfig) -> str | None:
    """What is wrong with a ``harness_recipe`` marker on a test that gates ``config``, or None."""
    try:
        declared = target.config(session).to_dict()
    except (ConfigError, TypeError) as error:
        return f"its marker {target} builds no config ({error})"
    checked = config.to_dict()
    differ = sorted(key for key in declared.keys() | checked.keys() if declared.get(key) != checked.get(key))
    if not differ:
        return None
    return f"its marker {target} builds another config than the one it gates (they differ in {', '.join(differ)})"
