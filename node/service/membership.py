"""On-chain membership of the p2p network: which peer ids this node admits, recomputed as blocks commit.

The set is the peer ids registered (``set_node``) for active organisations, read from the committed state. It is
recomputed only after a block whose receipts changed it (a node added or removed, an organisation suspended or
reactivated), so a block without such a transaction costs one scan of its receipts' event names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from contracts import queries
from node.chain.chain import Chain, ExecutedBlock

log = logging.getLogger("vaxchain.membership")

# The events of the transactions that change who may connect.
MEMBERSHIP_EVENTS = frozenset({"NodeAdded", "NodeRemoved", "OrganisationStatusChanged"})


def changes_membership(executed: ExecutedBlock) -> bool:
    """Whether a successful transaction of the block added or removed a node or changed an organisation's
    status (failed transactions emit no events)."""
    return any(event.name in MEMBERSHIP_EVENTS for r in executed.receipts for event in r.events)


def member_peer_ids(chain: Chain) -> frozenset[str]:
    """The peer ids registered for active organisations at the committed head."""
    return queries.member_peer_ids(chain.app_reader())


class Membership:
    """Keeps the network's allowed peers equal to the chain's members (when the genesis enforces membership)."""

    def __init__(self, chain: Chain, enforced: bool, apply: Callable[[Iterable[str] | None], int]) -> None:
        self._chain = chain
        self._enforced = enforced
        self._apply = apply
        self.members: frozenset[str] | None = None

    def start(self) -> None:
        """Apply the members at the current head (before the network runs)."""
        if not self._enforced:
            log.info("event=membership_open reason=genesis_registers_no_nodes")
            self._apply(None)
            return
        self._refresh()

    def on_commit(self, executed: ExecutedBlock) -> None:
        """After a committed block: recompute and apply the members if the block changed them."""
        if self._enforced and changes_membership(executed):
            self._refresh()

    def _refresh(self) -> None:
        self.members = member_peer_ids(self._chain)
        closed = self._apply(self.members)
        log.info(
            "event=membership_applied height=%d members=%d closed=%d",
            self._chain.head.height,
            len(self.members),
            closed,
        )
