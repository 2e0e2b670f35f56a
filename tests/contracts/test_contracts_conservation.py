"""Property: for every lot, held + in transit + administered + destroyed == units, and nothing goes negative,
whatever sequence of (possibly failing) operations is applied."""

from __future__ import annotations

import contextlib
from typing import Any

from contracts_testkit import addr, cosigned
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_contracts_rules import H, World, make_world

from contracts import queries, recall_queries
from contracts.errors import ContractError
from contracts.kinds.custody import (
    CancelShipment,
    Destroy,
    QualityDecision,
    QuarantineUnits,
    Receive,
    RejectShipment,
    Ship,
)
from contracts.kinds.doses import RecordDose, UnitProof
from contracts.kinds.products import RecallLot
from contracts.kinds.readings import RecordReadings, Sample
from contracts.params import Params
from contracts.records import DestroyReason

HOLDERS = [
    ("mah", "mah-coldroom"),
    ("distributor", "dist-coldroom"),
    ("cdc", "cdc-coldroom"),
    ("site-01", "site-01-fridge-1"),
    ("site-02", "site-02-fridge-1"),
]
UNITS = 40

op = st.one_of(
    st.tuples(st.just("ship"), st.integers(0, 4), st.integers(0, 4), st.integers(1, 15), st.booleans()),
    st.tuples(st.just("receive"), st.integers(0, 20), st.integers(0, 16)),
    st.tuples(st.just("reject"), st.integers(0, 20)),
    st.tuples(st.just("destroy"), st.integers(0, 4), st.integers(1, 10)),
    st.tuples(st.just("quarantine"), st.integers(0, 4), st.integers(1, 10)),
    st.tuples(st.just("decide"), st.integers(0, 4), st.booleans()),
    st.tuples(st.just("dose"), st.integers(3, 4), st.integers(0, UNITS - 1)),
    st.tuples(st.just("breach"), st.integers(0, 4)),
    st.tuples(st.just("van_breach")),
    st.tuples(st.just("recall")),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
)


class Runner:
    def __init__(self, w: World) -> None:
        self.w = w
        self.shipments: list[bytes] = []
        self.subject = 0
        self.clock_s = w.chain.time_ms // 1000

    def tick(self, seconds: int) -> int:
        self.clock_s += seconds
        self.w.chain.time_ms = self.clock_s * 1000
        return self.clock_s

    def sender(self, org: str) -> str:
        return f"{org}/staff-1" if org != "mah" else "mah/staff-1"

    def run(self, o: tuple[Any, ...]) -> None:
        w, name = self.w, o[0]
        self.tick(60)
        if name == "ship":
            (src, src_unit), (dst, _) = HOLDERS[o[1]], HOLDERS[o[2]]
            sid = bytes([len(self.shipments) + 1]) * 32
            self.shipments.append(sid)
            w.tx(self.sender(src), Ship(sid, w.ref, o[3], src_unit, dst, "cdc-van-1" if o[4] else None))
        elif name in ("receive", "reject") and self.shipments:
            sid = self.shipments[o[1] % len(self.shipments)]
            s = queries.get_shipment(w.chain.state, sid)
            if s is None:
                return
            unit = dict(HOLDERS)[s["to_org"]]
            payload: Any = Receive(sid, unit, o[2]) if name == "receive" else RejectShipment(sid, "refused")
            w.tx(self.sender(s["to_org"]), payload)
        elif name == "destroy":
            org, unit = HOLDERS[o[1]]
            w.tx(self.sender(org), Destroy(w.ref, unit, o[2], DestroyReason.DAMAGED, ""))
        elif name == "quarantine":
            org, unit = HOLDERS[o[1]]
            w.tx(self.sender(org), QuarantineUnits(w.ref, unit, o[2], "isolated"))
        elif name == "decide":
            qs = queries.open_quarantines(w.chain.state, HOLDERS[o[1]][0])
            if qs:
                w.tx(
                    "cdc/admin",
                    QualityDecision(bytes.fromhex(qs[0]["quarantine_id"][2:]), o[2], H, "decided"),
                )
        elif name == "dose":
            org, unit = HOLDERS[o[1]]
            self.subject += 1
            label = self.sender(org)
            w.tx(
                label,
                cosigned(
                    RecordDose(
                        w.codes[o[2]],
                        w.ref,
                        UnitProof(o[2], w.tree.proof(o[2])),
                        unit,
                        1,
                        w.chain.time_ms,
                        addr(label),
                        self.subject.to_bytes(32, "big"),
                        H,
                        bytes(65),
                    ),
                    label,
                ),
            )
        elif name == "breach":
            org, unit = HOLDERS[o[1]]
            self.readings(f"{unit}/logger-1", [1000] * 12)
        elif name == "van_breach":
            self.readings("cdc-van-1/logger-1", [1000] * 12)
        elif name == "recall":
            w.tx("mah/admin", RecallLot(w.ref, "test recall"))
        elif name == "cancel" and self.shipments:
            sid = self.shipments[o[1] % len(self.shipments)]
            s = queries.get_shipment(w.chain.state, sid)
            if s is not None:
                w.tx(self.sender(s["from_org"]), CancelShipment(sid, "withdrawn"))

    def readings(self, logger: str, temps: list[int]) -> None:
        start = self.clock_s
        samples = tuple(Sample(start + k * 3600, t) for k, t in enumerate(temps))
        self.tick(3600 * len(temps))
        self.w.tx(logger, RecordReadings(samples))


def check(w: World) -> None:
    lot = queries.get_lot(w.chain.state, w.ref.lot_id)
    assert lot is not None
    holders = queries.lot_holders(w.chain.state, w.ref.lot_id)
    held = [h for h in holders if h["unit_id"] is not None]
    assert all(h["available"] >= 0 and h["quarantined"] >= 0 for h in held)
    assert sum(h["available"] + h["quarantined"] for h in held) == lot["held"]
    assert sum(h["quarantined"] for h in held) == lot["quarantined"]
    assert sum(h["in_transit"] for h in holders) == lot["in_transit"]
    assert lot["held"] + lot["in_transit"] + lot["administered"] + lot["destroyed"] == lot["units"] == UNITS
    assert min(lot["held"], lot["in_transit"], lot["administered"], lot["destroyed"]) >= 0
    # every quarantined unit is in exactly one open quarantine of its holder
    for org, _ in HOLDERS:
        open_qty = sum(q["quantity"] for q in queries.open_quarantines(w.chain.state, org))
        assert open_qty == sum(h["quarantined"] for h in held if h["org_id"] == org), org
    progress = recall_queries.recall_progress(w.chain.state, w.ref.lot_id)
    assert progress is not None and progress["totals"]["held"] == lot["held"]
    assert progress["totals"]["in_transit"] == lot["in_transit"]
    if lot["recalled"]:
        assert all(h["available"] == 0 for h in held)  # a recall leaves nothing available anywhere


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=1, max_size=60))
def test_conservation_under_random_operations(ops: list[tuple[Any, ...]]) -> None:
    w = make_world(Params(require_readings_on_receive=False), units=UNITS)
    w.chain.wire = False
    r = Runner(w)
    for o in ops:
        with contextlib.suppress(ContractError):  # refused: the journal dropped every write
            r.run(o)
        check(w)
