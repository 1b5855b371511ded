"""One documented error root per layer; every error has a code, and a field where one is wrong."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import api
import domain
import ledger
import projections
from api.errors import ApiError
from domain.errors import DomainError
from ledger.errors import LedgerError
from projections.errors import ProjectionError

ROOTS = {
    "domain": DomainError,
    "ledger": LedgerError,
    "projections": ProjectionError,
    "api": ApiError,
}


def _error_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for package in (domain, ledger, projections, api):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            module = importlib.import_module(info.name)
            for _, value in inspect.getmembers(module, inspect.isclass):
                if (
                    issubclass(value, BaseException)
                    and value.__module__ == info.name
                    and not value.__name__.startswith("_")
                ):
                    found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


ERRORS = _error_classes()


def test_the_tree_has_the_errors_of_every_layer() -> None:
    names = {error.__name__ for error in ERRORS}
    assert {"DomainError", "LedgerError", "ProjectionError", "ApiError"} <= names
    assert {"MerkleError", "NoteError", "LogError", "BundleError", "NotCanonical"} <= names
    assert {"RebuildFailed", "InvalidQuery", "DemoRefused"} <= names


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: e.__name__)
def test_every_public_error_descends_from_its_layers_one_root(error: type[BaseException]) -> None:
    layer = error.__module__.split(".", 1)[0]
    assert issubclass(error, ROOTS[layer]), f"{error.__name__} is outside {ROOTS[layer].__name__}"
    for other_layer, root in ROOTS.items():
        if other_layer != layer:
            assert not issubclass(error, root)
    assert not issubclass(error, (ValueError, TypeError))


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: e.__name__)
def test_every_error_has_a_stable_code_and_a_field(error: type[BaseException]) -> None:
    code = getattr(error, "code", None)
    assert isinstance(code, str)
    assert code == code.lower()
    assert " " not in code
    if error in ROOTS.values():
        instance = error("refused", field="pledge_id")  # type: ignore[call-arg]
        assert (instance.field, str(instance)) == ("pledge_id", "pledge_id: refused")  # type: ignore[attr-defined]


def test_no_http_header_name_is_a_ledger_field() -> None:
    from ledger.errors import ConcurrencyConflict

    conflict = ConcurrencyConflict("stale", stream_id="pledge:x", expected=1, actual=2)
    assert conflict.field == "expected_version"
