"""The write endpoints' wire models: ``XxxIn`` bodies and the ``XxxOut`` answers with receipts.

The request bodies are the domain's command models under their wire names: the commands are
already the wire shape (CONTRACT.md's examples), so every rule (slugs, taxonomy shapes, dates,
unknown fields refused, no personal data in free text) is the domain's own, and OpenAPI shows
each body in full. Events and tables never cross the wire.
"""

from __future__ import annotations

import base64

from pydantic import BaseModel, ConfigDict

from domain import external_ids, pledge, reference, registry
from domain.values import DecimalString, IsoDate, Reason, Slug, Text
from ledger.commands import CommandName, command_handler
from ledger.log import Receipt
from ledger.write_path import Written


class NetworkIn(registry.RegisterNetwork):
    """A network to register: its slug id and its name in en/fr/es."""


class CityIn(registry.RegisterCity):
    """A city to register: its slug id, its names and its ISO 3166-1 alpha-2 country."""


class MemberIn(registry.JoinNetwork):
    """A registered city that joins the network."""


class SignatureIn(registry.SignDeclaration):
    """A member city's signature of the declaration, and the day it signed."""


class PledgeIn(pledge.SubmitPledge):
    """A new pledge of the network's member cities."""


class AmendmentIn(pledge.AmendPledge):
    """Field changes to a pledge, with the reason for them."""


class ProgressIn(pledge.ReportProgress):
    """A progress report: period, stage, indicator observations, narrative, evidence."""


class ValidationIn(pledge.ValidatePledge):
    """A validator's decision on the pledge, the criteria it meets, and a note."""


class MatchIn(pledge.MatchPledge):
    """An offer of a match to the pledge (the host): a supporting pledge, or a funder with an
    optional amount (a decimal string) and its ISO 4217 currency. The other side answers."""


class MatchAcceptanceIn(pledge.Command):
    """The answering side accepts the offer."""

    note: Text = ""


class MatchDeclinationIn(pledge.Command):
    """The answering side declines the offer, saying why."""

    reason: Reason


class MatchEndingIn(pledge.Command):
    """Either side ends an open offer or an accepted match, saying why."""

    reason: Reason


class WithdrawalIn(pledge.WithdrawPledge):
    """Ends the pledge before its term, with the reason."""


class ClosureIn(pledge.ClosePledge):
    """Ends the pledge with its outcome."""


class CorrectedObservationIn(pledge.Command):
    """The observation an erratum supersedes (its indicator and date in the progress report
    ``corrects_event_id`` names) and the corrected reading: a value, or for a qualitative
    indicator a comment (and no value)."""

    indicator_id: Slug
    date: IsoDate
    value: DecimalString | None = None
    comment: Text = ""


class ErratumIn(pledge.RecordErratum):
    """Corrects an earlier event of the pledge (which stays on the log) with a note; with
    ``observation``, supersedes that observation of the progress report ``corrects_event_id``
    with a corrected value, which roll-ups and reports then use."""

    observation: CorrectedObservationIn | None = None

    def command(self) -> pledge.RecordErratum | pledge.CorrectObservation:
        if self.observation is None:
            return pledge.RecordErratum(corrects_event_id=self.corrects_event_id, note=self.note)
        return pledge.CorrectObservation(
            progress_event_id=self.corrects_event_id,
            indicator_id=self.observation.indicator_id,
            date=self.observation.date,
            value=self.observation.value,
            comment=self.observation.comment,
            reason=self.note,
        )


class PriorityAreaIn(reference.RegisterPriorityArea):
    """A priority area to register: its slug id and its title in en/fr/es."""


class RetirementIn(reference.RetirePriorityArea):
    """Retires a priority area: pledges that name it keep it, new tags may not."""


class DeclarationIn(reference.RegisterDeclaration):
    """A declaration cities may sign: its slug id, title and adoption date."""


class CallIn(reference.RegisterCall):
    """A call to action: pledges may answer it from opens_on to closes_on."""


