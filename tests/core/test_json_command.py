"""The command-line contract holds even for a failure nobody foresaw: with --json, exactly one
JSON document on stdout and exit 1; the traceback goes to stderr."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.management.base import JsonCommand


class Crashing(JsonCommand):
    def run(self, **options):
        raise KeyError("a bug")


def test_an_unexpected_error_prints_a_json_error_and_exits_1() -> None:
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError) as failed:
        call_command(Crashing(), "--json", stdout=out, stderr=err)

    assert failed.value.returncode == 1
    assert json.loads(out.getvalue()) == {"error": "internal error (KeyError); details on stderr", "code": "internal_error"}
    assert isinstance(failed.value.__cause__, KeyError)  # kept for whoever debugs it


def test_without_json_nothing_is_printed_on_stdout() -> None:
    out = io.StringIO()

    with pytest.raises(CommandError, match="internal error"):
        call_command(Crashing(), stdout=out, stderr=io.StringIO())

    assert out.getvalue() == ""
