"""Who is acting: the authenticated principal behind every command.

Networks' systems submit on behalf of member cities; validators vet pledges; admins keep the
registry. The principal's key id is recorded on every event as ``recorded_by``; the cities a
command is made for are recorded apart, as ``on_behalf_of``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from domain.errors import InvalidInput, NotPermitted

Role = Literal["admin", "network", "validator"]
ROLES: tuple[Role, ...] = ("admin", "network", "validator")


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    role: Role
    network_id: str | None = None

    def __post_init__(self) -> None:
        if not self.key_id:
            raise InvalidInput("a principal needs a key id", field="key_id")
        if self.role not in ROLES:
            raise InvalidInput(f"unknown role {self.role!r}", field="role")
        if (self.role == "network") != bool(self.network_id):
            raise InvalidInput(
                "a network principal names its network, and only a network principal does",
                field="network_id",
            )

    def require_role(self, *roles: Role, action: str) -> None:
        if self.role not in roles:
            raise NotPermitted(f"{self.role} key {self.key_id} may not {action}")

    def acts_for_network(self, network_id: str) -> bool:
        return self.role == "network" and self.network_id == network_id
