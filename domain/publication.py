"""Report publication: the log records which figures a forum received.

Publishing a report (``pledge-ledger report … --publish``) appends one ``report.published``
event to the stream ``report:<output_sha256>``, named by the digest of the bytes handed over:
the same bytes are published once. The event holds both digests, the scope (network, framework,
language, format, freshness window), the as-of day and the tree sizes the report rests on, so
that anyone can later compute the report again from the log and compare.

Rules: only an admin (the operator on the command line) publishes; the report must rest on a
signed checkpoint that covers it (``checkpoint_tree_size >= tree_size``); its day must be over
(``as_of`` before the day of publication): a report as of a day still running could count
events recorded later that day, the publication among them, and could not be computed again
with the same figures; a network in scope must be registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.authority import require_authority
from domain.errors import AlreadyExists, InvalidInput, NotFound
from domain.events import (
    Framework,
    Model,
    NewEvent,
    Payload,
    ReportFormat,
    ReportPublished,
    refusing_invalid_input,
)
from domain.principal import Principal
from domain.registry import NetworkState
from domain.values import IsoDate, Language, Sha256Hex, Slug


def publication_stream(output_sha256: str) -> str:
    return f"report:{output_sha256}"


@dataclass(frozen=True, slots=True)
class PublicationState:
    published: ReportPublished


def evolve_publication(state: PublicationState | None, payload: Payload) -> PublicationState:
    if isinstance(payload, ReportPublished):
        if state is not None:
            raise InvalidInput("a report is published once", field="type")
        return PublicationState(payload)
    raise InvalidInput(f"{type(payload).__name__} does not belong to a report", field="type")


class PublishReport(Model):
    """What the command line sends after computing and printing the report."""

    report_sha256: Sha256Hex
    output_sha256: Sha256Hex
    format: ReportFormat
    as_of: IsoDate
    network_id: Slug | None = None
    framework: Framework
    lang: Language
    freshness_months: int
    tree_size: int
    checkpoint_tree_size: int | None


@refusing_invalid_input
def publish_report(
    command: PublishReport,
    existing: PublicationState | None,
    network: NetworkState | None,
    principal: Principal,
    today: date,
) -> list[NewEvent]:
    """Record a report's publication; ``network`` is the state of the network in scope."""
    require_authority(principal, "report.published", action="publish reports")
    if existing is not None:
        raise AlreadyExists(
            f"this report was already published (as of {existing.published.as_of.isoformat()})",
            field="output_sha256",
        )
    if command.as_of >= today:
        raise InvalidInput(
            f"a report as of {command.as_of.isoformat()} can still change until that day is "
            "over: publish one as of an earlier day",
            field="as_of",
        )
    if command.checkpoint_tree_size is None or command.checkpoint_tree_size < command.tree_size:
        raise InvalidInput(
            f"the report counts {command.tree_size} log entries and no signed checkpoint covers "
            "them yet: sign one (pledge-ledger checkpoint), then publish",
            field="checkpoint_tree_size",
        )
    if command.network_id is not None and network is None:
        raise NotFound(f"network {command.network_id} is not registered", field="network_id")
    payload = ReportPublished(
        report_sha256=command.report_sha256,
        output_sha256=command.output_sha256,
        format=command.format,
        as_of=command.as_of,
        network_id=command.network_id,
        framework=command.framework,
        lang=command.lang,
        freshness_months=command.freshness_months,
        tree_size=command.tree_size,
        checkpoint_tree_size=command.checkpoint_tree_size,
    )
    return [NewEvent(payload)]
