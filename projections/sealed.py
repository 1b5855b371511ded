"""Decoding the payloads of the ledger's own stored envelopes, without validating them again.

Every stored envelope was sealed (``ledger.envelope.seal``) from a payload model that had passed
validation: its payload is the model's JSON dump, and the transparency log and the verifier
check the bytes independently. Validating such a payload again with pydantic was most of what a
rebuild spent (figures in benchmarks/RESULTS.md). ``decode_sealed`` builds the same model
instances directly, with a decoder compiled once per payload model from that model's own
pydantic core schema (so there is no second description of the payloads to keep in step):

- strings, numbers, booleans and literals are taken as they are (they were checked at sealing);
- dates are parsed from their ISO form;
- tuples, nested models and defaults for absent keys follow the schema;
- localized texts get their keys in the order of the language literal, as the validators give;
- the checks and normalisers (``AfterValidator`` and ``BeforeValidator`` functions) are skipped:
  they only refuse values, or normalise values that sealed payloads already hold normalised.

The result equals ``Envelope.decode_payload()`` on every sealed payload, field for field and in
key order (``tests/unit/test_projections_sealed.py``). It is for envelopes read from the store
only: a bundle from elsewhere is replayed with full validation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel

from domain.errors import InvalidInput
from domain.events import EVENT_SPECS, Payload
from ledger.envelope import Envelope

Decoder = Callable[[Any], Any]
"""Turns JSON data into a field's value; ``None`` stands for "take it as it is"."""

ModelT = TypeVar("ModelT", bound=BaseModel)

_IDENTITY = frozenset({"str", "int", "bool", "literal", "any"})
_MISSING = object()


class _Compiler:
    """Builds decoders from one model's core schema (its ``definitions`` included)."""

    def __init__(self) -> None:
        self.definitions: dict[str, dict[str, Any]] = {}
        self.compiled: dict[str, Decoder] = {}

    def decoder(self, schema: dict[str, Any]) -> Decoder | None:
        kind = schema["type"]
        if kind in _IDENTITY:
            return None
        if kind in ("function-after", "function-before"):
            return self.decoder(schema["schema"])
        if kind == "definitions":
            for definition in schema["definitions"]:
                self.definitions[definition["ref"]] = definition
            return self.decoder(schema["schema"])
        if kind == "definition-ref":
            return self._reference(schema["schema_ref"])
        if kind == "model":
            return self._model(schema)
        if kind == "date":
            return date.fromisoformat
        if kind == "nullable":
            inner = self.decoder(schema["schema"])
            if inner is None:
                return None
            return lambda value: None if value is None else inner(value)
        if kind in ("tuple", "list"):
            items = schema["items_schema"] if kind == "tuple" else [schema["items_schema"]]
            if kind == "tuple" and (len(items) != 1 or schema.get("variadic_item_index") != 0):
                raise TypeError(f"only homogeneous tuples are supported, not {schema}")
            item = self.decoder(items[0]) if items else None
            container = tuple if kind == "tuple" else list
            if item is None:
                return container
            return lambda values: container(map(item, values))
        if kind == "dict":
            return self._dict(schema)
        raise TypeError(f"no sealed decoder for a {kind!r} schema")

    def _reference(self, ref: str) -> Decoder:
        if ref not in self.compiled:
            # Compiled on first use (a model may refer to itself through its definitions).
            self.compiled[ref] = lambda value: self.compiled[ref](value)
            compiled = self.decoder(self.definitions[ref])
            self.compiled[ref] = compiled if compiled is not None else (lambda value: value)
        return self.compiled[ref]

    def _dict(self, schema: dict[str, Any]) -> Decoder:
        keys = schema.get("keys_schema", {"type": "any"})
        values = self.decoder(schema.get("values_schema", {"type": "any"}))
        if keys["type"] == "literal":
            order = tuple(keys["expected"])  # the validators give keys in the literal's order
            if values is None:
                return lambda data: {k: data[k] for k in order if k in data}
            return lambda data: {k: values(data[k]) for k in order if k in data}
        if self.decoder(keys) is not None:
            raise TypeError(f"no sealed decoder for dict keys {keys}")
        if values is None:
            return dict
        return lambda data: {k: values(v) for k, v in data.items()}

    def _model(self, schema: dict[str, Any]) -> Decoder:
        cls: type[BaseModel] = schema["cls"]
        fields_schema = schema["schema"]
        if fields_schema["type"] != "model-fields" or cls.model_config.get("extra") == "allow":
            raise TypeError(f"no sealed decoder for model {cls.__name__}")
        if cls.__pydantic_post_init__ or cls.__private_attributes__:
            raise TypeError(f"{cls.__name__} has a post-init or private attributes")
        names: list[str] = []
        decoders: list[Decoder | None] = []
        defaults: list[Callable[[], Any] | None] = []
        for name, field in fields_schema["fields"].items():
            inner = field["schema"]
            default: Callable[[], Any] | None = None
            if inner["type"] == "default":
                if "default_factory" in inner:
                    default = inner["default_factory"]
                else:
                    value = inner["default"]
                    default = lambda value=value: value  # noqa: E731
                inner = inner["schema"]
            names.append(name)
            decoders.append(self.decoder(inner))
            defaults.append(default)
        return _model_decoder(cls, names, decoders, defaults)


