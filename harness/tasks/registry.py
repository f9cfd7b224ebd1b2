"""Tasks by name: a registry a user can extend, and the built-in GLUE tasks to start from.

The registry is a plain object, not module state: :func:`builtin_tasks` hands each caller a fresh
copy, so a task one user registers (or replaces) never leaks into another's run or another test.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

from harness.tasks.glue import GLUE_TASKS
from harness.tasks.spec import TaskError, TaskSpec


class TaskRegistry:
    """Task specs by name, in the order they were registered.

    Iterating gives the specs; ``in`` takes a name (or a spec, which is in the registry when it is
    the one registered under its name).

    >>> tasks = builtin_tasks()
    >>> tasks.get("mrpc").metrics
    ('accuracy', 'f1')
    >>> custom = TaskSpec(name="news-topic", text_columns=("text",), num_labels=4,
    ...                   label_names=("world", "sports", "business", "tech"), metrics=("accuracy",))
    >>> _ = tasks.register(custom)
    >>> "news-topic" in tasks, "news-topic" in builtin_tasks()
    (True, False)
    """

    def __init__(self, specs: Iterable[TaskSpec] = ()) -> None:
        self._specs: dict[str, TaskSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: TaskSpec, *, replace: bool = False) -> TaskSpec:
        """Add ``spec`` under its name and return it; a name already taken needs ``replace=True``.

        Refusing a silent overwrite keeps two definitions of one task from racing: the second
        ``register("mrpc")`` would otherwise change every later result without a word.
        """
        if not isinstance(spec, TaskSpec):
            raise TaskError(f"register takes a TaskSpec, got {type(spec).__name__}: {spec!r}")
        if spec.name in self._specs and not replace:
            raise TaskError(
                f"task {spec.name!r} is already registered; pass replace=True to replace it, "
                "or give the new task another name"
            )
        self._specs[spec.name] = spec
        return spec

    def get(self, name: str) -> TaskSpec:
        """The spec registered as ``name``; an unknown name lists the known ones."""
        try:
            return self._specs[name]
        except (KeyError, TypeError):
            pass
        known = ", ".join(self._specs) or "none (the registry is empty)"
        close = difflib.get_close_matches(str(name), self._specs, n=1)
        hint = f" did you mean {close[0]!r}?" if close else ""
        raise TaskError(
            f"unknown task {name!r};{hint} known tasks: {known} (register a TaskSpec to add one)"
        ) from None

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._specs)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, TaskSpec):
            return self._specs.get(item.name) == item
        return isinstance(item, str) and item in self._specs

    def __iter__(self) -> Iterator[TaskSpec]:
        return iter(tuple(self._specs.values()))

    def __len__(self) -> int:
        return len(self._specs)

    def __repr__(self) -> str:
        return f"TaskRegistry({', '.join(self._specs)})"


def builtin_tasks() -> TaskRegistry:
    """A fresh registry holding the nine GLUE tasks; extend or replace entries in your own copy.

    >>> builtin_tasks().names()
    ('cola', 'sst2', 'mrpc', 'qqp', 'stsb', 'mnli', 'qnli', 'rte', 'wnli')
    """
    return TaskRegistry(GLUE_TASKS)
