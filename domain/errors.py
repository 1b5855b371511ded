"""The domain's exception tree: one root, one class per kind of refusal.

Every class carries a stable machine-readable ``code`` and, where one input is at fault, the
``field`` that caused it, so that the API can map errors to problem+json bodies and the command
line can print one clear line, without parsing messages.
"""

from __future__ import annotations


class DomainError(Exception):
    """Root of every rule the domain enforces."""

    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        if self.field:
            return f"{self.field}: {self.message}"
        return self.message


class InvalidInput(DomainError):
    """A value is malformed or out of range (a date, a code, a decimal string...)."""

    code = "invalid_input"


class PersonalDataRefused(InvalidInput):
    """Free text holds what looks like contact data or an identity document number.

    Everything a command writes lands forever in the signed public log.
    """

    code = "personal_data"


class UnknownTaxonomyCode(InvalidInput):
    """A GCM objective, GCR area, SDG or priority area that the reference data does not know."""

    code = "unknown_taxonomy_code"


class NotFound(DomainError):
    """The command names a network, city, declaration, pledge or event that does not exist."""

    code = "not_found"


class AlreadyExists(DomainError):
    """The command would create something that already exists."""

    code = "already_exists"


class NotPermitted(DomainError):
    """The principal's role or network does not allow this command."""

    code = "not_permitted"


class InvalidTransition(DomainError):
    """The command is not allowed in the pledge's current lifecycle state."""

    code = "invalid_transition"
