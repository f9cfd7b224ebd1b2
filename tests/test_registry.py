"""Registry: one type behind recipes, tasks, metrics and cases; each kind keeps its own error."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from harness.cases import CaseRegistry
from harness.run.config import ConfigError, RecipeRegistry, builtin_recipes
from harness.registry import Registry
from harness.tasks.metrics import MetricRegistry, UnknownMetricError, builtin_metrics
from harness.tasks.registry import TaskRegistry, builtin_tasks
from harness.tasks.spec import TaskError


@dataclass(frozen=True)
class Thing:
    name: str
    size: int = 0


class Things(Registry[Thing]):
    kind = "thing"
    item_type = Thing
    error = LookupError


class PathThings(Things):
    path_names = True


def test_registered_items_are_found_by_name_in_registration_order():
    things = Things([Thing("b"), Thing("a")])
    c = things.register(Thing("c"))

    assert things.get("c") is c
    assert things.names() == ("b", "a", "c")
    assert [t.name for t in things] == ["b", "a", "c"]
    assert len(things) == 3 and "a" in things and "z" not in things and 3 not in things
    assert repr(things) == "Things(b, a, c)"


def test_a_taken_name_is_refused_unless_replaced():
    things = Things([Thing("a", 1)])
    with pytest.raises(LookupError, match="thing 'a' is already registered; pass replace=True"):
        things.register(Thing("a", 2))
    assert things.get("a").size == 1

    things.register(Thing("a", 2), replace=True)
    assert things.get("a").size == 2 and things.names() == ("a",)


def test_an_unknown_name_suggests_the_closest_and_lists_the_known():
    things = Things([Thing("apple"), Thing("banana")])
    with pytest.raises(LookupError) as error:
        things.get("aple")
    assert str(error.value) == "unknown thing 'aple'; did you mean 'apple'? known things: apple, banana"
    with pytest.raises(LookupError, match=r"unknown thing 'zzz'; known things: apple, banana$"):
        things.get("zzz")
    with pytest.raises(LookupError, match="the registry is empty"):
        Things().get("apple")
    with pytest.raises(LookupError, match="unknown thing"):
        things.get(["unhashable"])  # type: ignore[arg-type]


def test_register_takes_only_the_registrys_item_type():
    with pytest.raises(LookupError, match="register takes a Thing, got dict"):
        Things().register({"name": "a"})  # type: ignore[arg-type]


def test_a_registry_whose_names_become_paths_checks_them():
    with pytest.raises(LookupError, match="thing name '../up' is not a valid name"):
        PathThings().register(Thing("../up"))
    Things().register(Thing("../up"))  # a registry whose names are not paths leaves them be


def test_registries_are_plain_objects_not_shared_state():
    mine = Things([Thing("a")])
    assert "a" not in Things()
    assert mine._items is not Things([Thing("a")])._items


@pytest.mark.parametrize(
    ("registry", "error", "name"),
    [
        (builtin_recipes(), ConfigError, "smok"),
        (builtin_tasks(), TaskError, "mrcp"),
        (builtin_metrics(), UnknownMetricError, "acuracy"),
        (CaseRegistry(), ConfigError, "mrpc-fast"),
    ],
)
def test_each_kind_is_a_registry_raising_its_own_error(registry, error, name):
    assert isinstance(registry, Registry)
    with pytest.raises(error, match=f"unknown {registry.kind} '{name}'"):
        registry.get(name)


@pytest.mark.parametrize(
    ("registry", "error"),
    [(builtin_recipes(), ConfigError), (builtin_tasks(), TaskError), (builtin_metrics(), ValueError)],
)
def test_each_kind_refuses_a_duplicate_with_its_own_error(registry, error):
    first = next(iter(registry))
    with pytest.raises(error, match=f"{registry.kind} '{first.name}' is already registered"):
        registry.register(dataclasses.replace(first))


def test_the_subclasses_keep_their_own_methods():
    recipes = RecipeRegistry(builtin_recipes())
    assert recipes.derive("quick", base="smoke", epochs=1.0).epochs == 1.0
    assert isinstance(builtin_tasks(), TaskRegistry) and isinstance(builtin_metrics(), MetricRegistry)
    assert builtin_metrics().function("accuracy")([1, 0], [1, 1]) == 0.5
