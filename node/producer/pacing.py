"""Height pacing and block size: when the next height starts, and how many transactions a block may hold.

A height starts ``commit_ms`` (the block interval) after the previous one started, and at least
``MIN_COMMIT_WAIT_S`` after its commit (late precommits still arrive); while no transaction is ready, not before
``empty_block_interval_ms`` (or as soon as a peer starts it), so an idle chain does not grow fast. Blocks are
sized from the measured execution speed, so deciding one fits in the interval.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

MIN_COMMIT_WAIT_S = 0.1  # after a commit, before the next height: late precommits and the block still spread
TX_FLUSH_LEAD_S = 0.15  # a batch flushed this long before a height starts reaches its proposer in time

# Share of the block interval that executing one block may take. Validators build the proposer's draft while
# it builds the block (node/producer/draft.py), so a height holds one execution, not two in a row; gossip and
# two vote rounds take the rest. Bigger blocks made a height outlast the interval and then the propose
# timeout: rounds failed, blocks grew further and throughput fell (bench_network at 1,000 tx/s offered, before
# the share was bounded: blocks of 3,000-4,600 transactions, heights of 3-14 s, 330 tx/s). Before drafts the
# share was 0.3; raising it alone gained nothing, because two executions followed each other.
EXEC_SHARE_OF_INTERVAL = 0.6
MIN_BLOCK_TXS = 100
_MIN_MEASURED_TXS = 50  # fewer say nothing about the per-transaction cost


def block_tx_cap_for(exec_rate: float | None, max_block_txs: int, propose_s: float, interval_s: float) -> int:
    """Transactions per block for a node that executes ``exec_rate`` tx/s (None: not measured yet)."""
    if exec_rate is None:
        return min(max_block_txs, 1_000)
    budget_s = min(propose_s * 0.5, interval_s * EXEC_SHARE_OF_INTERVAL)
    return max(MIN_BLOCK_TXS, min(max_block_txs, int(exec_rate * budget_s)))


def next_height_delay(height_started_at: float, now: float, interval_s: float) -> float:
    """How long after a commit at ``now`` to start the next height: one block interval after the height just
    decided started (so blocks come every interval while consensus is faster than it), never less than
    MIN_COMMIT_WAIT_S."""
    return max(MIN_COMMIT_WAIT_S, height_started_at + interval_s - now)


class HeightPacing:
    """The pace of heights (trio clock) and the block-size policy of one node.

    ``news`` is where waits for a transaction or a peer to move park (an idle validator polling 50 times a
    second was measurable); whoever sees such news unparks it.
    """

    def __init__(
        self,
        interval_s: float,
        empty_block_interval_s: float,
        max_block_txs: int,
        propose_s: float,
        news: trio.lowlevel.ParkingLot,
    ) -> None:
        self.interval_s = interval_s
        self.empty_block_interval_s = empty_block_interval_s
        self.max_block_txs = max_block_txs
        self.propose_s = propose_s
        self.news = news
        self.last_commit_at = 0.0
        self.height_started_at = 0.0
        self.waiting_for: int | None = None  # the height to start once it is due
        self.peer_started = 0  # highest height a peer was seen working on
        self._exec_rate: float | None = None

    # ------------------------------------------------------------------ heights

    def height_started(self, height: int) -> None:
        """``height`` starts now: a wait for it ends."""
        self.waiting_for = None
        self.height_started_at = trio.current_time()
        self.news.unpark_all()

    def committed(self) -> None:
        """A block was committed now (by consensus or sync)."""
        self.last_commit_at = trio.current_time()

    def expect(self, height: int) -> None:
        """``height`` is the next to start, once due (``wait_until_due``)."""
        self.waiting_for = height

    def note_peer_started(self, height: int) -> None:
        """A peer was seen working on ``height`` (its proposal or votes)."""
        if height > self.peer_started:
            self.peer_started = height
            self.news.unpark_all()

    async def wait_until_due(self, height: int, has_transactions: Callable[[], bool]) -> bool:
        """Wait until ``height`` is due: one block interval after the previous height started (at least
        MIN_COMMIT_WAIT_S after its commit), and while idle not before the empty-block interval after the last
        commit, unless a peer starts it or a transaction comes. False if it was started (or another height
        expected) meanwhile."""
        await trio.sleep(next_height_delay(self.height_started_at, trio.current_time(), self.interval_s))
        with trio.move_on_at(self.last_commit_at + self.empty_block_interval_s):
            while self.waiting_for == height and self.peer_started < height and not has_transactions():
                await self.news.park()
        return self.waiting_for == height

    def next_tx_flush(self, regular_at: float) -> float:
        """When to flush gossiped transactions next: at ``regular_at``, or earlier, TX_FLUSH_LEAD_S before the
        next height is due, so that its proposer holds them when it selects."""
        before_next_height = self.height_started_at + self.interval_s - TX_FLUSH_LEAD_S
        if trio.current_time() < before_next_height < regular_at:
            return before_next_height
        return regular_at

    # ------------------------------------------------------------------ block size

    @property
    def exec_rate(self) -> float | None:
        """Transactions executed per second here (moving average), None until measured."""
        return self._exec_rate

    def note_execution(self, txs: int, seconds: float) -> None:
        """A block execution of ``txs`` transactions took ``seconds``."""
        if txs < _MIN_MEASURED_TXS or seconds <= 0:
            return
        rate = txs / seconds
        self._exec_rate = rate if self._exec_rate is None else 0.7 * self._exec_rate + 0.3 * rate

    def block_tx_cap(self) -> int:
        """How many transactions to put in a block: the configured maximum, unless this node executes so
        slowly that deciding the block would not fit in a block interval (see block_tx_cap_for)."""
        return block_tx_cap_for(self._exec_rate, self.max_block_txs, self.propose_s, self.interval_s)
