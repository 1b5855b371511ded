"""The registry views: networks, cities, memberships and declaration signatures."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson
from sqlalchemy import Connection, select

from domain.values import Language
from projections.errors import InvalidQuery
from projections.models import CityOut, NetworkOut, ReferenceItemOut, SignatureOut
from projections.projector import ProjectionBatch
from projections.state import (
    CityRow,
    Membership,
    NetworkRow,
    ReferenceKey,
    ReferenceRow,
    Signature,
    ViewState,
)
from projections.tables import ViewTables, delete_rows, insert_rows, live_tables

CITY_COLUMNS = ("city_id", "name", "country", "registered_at")
NETWORK_COLUMNS = ("network_id", "name", "registered_at")
MEMBER_COLUMNS = ("network_id", "city_id", "joined_at")
SIGNATURE_COLUMNS = ("declaration_id", "city_id", "signed_on", "recorded_at")
REFERENCE_COLUMNS = (
    "kind",
    "item_id",
    "title",
    "starts_on",
    "ends_on",
    "registered_at",
    "retired_at",
    "retired_reason",
)
REFERENCE_KINDS = ("priority_area", "declaration", "call")


def _city_row(city: CityRow) -> tuple[str, ...]:
    return (city.city_id, orjson.dumps(city.name).decode(), city.country, city.registered_at)


def _network_row(network: NetworkRow) -> tuple[str, ...]:
    return (network.network_id, orjson.dumps(network.name).decode(), network.registered_at)


def _member_row(member: Membership) -> tuple[str, ...]:
    return (member.network_id, member.city_id, member.joined_at)


def _signature_row(signature: Signature) -> tuple[str, ...]:
    return (
        signature.declaration_id,
        signature.city_id,
        signature.signed_on.isoformat(),
        signature.recorded_at,
    )


def _reference_row(item: ReferenceRow) -> tuple[object, ...]:
    return (
        item.kind,
        item.item_id,
        orjson.dumps(item.title).decode(),
        item.starts_on,
        item.ends_on,
        item.registered_at,
        item.retired_at,
        item.retired_reason,
    )


class RegistryProjector:
    def apply(self, connection: Connection, tables: ViewTables, batch: ProjectionBatch) -> None:
        state, changes = batch.state, batch.changes
        # A registered row may be corrected later: changed rows are replaced.
        cities = sorted(changes.cities)
        delete_rows(connection, tables.cities, [(c,) for c in cities], key=("city_id",))
        insert_rows(
            connection, tables.cities, CITY_COLUMNS, [_city_row(state.cities[c]) for c in cities]
        )
        networks = sorted(changes.networks)
        delete_rows(connection, tables.networks, [(n,) for n in networks], key=("network_id",))
        insert_rows(
            connection,
            tables.networks,
            NETWORK_COLUMNS,
            [_network_row(state.networks[n]) for n in networks],
        )
        delete_rows(
            connection, tables.members, sorted(changes.members), key=("network_id", "city_id")
        )
        insert_rows(
            connection,
            tables.members,
            MEMBER_COLUMNS,
            [_member_row(m) for _, m in sorted(changes.members.items()) if m is not None],
        )
        # A withdrawn signature leaves the view (its history stays on the declaration's stream).
        signatures = sorted(changes.signatures)
        delete_rows(connection, tables.signatures, signatures, key=("declaration_id", "city_id"))
        insert_rows(
            connection,
            tables.signatures,
            SIGNATURE_COLUMNS,
            [_signature_row(state.signatures[k]) for k in signatures if k in state.signatures],
        )
        changed = sorted(changes.reference)
        delete_rows(connection, tables.reference_items, changed, key=("kind", "item_id"))
        insert_rows(
            connection,
            tables.reference_items,
            REFERENCE_COLUMNS,
            [_reference_row(state.reference[k]) for k in changed],
        )

    def load(self, connection: Connection, tables: ViewTables, state: ViewState) -> None:
        insert_rows(
            connection, tables.cities, CITY_COLUMNS, [_city_row(c) for c in state.cities.values()]
        )
        insert_rows(
            connection,
            tables.networks,
            NETWORK_COLUMNS,
            [_network_row(n) for n in state.networks.values()],
        )
        insert_rows(
            connection,
            tables.members,
            MEMBER_COLUMNS,
            [_member_row(m) for m in state.members.values()],
        )
        insert_rows(
            connection,
            tables.signatures,
            SIGNATURE_COLUMNS,
            [_signature_row(s) for s in state.signatures.values()],
        )
        insert_rows(
            connection,
            tables.reference_items,
            REFERENCE_COLUMNS,
            [_reference_row(item) for item in state.reference.values()],
        )


# --- queries ----------------------------------------------------------------------------------


def city(
    connection: Connection, city_id: str, *, tables: ViewTables | None = None
) -> CityOut | None:
    tables = tables or live_tables()
    cities, members = tables.cities, tables.members
    row = connection.execute(select(cities).where(cities.c.city_id == city_id)).one_or_none()
    if row is None:
        return None
    networks = connection.execute(
        select(members.c.network_id)
        .where(members.c.city_id == city_id)
        .order_by(members.c.network_id)
    ).scalars()
    return CityOut(
        city_id=row.city_id,
        name=orjson.loads(row.name),
        country=row.country,
        registered_at=row.registered_at,
        networks=tuple(networks),
    )


def network(
    connection: Connection, network_id: str, *, tables: ViewTables | None = None
) -> NetworkOut | None:
    tables = tables or live_tables()
    networks, members = tables.networks, tables.members
    row = connection.execute(
        select(networks).where(networks.c.network_id == network_id)
    ).one_or_none()
    if row is None:
        return None
    cities = connection.execute(
        select(members.c.city_id)
        .where(members.c.network_id == network_id)
        .order_by(members.c.city_id)
    ).scalars()
    return NetworkOut(
        network_id=row.network_id,
        name=orjson.loads(row.name),
        registered_at=row.registered_at,
        members=tuple(cities),
    )


def signatures(
    connection: Connection, declaration_id: str, *, tables: ViewTables | None = None
) -> list[SignatureOut]:
    table = (tables or live_tables()).signatures
    rows = connection.execute(
        select(table).where(table.c.declaration_id == declaration_id).order_by(table.c.city_id)
    )
    return [
        SignatureOut(
            declaration_id=r.declaration_id,
            city_id=r.city_id,
            signed_on=r.signed_on,
            recorded_at=r.recorded_at,
        )
        for r in rows
    ]


def _reference_from(row: Any) -> ReferenceRow:
    return ReferenceRow(
        row.kind,
        row.item_id,
        orjson.loads(row.title),
        row.starts_on,
        row.ends_on,
        row.registered_at,
        row.retired_at,
        row.retired_reason,
    )


def stored_reference_item(
    connection: Connection, tables: ViewTables, key: ReferenceKey
) -> ReferenceRow | None:
    table = tables.reference_items
    row = connection.execute(
        select(table).where(table.c.kind == key[0], table.c.item_id == key[1])
    ).one_or_none()
    return None if row is None else _reference_from(row)


def reference_items(
    connection: Connection, kind: str, *, tables: ViewTables | None = None
) -> list[ReferenceItemOut]:
    """Every ``kind`` item registered on the log (retired ones too, marked), by id."""
    if kind not in REFERENCE_KINDS:
        raise InvalidQuery(
            f"no reference data {kind!r}; kinds: {', '.join(REFERENCE_KINDS)}", field="kind"
        )
    table = (tables or live_tables()).reference_items
    rows = connection.execute(select(table).where(table.c.kind == kind).order_by(table.c.item_id))
    return [reference_out(_reference_from(row)) for row in rows]


def reference_out(item: ReferenceRow) -> ReferenceItemOut:
    return ReferenceItemOut(
        id=item.item_id,
        title=item.title,
        adopted_on=item.starts_on if item.kind == "declaration" else None,
        opens_on=item.starts_on if item.kind == "call" else None,
        closes_on=item.ends_on if item.kind == "call" else None,
        retired=item.retired_at is not None,
        retired_at=item.retired_at,
        retired_reason=item.retired_reason,
        registered_at=item.registered_at,
    )


def network_names(
    connection: Connection, *, tables: ViewTables | None = None
) -> dict[str, dict[Language, str]]:
    """Every registered network's names by language, in id order (one query)."""
    networks = (tables or live_tables()).networks
    rows = connection.execute(
        select(networks.c.network_id, networks.c.name).order_by(networks.c.network_id)
    )
    return {network_id: orjson.loads(name) for network_id, name in rows}


def city_names(
    connection: Connection,
    city_ids: Collection[str] | None = None,
    *,
    tables: ViewTables | None = None,
) -> dict[str, dict[Language, str]]:
    """The names of the cities given (every registered city without ``city_ids``), by id."""
    cities = (tables or live_tables()).cities
    query = select(cities.c.city_id, cities.c.name).order_by(cities.c.city_id)
    if city_ids is not None:
        query = query.where(cities.c.city_id.in_(sorted(city_ids)))
    return {city_id: orjson.loads(name) for city_id, name in connection.execute(query)}


def signatures_of(
    connection: Connection, city_ids: Collection[str], *, tables: ViewTables | None = None
) -> list[SignatureOut]:
    """Every declaration signature of the cities given, by declaration, then city."""
    table = (tables or live_tables()).signatures
    rows = connection.execute(
        select(table)
        .where(table.c.city_id.in_(sorted(city_ids)))
        .order_by(table.c.declaration_id, table.c.city_id)
    )
    return [
        SignatureOut(
            declaration_id=r.declaration_id,
            city_id=r.city_id,
            signed_on=r.signed_on,
            recorded_at=r.recorded_at,
        )
        for r in rows
    ]
