"""What one command stored: the answer a caller gets, and an idempotent retry gets again."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from ledger.envelope import Envelope


@dataclass(frozen=True, slots=True)
class AppendedEvent:
    event_id: str
    stream_id: str
    stream_version: int
    type: str

    @classmethod
    def of(cls, envelope: Envelope) -> AppendedEvent:
        return cls(envelope.event_id, envelope.stream_id, envelope.stream_version, envelope.type)


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command stored (or, for a recognised retry, had stored the first time)."""

    stream_id: str
    events: tuple[AppendedEvent, ...]
    pledge_id: str | None = None
    replayed: bool = False

    @property
    def stream_version(self) -> int:
        """The command's stream's version after it (a guard it also wrote is another stream)."""
        return [e for e in self.events if e.stream_id == self.stream_id][-1].stream_version

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "stream_id": self.stream_id,
                "pledge_id": self.pledge_id,
                "events": [
                    [e.event_id, e.stream_id, e.stream_version, e.type] for e in self.events
                ],
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str, *, replayed: bool) -> CommandResult:
        raw = orjson.loads(data)
        return cls(
            stream_id=raw["stream_id"],
            pledge_id=raw["pledge_id"],
            events=tuple(AppendedEvent(*e) for e in raw["events"]),
            replayed=replayed,
        )
