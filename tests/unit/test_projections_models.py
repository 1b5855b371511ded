"""The read models that leave the process live in one module and follow one naming rule."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from pydantic import BaseModel

import projections
from projections import models
from projections.models import OutModel


def _projection_modules() -> list[str]:
    return [info.name for info in pkgutil.walk_packages(projections.__path__, "projections.")]


def test_every_outgoing_read_model_is_named_xxx_out() -> None:
    outgoing = [
        cls
        for _, cls in inspect.getmembers(models, inspect.isclass)
        if issubclass(cls, OutModel) and cls is not OutModel
    ]

    assert outgoing
    assert [c.__name__ for c in outgoing if not c.__name__.endswith("Out")] == []


def test_no_other_projections_module_defines_a_pydantic_model() -> None:
    elsewhere = [
        f"{name}.{cls.__name__}"
        for name in _projection_modules()
        if name != models.__name__
        for _, cls in inspect.getmembers(importlib.import_module(name), inspect.isclass)
        if issubclass(cls, BaseModel) and cls.__module__ == name
    ]

    assert elsewhere == []


def test_the_package_exports_every_outgoing_read_model() -> None:
    outgoing = {
        name
        for name, cls in inspect.getmembers(models, inspect.isclass)
        if issubclass(cls, OutModel) and cls.__module__ == models.__name__ and cls is not OutModel
    }

    assert outgoing <= set(projections.__all__)
