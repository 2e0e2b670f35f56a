"""The legal supply path (Vaccine Administration Law arts. 35-36) and the leg record a receipt judges (art. 39).

Path: the MAH supplies the CDC, the CDC supplies vaccination sites (and, per provincial rules, other CDCs);
returns go back up the same path (site -> CDC -> MAH). Only these three organisation types ever hold stock: a
shipment to anyone else (school, regulator, health commission, distributor) is refused with CannotReceive, a
leg off the path with NotOnSupplyPath. A recalled lot moves only on return legs.

Carrier: a distributor never owns stock; it carries it. A shipment names a vehicle, and the vehicle's owner is
the leg's carrier: the sender, the receiver (a CDC collecting) or a distributor the sender contracted (art. 36
lets both the MAH and the CDC entrust delivery). Any other owner is CarrierNotAllowed. The carrier is kept in the
shipment record (``Shipment.carrier``) and shown with the units in transit; custody passes from sender to
receiver at receipt, so the carrier holds the units only in transit.

Leg record: every storage unit keeps monitoring counters over all its loggers in its one monitor record
(UnitMonitor, updated per reading batch by kinds/monitoring.py): the latest sample, samples outside the unit's
range, and holes between samples longer than ``monitoring_interval_minutes``. At shipping the sender
unit's last reading and the vehicle's counters are snapshotted (LegStart); at receipt the verdict (LegVerdict)
checks the whole leg: the sender unit reported, in range, within the interval before departure (or later, when
the shipment is recorded late, as long as departure is not inside the unit's latest gap); the vehicle likewise
at departure, then without a longer gap and never out of range through the
arrival (the receipt's declared eventTime `received_at_ms`, by default the receipt block's time). Counters move when readings are recorded, not by sample time: a gap that
happened before departure but is reported after it counts against the leg (a conservative verdict).
"""

from __future__ import annotations

import dataclasses

from contracts.errors import CannotReceive, CarrierNotAllowed, LotRecalled, NotOnSupplyPath
from contracts.interfaces import Context, State
from contracts.records import LegStart, LegVerdict, Organisation, Shipment, StorageUnit, UnitMonitor
from contracts.types import OrgType

from .common import get_org, get_unit
from .monitoring import get_monitor

# Organisation types that hold stock, and the legs between them.
RECEIVERS: frozenset[OrgType] = frozenset({OrgType.MANUFACTURER, OrgType.CDC, OrgType.SITE})
FORWARD_LEGS: frozenset[tuple[OrgType, OrgType]] = frozenset(
    {(OrgType.MANUFACTURER, OrgType.CDC), (OrgType.CDC, OrgType.CDC), (OrgType.CDC, OrgType.SITE)}
)
RETURN_LEGS: frozenset[tuple[OrgType, OrgType]] = frozenset(
    {(OrgType.SITE, OrgType.CDC), (OrgType.CDC, OrgType.CDC), (OrgType.CDC, OrgType.MANUFACTURER)}
)
CARRIERS: frozenset[OrgType] = frozenset({OrgType.DISTRIBUTOR})

# Names of the issues a leg verdict can report.
SENDER_UNMONITORED = "sender_unmonitored"
SENDER_OUT_OF_RANGE = "sender_out_of_range"
NO_VEHICLE = "no_vehicle"
NO_TRANSIT_READINGS = "no_transit_readings"
VEHICLE_BREACH = "vehicle_breach"
VEHICLE_OUT_OF_RANGE = "vehicle_out_of_range"
VEHICLE_UNMONITORED_AT_DEPARTURE = "vehicle_unmonitored_at_departure"
VEHICLE_GAP = "vehicle_gap"
VEHICLE_UNMONITORED_AT_ARRIVAL = "vehicle_unmonitored_at_arrival"
OUT_OF_RANGE_ISSUES = frozenset({SENDER_OUT_OF_RANGE, VEHICLE_BREACH, VEHICLE_OUT_OF_RANGE})


def check_supply_leg(sender: Organisation, to: Organisation, recalled: bool, lot_id: str) -> None:
    """The leg must be on the legal path; a recalled lot only goes back up it."""
    if to.org_type not in RECEIVERS:
        raise CannotReceive(to.org_id, to.org_type.name.lower())
    leg = (sender.org_type, to.org_type)
    if leg not in FORWARD_LEGS and leg not in RETURN_LEGS:
        raise NotOnSupplyPath(
            sender.org_id, sender.org_type.name.lower(), to.org_id, to.org_type.name.lower()
        )
    if recalled and leg not in RETURN_LEGS:
        raise LotRecalled(lot_id)


