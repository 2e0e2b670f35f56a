"""Per-person reads: who may make them, and how such a method is registered.

A per-person method answers only a signed request (``rpc.auth``) from an active account of an active organisation
whose type allows it: the CDC and the regulator see the whole district, a vaccination site only its own doses;
anyone else gets the named error AccessDenied. Register one with ``add_person_read``: the handler receives the
caller's ``ReadScope`` and filters or refuses with it. The OpenRPC document marks such methods ``x-auth``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contracts.interfaces import ReadState
from contracts.registry import member_of
from contracts.types import OrgType
from node.api.methods import ApiContext
from rpc.auth import AccessDenied, RequestAuthenticator
from rpc.dispatch import CallContext
from rpc.registry import MethodRegistry

#: Organisation types that read every person's doses; a site reads its own.
DISTRICT_WIDE = frozenset({OrgType.CDC, OrgType.REGULATOR})

PersonQuery = Callable[[dict[str, Any], "ReadScope"], Any]


@dataclass(frozen=True, slots=True)
class ReadScope:
    """What an authenticated caller may read: the whole district, or one site's own doses."""

    method: str
    caller: bytes
    org_id: str
    district_wide: bool

    def may_read_site(self, site: str) -> bool:
        """Whether a dose given at `site` is the caller's to read."""
        return self.district_wide or site == self.org_id

    def require_site(self, site: str) -> None:
        """AccessDenied unless a dose given at `site` is the caller's to read."""
        if not self.may_read_site(site):
            raise AccessDenied(self.method, f"{self.org_id} reads only the doses given at its own site")


def read_scope(state: ReadState, method: str, caller: bytes) -> ReadScope:
    """The caller's scope by its on-chain role; AccessDenied for anyone who may not read per-person data."""
    member = member_of(state, caller)
    if member is None or member.role is None:
        raise AccessDenied(method, "the signer is not an active account of an active organisation")
    if member.org_type in DISTRICT_WIDE:
        return ReadScope(method, caller, member.org_id, True)
    if member.org_type is OrgType.SITE:
        return ReadScope(method, caller, member.org_id, False)
    raise AccessDenied(method, f"a {member.org_type.name.lower()} may not read per-person records")


def person_authenticator(api: ApiContext) -> RequestAuthenticator:
    """The node's one authenticator (its replay memory is shared by every per-person method)."""
    return RequestAuthenticator(api.chain.chain_id)


def add_person_read(
    registry: MethodRegistry,
    api: ApiContext,
    auth: RequestAuthenticator,
    name: str,
    query: PersonQuery,
    *,
    params: dict[str, Any],
    description: str,
    heavy: bool = False,
) -> None:
    """Register a per-person method: signed requests only, the role checked against committed state, and the
    query (in a worker thread when `heavy`) given the caller's scope."""

    def run(p: dict[str, Any], caller: bytes) -> Any:
        state = api.chain.app_reader()
        return query(p, read_scope(state, name, caller))

    async def handler(p: dict[str, Any], ctx: CallContext) -> Any:
        caller = ctx.caller
        if caller is None:  # the dispatcher sets it for every method registered with `auth`
            raise AccessDenied(name, "no authenticated caller")
        if heavy:
            return await api.off_loop(lambda: run(p, caller))
        return run(p, caller)

    registry.add(name, handler, params=params, description=description, auth=auth)
