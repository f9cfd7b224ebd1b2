"""Tasks by name: a registry a user can extend, and the built-in GLUE tasks to start from.

The registry is a plain object, not module state: :func:`builtin_tasks` hands each caller a fresh
copy, so a task one user registers (or replaces) never leaks into another's run or another test.
"""

from __future__ import annotations

from harness.registry import Registry
from harness.tasks.glue import GLUE_TASKS
from harness.tasks.spec import TaskError, TaskSpec


class TaskRegistry(Registry[TaskSpec]):
    """Task specs by name, in the order they were registered (a :class:`harness.registry.Registry`).

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

    kind = "task"
    item_type = TaskSpec
    error = TaskError
    path_names = True
    hint = " (register a TaskSpec to add one)"

    def __contains__(self, item: object) -> bool:
        if isinstance(item, TaskSpec):
            return super().__contains__(item.name) and self.get(item.name) == item
        return super().__contains__(item)


def builtin_tasks() -> TaskRegistry:
    """A fresh registry holding the nine GLUE tasks; extend or replace entries in your own copy.

    >>> builtin_tasks().names()
    ('cola', 'sst2', 'mrpc', 'qqp', 'stsb', 'mnli', 'qnli', 'rte', 'wnli')
    """
    return TaskRegistry(GLUE_TASKS)