def carrier_of(state: State, vehicle: StorageUnit, sender: Organisation, to: Organisation) -> str:
    """The vehicle's owner as the leg's carrier: a party to the leg or a (contracted) distributor."""
    if vehicle.org_id in (sender.org_id, to.org_id):
        return vehicle.org_id
    owner = get_org(state, vehicle.org_id)
    if owner.org_type not in CARRIERS or not owner.active:
        raise CarrierNotAllowed(vehicle.unit_id, owner.org_id, owner.org_type.name.lower())
    return owner.org_id


# --- the leg verdict over the units' monitor records ------------------------------------------------


def monitored_at(m: UnitMonitor, at_s: int, interval_s: int) -> bool:
    """Whether the unit's record covers time `at_s`: a sample at most `interval_s` before it (or a later one,
    recorded late), and `at_s` not inside the latest hole between samples."""
    if m.last_sample_s == 0 or m.last_sample_s < at_s - interval_s:
        return False
    return not (m.last_gap_start_s + interval_s < at_s < m.last_gap_end_s)


def leg_start(
    state: State, ctx: Context, from_unit: StorageUnit, vehicle: StorageUnit | None, shipped_ms: int
) -> LegStart:
    """Snapshot at shipping: the sender unit's last reading and the vehicle's counters."""
    interval_s, shipped_s = ctx.params.monitoring_interval_minutes * 60, shipped_ms // 1000
    sw = get_monitor(state, from_unit.unit_id)
    in_range = sw.last_sample_s > 0 and from_unit.min_temp <= sw.last_temp <= from_unit.max_temp
    vw = get_monitor(state, vehicle.unit_id) if vehicle is not None else None
    return LegStart(
        sw.last_sample_s,
        sw.last_temp,
        in_range,
        monitored_at(sw, shipped_s, interval_s),
        vw.last_sample_s if vw else 0,
        vw is not None and monitored_at(vw, shipped_s, interval_s),
        vw.out_of_range if vw else 0,
        vw.gaps if vw else 0,
    )


def leg_verdict(
    state: State, ctx: Context, s: Shipment, arrival_ms: int, quarantine_if_unfit: bool
) -> LegVerdict:
    """The receipt's verdict on the whole leg, from departure to `arrival_ms` (issues named; see above)."""
    interval_s = ctx.params.monitoring_interval_minutes * 60
    arrival_s = arrival_ms // 1000
    st = s.leg_start
    issues: list[str] = []
    required = ctx.params.require_readings_on_receive
    if required and not st.sender_monitored:
        issues.append(SENDER_UNMONITORED)
    if required and st.sender_last_s and not st.sender_in_range:
        issues.append(SENDER_OUT_OF_RANGE)
    vehicle_last = 0
    if s.vehicle is None:
        if required:
            issues.append(NO_VEHICLE)
    else:
        vehicle = get_unit(state, s.vehicle)
        w = get_monitor(state, vehicle.unit_id)
        vehicle_last = w.last_sample_s
        if vehicle.breach_count > s.vehicle_breaches_at_ship:
            issues.append(VEHICLE_BREACH)
        if w.out_of_range > st.vehicle_out_of_range:
            issues.append(VEHICLE_OUT_OF_RANGE)
        if required:
            if w.last_sample_s * 1000 < s.shipped_ms:
                issues.append(NO_TRANSIT_READINGS)
            else:
                if not st.vehicle_monitored:
                    issues.append(VEHICLE_UNMONITORED_AT_DEPARTURE)
                if w.gaps > st.vehicle_gaps:
                    issues.append(VEHICLE_GAP)
                if arrival_s - w.last_sample_s > interval_s:
                    issues.append(VEHICLE_UNMONITORED_AT_ARRIVAL)
    return LegVerdict(
        not issues, tuple(issues), arrival_s, vehicle_last, bool(issues) and quarantine_if_unfit
    )


def verdict_json(v: LegVerdict) -> dict[str, object]:
    """The verdict as event data."""
    return {f.name: getattr(v, f.name) for f in dataclasses.fields(v)}
