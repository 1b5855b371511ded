"""Synthetic log entries: many canonical envelopes, cheaply, for log tests and benchmarks.

Event ``number`` belongs to one of ``streams`` network streams: each stream's first event
registers the network, the following ones are cities joining it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from domain.events import CityJoinedNetwork, NetworkRegistered, NewEvent
from domain.keys import OPERATOR_KEY_ID
from ledger.envelope import Envelope, seal

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def synthetic_envelope(
    number: int, *, streams: int, stream: int | None = None, version: int | None = None
) -> Envelope:
    stream = number % streams if stream is None else stream
    version = number // streams + 1 if version is None else version
    network = f"net-{stream:04d}"
    payload = (
        NetworkRegistered(network_id=network, name={"en": f"Network {stream}"})
        if version == 1
        else CityJoinedNetwork(network_id=network, city_id=f"city-{number:08d}")
    )
    return seal(
        NewEvent(payload),
        event_id=str(uuid.UUID(int=number + 1, version=4)),
        stream_id=f"network:{network}",
        stream_version=version,
        recorded_at=EPOCH + timedelta(milliseconds=number),
        # The local operator: an admin that needs no key issued on the log, so that a synthetic
        # log passes the verifier's authority check.
        recorded_by=OPERATOR_KEY_ID,
    )


def synthetic_envelopes(first: int, count: int, *, streams: int) -> list[Envelope]:
    return [synthetic_envelope(n, streams=streams) for n in range(first, first + count)]
