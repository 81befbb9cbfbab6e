"""The backend registry every pluggable kind uses: short names, dotted paths, clear refusals."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from core.registry import BackendRegistry


class Greeter:
    def greet(self) -> str:
        raise NotImplementedError


class Hello(Greeter):
    def greet(self) -> str:
        return "hello"


class Bonjour(Greeter):
    def greet(self) -> str:
        return "bonjour"


class NotAGreeter:
    def greet(self) -> str:
        return "hi"


def not_a_class() -> str:
    return "hi"


def registry() -> BackendRegistry[Greeter]:
    return BackendRegistry(
        kind="greeter",
        setting="CLEANROOM_GREETER['BACKEND']",
        base=Greeter,
        builtins={"hello": "tests.core.test_registry.Hello", "bonjour": "tests.core.test_registry.Bonjour"},
    )


def test_a_short_name_loads_its_builtin_class():
    assert registry().load("hello")().greet() == "hello"


def test_a_dotted_path_loads_a_class_that_is_not_built_in():
    greeters = BackendRegistry(kind="greeter", setting="S", base=Greeter, builtins={})

    assert greeters.load("tests.core.test_registry.Bonjour") is Bonjour


def test_a_loaded_class_is_imported_once():
    greeters = registry()

    assert greeters.load("hello") is greeters.load("hello") is Hello


@pytest.mark.parametrize("name", ["hola", "", "tests.core.test_registry.Hola", "tests.core.no_such_module.Hola"])
def test_an_unknown_name_is_refused_naming_the_setting_and_the_known_backends(name: str):
    with pytest.raises(ImproperlyConfigured) as refused:
        registry().load(name)

    message = str(refused.value)
    assert message.startswith("CLEANROOM_GREETER['BACKEND']: unknown greeter backend")
    assert repr(name) in message and "known: bonjour, hello" in message


@pytest.mark.parametrize("path", ["tests.core.test_registry.NotAGreeter", "tests.core.test_registry.not_a_class"])
def test_a_path_to_something_that_is_not_the_right_kind_is_refused(path: str):
    with pytest.raises(ImproperlyConfigured, match=r"is not a tests\.core\.test_registry\.Greeter"):
        registry().load(path)


def test_an_unknown_name_is_also_a_value_error_for_callers_that_catch_one():
    with pytest.raises(ValueError, match="unknown greeter backend"):
        registry().load("hola")
