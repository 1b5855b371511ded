"""The registry views: networks, cities, memberships and declaration signatures."""

from __future__ import annotations

from collections.abc import Collection

import orjson
from sqlalchemy import Connection, select

from domain.values import Language
from projections.models import CityOut, NetworkOut, SignatureOut
from projections.projector import ProjectionBatch
from projections.state import CityRow, Membership, NetworkRow, Signature, ViewState
from projections.tables import ViewTables, delete_rows, insert_rows, live_tables

CITY_COLUMNS = ("city_id", "name", "country", "registered_at")
NETWORK_COLUMNS = ("network_id", "name", "registered_at")
MEMBER_COLUMNS = ("network_id", "city_id", "joined_at")
SIGNATURE_COLUMNS = ("declaration_id", "city_id", "signed_on", "recorded_at")


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


class RegistryProjector:
    def apply(self, connection: Connection, tables: ViewTables, batch: ProjectionBatch) -> None:
        state, changes = batch.state, batch.changes
        insert_rows(
            connection,
            tables.cities,
            CITY_COLUMNS,
            [_city_row(state.cities[c]) for c in sorted(changes.cities)],
        )
        insert_rows(
            connection,
            tables.networks,
            NETWORK_COLUMNS,
            [_network_row(state.networks[n]) for n in sorted(changes.networks)],
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
        insert_rows(
            connection,
            tables.signatures,
            SIGNATURE_COLUMNS,
            [_signature_row(state.signatures[k]) for k in sorted(changes.signatures)],
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