class TranslationIn(pledge.TranslatePledge):
    """A text of the pledge in another language than its original: the ``title``, the
    ``description``, or the ``narrative`` of the progress report ``progress_event_id``. It does
    not send a validated pledge back to validation."""


class ExternalIdIn(external_ids.AddExternalId):
    """An id the pledge has elsewhere: ``scheme`` is ``grf`` (Global Refugee Forum pledge id),
    ``gcm`` (GCM pledging platform id) or the pledge's network id (that network's reference)."""


class ExternalIdRemovalIn(external_ids.RemoveExternalId):
    """An id the pledge carries that no longer names it, with the reason."""


class CityCorrectionIn(registry.CorrectCity):
    """Corrected or translated names (per language; an empty text removes that language's
    name) and/or a corrected country, with the reason."""


class NetworkCorrectionIn(registry.CorrectNetwork):
    """Corrected or translated names of the network (per language), with the reason."""


class SignatureWithdrawalIn(BaseModel):
    """The day the city withdrew its signature, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    withdrawn_on: IsoDate
    reason: Reason


class WireOut(BaseModel):
    model_config = ConfigDict(frozen=True)


class ReceiptOut(WireOut):
    """Proof that the event is in the log: its leaf, a signed tree containing it, the path."""

    event_id: str
    stream_id: str
    stream_version: int
    leaf_index: int
    leaf_hash: str
    """base64 of SHA-256(0x00 || entry)."""
    checkpoint: str
    """The signed checkpoint (note text) whose tree includes the event."""
    tree_size: int
    inclusion_proof: tuple[str, ...]
    """The RFC 9162 audit path from the leaf to the checkpoint's root, base64 hashes."""

    @classmethod
    def of(cls, receipt: Receipt) -> ReceiptOut:
        return cls(
            event_id=receipt.event_id,
            stream_id=receipt.stream_id,
            stream_version=receipt.stream_version,
            leaf_index=receipt.leaf_index,
            leaf_hash=base64.b64encode(receipt.leaf_hash).decode(),
            checkpoint=receipt.checkpoint,
            tree_size=receipt.tree_size,
            inclusion_proof=tuple(base64.b64encode(h).decode() for h in receipt.inclusion_proof),
        )


class WriteOut(WireOut):
    """A stored write: the receipt of the event it recorded (each command records one)."""

    receipt: ReceiptOut

    @classmethod
    def of(cls, written: Written) -> WriteOut:
        return cls(receipt=_only_receipt(written))


class PledgeWriteOut(WriteOut):
    """A stored write to a pledge: the pledge's id and the receipt of the event it recorded."""

    pledge_id: str

    @classmethod
    def of(cls, written: Written) -> PledgeWriteOut:
        assert written.result.pledge_id is not None  # every pledge command has its pledge
        return cls(pledge_id=written.result.pledge_id, receipt=_only_receipt(written))


class MatchWriteOut(PledgeWriteOut):
    """A stored match offer: the host pledge, the new match's id and the offer's receipt."""

    match_id: str

    @classmethod
    def of(cls, written: Written) -> MatchWriteOut:
        assert written.result.pledge_id is not None  # every pledge command has its pledge
        receipt = _only_receipt(written)
        # A match's id is its offer's event id (ADR 0015): a retry answers the same one.
        return cls(pledge_id=written.result.pledge_id, match_id=receipt.event_id, receipt=receipt)


def _only_receipt(written: Written) -> ReceiptOut:
    """The receipt of the event the command recorded in its own stream (an external id's
    claim, written beside it in the same append, is the same fact's guard)."""
    own = [r for r in written.receipts if r.stream_id == written.result.stream_id]
    return ReceiptOut.of(own[-1])


def as_command(name: CommandName, body: BaseModel) -> BaseModel:
    """The body as the command table's own model, without validating it a second time.

    The idempotency fingerprint names the command's model: a request must fingerprint the same
    whether it came over HTTP (as ``PledgeIn``) or from another caller (as ``SubmitPledge``).
    """
    model = command_handler(name).model
    fields = {field: getattr(body, field) for field in model.model_fields}
    return model.model_construct(_fields_set=body.model_fields_set, **fields)