def _model_decoder(
    cls: type[BaseModel],
    names: list[str],
    decoders: list[Decoder | None],
    defaults: list[Callable[[], Any] | None],
) -> Decoder:
    """A function building ``cls`` from complete data in straight-line code (sealed payloads
    hold every field), falling back to a loop that fills absent fields with their defaults."""
    new = object.__new__
    set_attribute = object.__setattr__
    every_field = frozenset(names)
    # A frozen model's set of set fields is never added to (assignment is refused, and
    # ``model_copy`` copies the set first): every complete instance shares one, as the
    # stream cache does (``ledger.stream_cache.share_field_sets``), instead of 216 bytes each.
    shared = set(every_field) if cls.model_config.get("frozen") else None
    partial_sets: dict[frozenset[str], set[str]] = {}
    namespace: dict[str, Any] = {"decoders": decoders}
    items = ", ".join(
        f"{name!r}: data[{name!r}]"
        if decoder is None
        else f"{name!r}: decoders[{index}](data[{name!r}])"
        for index, (name, decoder) in enumerate(zip(names, decoders, strict=True))
    )
    exec(f"def values(data):\n    return {{{items}}}\n", namespace)  # noqa: S102
    complete: Callable[[dict[str, Any]], dict[str, Any]] = namespace["values"]

    def partial(data: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
        values: dict[str, Any] = {}
        present: set[str] = set()
        for name, decoder, default in zip(names, decoders, defaults, strict=True):
            value = data.get(name, _MISSING)
            if value is _MISSING:
                if default is None:
                    raise InvalidInput(f"{cls.__name__}.{name} is missing", field=name)
                values[name] = default()
            else:
                values[name] = value if decoder is None else decoder(value)
                present.add(name)
        if shared is not None:  # the same fields absent: the same shared set
            present = partial_sets.setdefault(frozenset(present), present)
        return values, present

    def decode(data: dict[str, Any]) -> BaseModel:
        try:
            values, present = complete(data), shared if shared is not None else set(every_field)
        except KeyError:
            values, present = partial(data)
        model = new(cls)
        set_attribute(model, "__dict__", values)
        set_attribute(model, "__pydantic_fields_set__", present)
        set_attribute(model, "__pydantic_extra__", None)
        set_attribute(model, "__pydantic_private__", None)
        return model

    return decode


def sealed_decoder(model: type[ModelT]) -> Callable[[dict[str, Any]], ModelT]:
    """A decoder of ``model`` from JSON data that a validated instance of it was dumped to (the
    payloads of sealed envelopes, the content kept in the pledges table)."""
    decoder = _Compiler().decoder(dict(model.__pydantic_core_schema__))
    if decoder is None:
        raise TypeError(f"{model.__name__} did not compile to a model decoder")
    return decoder


_DECODERS: dict[tuple[str, int], Decoder] = {
    (event_type, spec.schema_version): sealed_decoder(spec.payload)
    for event_type, spec in EVENT_SPECS.items()
}


def decode_sealed(envelope: Envelope) -> Payload:
    """The payload of an envelope the ledger sealed and stored (see the module doc)."""
    decoder = _DECODERS.get((envelope.type, envelope.schema_version))
    if decoder is None:  # older schema versions are upcast by the validating path
        return envelope.decode_payload()
    payload: Payload = decoder(envelope.payload)
    return payload
