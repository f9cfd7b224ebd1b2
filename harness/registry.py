"""One registry type: things by name, for recipes, tasks, metrics and cases alike.

A :class:`Registry` is a plain object, never module state: each session (or test) builds its own,
so what one project registers never leaks into another's run. A name maps to one item; registering
a taken name is refused unless ``replace=True``, so a typo cannot silently shadow a built-in, and an
unknown name is answered with the closest known one and the whole list. Each kind of registry is a
subclass that says what it holds and which error it raises, so an ``except ConfigError`` or
``except TaskError`` written for that kind keeps catching what it always caught.

>>> class Colours(Registry[str]):
...     kind = "colour"
...     @staticmethod
...     def name_of(item):
...         return item
>>> colours = Colours(["red", "green"])
>>> colours.get("gren")
Traceback (most recent call last):
...
KeyError: "unknown colour 'gren'; did you mean 'green'? known colours: red, green"
>>> "red" in colours, colours.names(), len(colours)
(True, ('red', 'green'), 2)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Generic, TypeVar

from harness.names import path_name_problem

T = TypeVar("T")


class Registry(Generic[T]):
    """Items by name, in the order they were registered.

    A subclass sets ``kind`` (the word in its messages), ``item_type`` (what ``register`` takes; None
    takes anything), ``error`` (raised for a refused registration) and ``unknown_error`` (raised by
    ``get``; default ``error``), and, where its names become file names, ``path_names = True``, so
    each name keeps to :func:`harness.names.path_name_problem`'s rule. ``hint`` ends the message for
    an unknown name: how to add one.
    """

    kind: ClassVar[str] = "item"
    item_type: ClassVar[type | None] = None
    error: ClassVar[type[Exception]] = KeyError
    unknown_error: ClassVar[type[Exception] | None] = None
    path_names: ClassVar[bool] = False
    hint: ClassVar[str] = ""
    close_cutoff: ClassVar[float] = 0.6  # how alike a known name must be to be suggested (difflib's ratio)

    def __init__(self, items: Iterable[T] = ()) -> None:
        self._items: dict[str, T] = {}
        for item in items:
            self.register(item)

    @staticmethod
    def name_of(item: Any) -> str:
        """The name ``item`` is registered under (its ``name`` attribute)."""
        return item.name

    def register(self, item: T, *, replace: bool = False) -> T:
        """Add ``item`` under its name and return it; a name already taken needs ``replace=True``.

        Refusing a silent overwrite keeps two definitions of one name from racing: the second would
        otherwise change every later result without a word.
        """
        if self.item_type is not None and not isinstance(item, self.item_type):
            raise self.error(f"register takes a {self.item_type.__name__}, got {type(item).__name__}: {item!r}")
        name = self.name_of(item)
        problem = path_name_problem(name, example=f"my-{self.kind}") if self.path_names else None
        if problem:
            raise self.error(f"{self.kind} name {problem}")
        if name in self._items and not replace:
            raise self.error(f"{self.kind} {name!r} is already registered; pass replace=True to replace it, "
                             f"or give the new {self.kind} another name")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        """The item registered as ``name``; an unknown name is answered with the closest and the known ones."""
        try:
            return self._items[name]
        except (KeyError, TypeError):  # TypeError: an unhashable "name"
            pass
        raise (self.unknown_error or self.error)(self.unknown_message(name)) from None

    def unknown_message(self, name: object) -> str:
        close = difflib.get_close_matches(str(name), self._items, n=1, cutoff=self.close_cutoff)
        suggestion = f" did you mean {close[0]!r}?" if close else ""
        known = ", ".join(self._items) or "none (the registry is empty)"
        return f"unknown {self.kind} {name!r};{suggestion} known {self.kind}s: {known}{self.hint}"

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(tuple(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self._items)})"
