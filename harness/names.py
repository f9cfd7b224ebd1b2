"""The rule for names that become file names: tasks, recipes, cases and evaluation splits.

A task's, a recipe's and a case's name (a case is a recipe named after it) and an evaluation split's
name are written into a baseline's file name (``<task>--<recipe>--<model>--<split>--<device>-<precision>.json``)
and into a run's folder in the cache, so each is a path component and is checked as one where it
enters (a ``pyproject.toml`` table, a :class:`~harness.run.config.Recipe`, a
:class:`~harness.tasks.spec.TaskSpec`), never where a file is first written. The rule:

- lowercase letters, digits, ``.``, ``_`` and ``-``: no separator (``/``, ``\\``), no control
  character, nothing a shell or another platform reads specially; lowercase because on the
  case-insensitive file systems of macOS and Windows ``Smoke`` and ``smoke`` would be one baseline;
- a letter or digit first, so no name is ``..``, hidden (``.x``) or taken for an option (``-x``);
- never ``--``, which separates the parts of a baseline's file name: task ``a--b`` with recipe ``c``
  and task ``a`` with recipe ``b--c`` would otherwise share one baseline;
- at most 64 characters: a run folder joins the task, the recipe, the model and more into one
  name, which file systems cap at 255 bytes.

Every built-in (``minilm-cpu-reinit``, ``validation_mismatched``) and every committed baseline's
names keep to it.

>>> path_name_problem("minilm-cpu") is None
True
>>> print(path_name_problem("../escaped"))
'../escaped' is not a valid name: it becomes part of file names (baselines, run folders), so use 1 to 64 lowercase letters, digits, '.', '_' and '-', starting with a letter or digit and never '--' (e.g. 'my-case')
"""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 64
PATH_NAME_RULE = (f"1 to {MAX_NAME_LENGTH} lowercase letters, digits, '.', '_' and '-', starting with a letter or digit "
                  "and never '--'")
_PATH_NAME = re.compile(rf"[a-z0-9][a-z0-9._-]{{0,{MAX_NAME_LENGTH - 1}}}")


def path_name_problem(name: object, *, example: str = "my-case") -> str | None:
    """Why ``name`` cannot name a task, recipe, case or split (see the module docstring), or None when it can."""
    if isinstance(name, str) and _PATH_NAME.fullmatch(name) and "--" not in name:
        return None
    shown = f"{name[:40]!r}... ({len(name)} characters)" if isinstance(name, str) and len(name) > 60 else repr(name)
    return (f"{shown} is not a valid name: it becomes part of file names (baselines, run folders), so use "
            f"{PATH_NAME_RULE} (e.g. {example!r})")
