"""A seeded, deterministic district: roster (genesis material) and one simulated day of activity.

No crypto here: senders are account LABELS; the caller derives a key per label (``harness.make_genesis.dev_key``)
and passes label -> address, and has each dose co-signed for its chain (``harness.cosign.cosign_payload``). Used by ``harness.make_genesis`` (the repository's genesis files),
``harness.district_load``, ``harness.bench_network`` and the contracts' scenario tests.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from contracts.genesis import GenesisDevice, GenesisOrganisation, GenesisStorageUnit
from contracts.kinds.attest import Attest
from contracts.kinds.custody import QualityDecision, Receive, Ship, quarantine_id
from contracts.kinds.doses import RecordDose, UnitProof
from contracts.kinds.products import ApproveProduct, LotRef, RecallLot, RegisterLot, RegisterProduct
from contracts.kinds.readings import RecordReadings, Sample
from contracts.records import QuarantineCause
from contracts.registry import kind_of
from contracts.tracecodes import UnitTree, gs1_hri, parse_trace_code
from contracts.types import OrgType, StorageKind

HOUR_MS = 3_600_000
MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class RosterUnit:
    """A storage unit and the labels of its loggers."""

    unit_id: str
    kind: StorageKind
    name: str
    min_temp: int
    max_temp: int
    device_labels: tuple[str, ...]
    name_zh: str = ""


@dataclass(frozen=True, slots=True)
class RosterOrg:
    """An organisation with its account labels (admins first) and storage units."""

    org_id: str
    org_type: OrgType
    name: str
    admin_labels: tuple[str, ...]
    staff_labels: tuple[str, ...]
    units: tuple[RosterUnit, ...]
    name_zh: str = ""


@dataclass(frozen=True, slots=True)
class Roster:
    """The district's organisations; every label needs an address before genesis."""

    orgs: tuple[RosterOrg, ...]

    def org(self, org_id: str) -> RosterOrg:
        """Organisation by id."""
        for o in self.orgs:
            if o.org_id == org_id:
                return o
        raise KeyError(org_id)

    @property
    def sites(self) -> tuple[RosterOrg, ...]:
        """The vaccination sites in order."""
        return tuple(o for o in self.orgs if o.org_type is OrgType.SITE)

    def account_labels(self) -> tuple[str, ...]:
        """Every account label."""
        return tuple(lbl for o in self.orgs for lbl in (*o.admin_labels, *o.staff_labels))

    def device_labels(self) -> tuple[str, ...]:
        """Every logger label."""
        return tuple(lbl for o in self.orgs for u in o.units for lbl in u.device_labels)

    def labels(self) -> tuple[str, ...]:
        """Accounts then devices."""
        return self.account_labels() + self.device_labels()

    def to_genesis(
        self, addresses: Mapping[str, bytes], registry_signers: tuple[bytes, ...] = ()
    ) -> tuple[GenesisOrganisation, ...]:
        """Genesis organisations with the node's label -> address mapping applied (`registry_signers`: the
        CDC's registry co-signing keys, e.g. ``harness.cosign.dev_registry_key``)."""
        return tuple(
            GenesisOrganisation(
                o.org_id,
                o.org_type,
                o.name,
                tuple(addresses[lbl] for lbl in o.admin_labels),
                tuple(addresses[lbl] for lbl in o.staff_labels),
                tuple(
                    GenesisStorageUnit(
                        u.unit_id,
                        u.kind,
                        u.name,
                        u.min_temp,
                        u.max_temp,
                        tuple(GenesisDevice(addresses[d], d) for d in u.device_labels),
                        u.name_zh,
                    )
                    for u in u_list
                ),
                registry_signers=registry_signers if o.org_type is OrgType.CDC else (),
                name_zh=o.name_zh,
                product_names_zh=PRODUCT_NAMES_ZH if o.org_type is OrgType.MANUFACTURER else (),
            )
            for o in self.orgs
            for u_list in [o.units]
        )


def _unit(unit_id: str, kind: StorageKind, name: str, loggers: int = 1, name_zh: str = "") -> RosterUnit:
    lo, hi = (-5000, -2000) if kind is StorageKind.FREEZER else (200, 800)
    labels = tuple(f"{unit_id}/logger-{i + 1}" for i in range(loggers))
    return RosterUnit(unit_id, kind, name, lo, hi, labels, name_zh or UNIT_NAMES_ZH.get(unit_id, ""))


def _org(
    org_id: str,
    t: OrgType,
    name: str,
    staff: int = 1,
    units: tuple[RosterUnit, ...] = (),
    service_accounts: tuple[str, ...] = (),
) -> RosterOrg:
    # service accounts are staff accounts a program sends from, each its own (nonces never collide with people's)
    staff_labels = tuple(f"{org_id}/staff-{i + 1}" for i in range(staff)) + tuple(
        f"{org_id}/{service}" for service in service_accounts
    )
    return RosterOrg(org_id, t, name, (f"{org_id}/admin",), staff_labels, units, ORG_NAMES_ZH.get(org_id, ""))


# Chinese names of the sample district (Chancheng, Foshan): its four street/town health centres first, then
# community health stations; units and products named as a Chinese CDC would.
ORG_NAMES_ZH = {
    "regulator": "禅城区市场监督管理局",
    "health-commission": "禅城区卫生健康局",
    "cdc": "禅城区疾病预防控制中心",
    "mah": "示例生物制品有限公司",
    "distributor": "示例冷链物流有限公司",
}
UNIT_NAMES_ZH = {
    "cdc-coldroom": "疾控中心疫苗冷库",
    "cdc-van-1": "疾控中心冷藏车 1 号",
    "cdc-van-2": "疾控中心冷藏车 2 号",
    "mah-coldroom": "成品冷库",
    "dist-coldroom": "配送中心冷库",
    "dist-truck-1": "冷藏运输车 1 号",
}
_STREETS = ("祖庙街道", "石湾镇街道", "张槎街道", "南庄镇")
_COMMUNITIES = (
    "升平",
    "同济",
    "岭南",
    "东华里",
    "普君",
    "莲峰",
    "大江",
    "朝安",
    "塔坡",
    "祖庙",
    "环市",
    "新风",
    "澜石",
    "南风古灶",
    "张槎",
    "大富",
    "上朗",
    "下朗",
    "紫南",
    "吉利",
    "溶洲",
    "罗格",
    "杏头",
    "湾华",
    "东平",
    "华远",
    "城南",
    "城北",
    "石湾",
    "深村",
    "王借岗",
    "鄱阳",
    "江湾",
    "绿景",
    "亲仁",
    "轻工",
    "魁奇",
    "季华",
    "永安",
    "兆祥",
    "惠景",
    "陶城",
    "丰宁",
)


def site_name_zh(i: int) -> str:
    """The Chinese name of vaccination site `i` (1-based)."""
    if i <= len(_STREETS):
        return f"{_STREETS[i - 1]}社区卫生服务中心"
    k = i - len(_STREETS) - 1
    return f"{_STREETS[k % len(_STREETS)]}{_COMMUNITIES[k % len(_COMMUNITIES)]}社区卫生服务站"


def district_roster(sites: int = 47, seed: int = 0) -> Roster:
    """Regulator, health commission, CDC, one MAH, one distributor and `sites` vaccination sites."""
    rng = random.Random(f"roster:{seed}")
    orgs = [
        _org("regulator", OrgType.REGULATOR, "District Medical Products Administration"),
        _org("health-commission", OrgType.HEALTH_COMMISSION, "District Health Commission"),
        _org(
            "cdc",
            OrgType.CDC,
            "District Center for Disease Control",
            staff=2,
            service_accounts=("registry",),  # the registry's anchor account (registry/anchor.py)
            units=(
                _unit("cdc-coldroom", StorageKind.COLD_ROOM, "CDC cold room"),
                _unit("cdc-van-1", StorageKind.VEHICLE, "CDC refrigerated van 1"),
                _unit("cdc-van-2", StorageKind.VEHICLE, "CDC refrigerated van 2"),
            ),
        ),
        _org(
            "mah",
            OrgType.MANUFACTURER,
            "Example Biologics Co., Ltd.",
            units=(_unit("mah-coldroom", StorageKind.COLD_ROOM, "MAH finished-goods cold room"),),
        ),
        _org(
            "distributor",
            OrgType.DISTRIBUTOR,
            "Example Cold-Chain Logistics",
            units=(
                _unit("dist-coldroom", StorageKind.COLD_ROOM, "Distributor cold room"),
                _unit("dist-truck-1", StorageKind.VEHICLE, "Refrigerated truck 1"),
            ),
        ),
    ]
    for i in range(1, sites + 1):
        sid = f"site-{i:02d}"
        fridges = 2 if rng.random() < 0.2 else 1
        units = tuple(
            _unit(
                f"{sid}-fridge-{k + 1}",
                StorageKind.FRIDGE,
                f"Vaccine fridge {k + 1}",
                name_zh=f"疫苗冷藏冰箱 {k + 1} 号",
            )
            for k in range(fridges)
        )
        site = _org(sid, OrgType.SITE, f"Township Health Centre {i}", staff=2, units=units)
        orgs.append(replace(site, name_zh=site_name_zh(i)))
    return Roster(tuple(orgs))


@dataclass(frozen=True, slots=True)
class Action:
    """One transaction to submit at (or after) `time_ms`, signed by the key behind `sender_label`."""

    time_ms: int
    sender_label: str
    kind_code: int
    payload: Any


@dataclass(frozen=True, slots=True)
class LotPlan:
    """A lot of the day with its unit codes (in commitment order) and tree."""

    ref: LotRef
    product_code: str
    codes: tuple[str, ...]  # printed/scanned unit codes
    tree: UnitTree
    expiry_date: int


@dataclass
class DayPlan:
    """What the day will do, for checks: ids, quotas, the failing fridge, the recall."""

    lots: dict[str, LotPlan] = field(default_factory=dict)
    quotas: dict[str, dict[str, int]] = field(default_factory=dict)  # site -> lot_id -> units shipped
    doses: dict[str, dict[str, int]] = field(default_factory=dict)  # site -> lot_id -> doses
    vials_opened: dict[str, dict[str, int]] = field(default_factory=dict)  # site -> lot_id -> units used
    failing_unit: str | None = None
    failing_site: str | None = None
    fail_start_s: int | None = None
    breach_s: int | None = None
    condemned: dict[str, int] = field(default_factory=dict)  # lot_id -> units condemned at the failing fridge
    quarantine_ids: dict[str, bytes] = field(default_factory=dict)  # lot_id -> id at the failing fridge
    recalled_lot: str | None = None
    recall_ms: int | None = None
    returned: dict[str, int] = field(default_factory=dict)  # site -> recalled units sent back to the CDC
    hot_samples: int = 0  # out-of-range samples of the failing fridge
    dose_people: dict[bytes, str] = field(
        default_factory=dict
    )  # dose_ref -> the (registry's) person it is of
    # #20: the label rule's timed quarantine (None = WHO rule), one silent logger, and the doses the chain flags
    # when every action is its own block at its own time (a live replay sends the day faster than it happened,
    # so there a gap is seen only when the logger's next samples show the hole, and no dose is flagged for it)
    label_rule_minutes: int | None = None
    gap_site: str | None = None
    gap_unit: str | None = None
    gap_from_s: int | None = None  # last sample before the silence
    gap_to_s: int | None = None  # first sample after it
    excursion_doses: int = 0  # doses from the failing fridge while its excursion was open
    gap_doses: int = 0  # doses from the silent fridge while its gap was open


def _gtin(base13: str) -> str:
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(base13))
    return base13 + str((10 - total % 10) % 10)


HEPB_GTIN = _gtin("0690123456789")
IPV_CN = "8612345"
PRODUCT_NAMES_ZH = ((HEPB_GTIN, "乙型肝炎疫苗（重组DNA）10μg"), (IPV_CN, "脊髓灰质炎灭活疫苗（5 剂/瓶）"))


def _h(*parts: object) -> bytes:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()


VISIT_SIZES = (1, 2, 3, 1, 2)  # vaccines given at one visit, in turn
UNSIGNED_DOSE = bytes(65)  # the registry co-signs at send time (harness.cosign): this district has no crypto


def dose_children(doses: int) -> list[int]:
    """The child (number within a site) of each of a site's doses in time order: visits of one to three doses,
    and every fourth visit a child of an earlier visit back for a later dose of a series. A child's doses thus
    share a site and lie close in time, which is what the unlinkability tests need."""
    out: list[int] = []
    visit_child: list[int] = []
    new_children = 0
    while len(out) < doses:
        v = len(visit_child)
        if v % 4 == 3:
            child = visit_child[v - 3]
        else:
            child, new_children = new_children, new_children + 1
        visit_child.append(child)
        out += [child] * VISIT_SIZES[v % len(VISIT_SIZES)]
    return out[:doses]


class DistrictDay:
    """Iterate the day's actions in time order (deterministic for roster, seed and day_start_ms).

    Timeline (offsets from day_start_ms): 00:00 products (first day) and lots; 01:00 MAH -> CDC on the
    distributor's truck (the distributor is the MAH's contracted carrier: the legal path of arts. 35-36 never
    lets it own stock), received 05:00; 05:30 CDC -> sites; 08:00-17:00 doses; a reading batch per logger
    every `reading_interval_s`. Optionally one site fridge runs at 12 C from 03:00 (heat breach at 13:00, the
    CDC condemns at 18:00) and the MAH recalls one lot at 15:00: every held unit is quarantined, the sites
    send theirs back to the CDC from 15:30 and the CDC sends them on to the MAH at 17:30 (received 19:30).
    """

    def __init__(
        self,
        roster: Roster,
        seed: int,
        day_start_ms: int,
        addresses: Mapping[str, bytes],
        *,
        first_day: bool = True,
        doses: int = 2000,
        reading_interval_s: int = 300,
        sample_interval_s: int = 60,
        failing_fridge: bool = True,
        recall: bool = True,
        utc_offset_minutes: int = 480,
        label_rule_minutes: int | None = None,
        silent_logger: bool = True,
        monitoring_interval_minutes: int = 30,
    ) -> None:
        if day_start_ms % 1000 or reading_interval_s % sample_interval_s:
            raise ValueError(
                "day_start_ms must be whole seconds; reading interval a multiple of the sample one"
            )
        self.roster, self.seed, self.t0, self.addresses = roster, seed, day_start_ms, addresses
        self.first_day, self.n_doses = first_day, doses
        self.reading_interval_s, self.sample_interval_s = reading_interval_s, sample_interval_s
        self.failing_fridge, self.recall = failing_fridge, recall
        self.utc_offset_minutes = utc_offset_minutes
        self.silent_logger, self.monitoring_interval_minutes = silent_logger, monitoring_interval_minutes
        self.plan = DayPlan(label_rule_minutes=label_rule_minutes)
        self._actions: list[tuple[int, int, Action]] | None = None

    def __iter__(self) -> Iterator[Action]:
        if self._actions is None:
            self._actions = self._build()
        return (a for _, _, a in self._actions)

    # -- building ----------------------------------------------------------------------------------

    def _build(self) -> list[tuple[int, int, Action]]:
        rng = random.Random(f"day:{self.seed}:{self.t0}")
        out: list[tuple[int, int, Action]] = []

        def add(offset_ms: int, sender: str, payload: Any) -> None:
            out.append(
                (
                    self.t0 + offset_ms,
                    len(out),
                    Action(self.t0 + offset_ms, sender, kind_of(payload).code, payload),
                )
            )

        sites = self.roster.sites
        day_no = self.t0 // 86_400_000
        local = dt.datetime.fromtimestamp(self.t0 / 1000, dt.UTC) + dt.timedelta(
            minutes=self.utc_offset_minutes
        )
        today = local.year * 10000 + local.month * 100 + local.day
        expiry = (local.year + 2) * 10000 + local.month * 100 + min(local.day, 28)
        if self.first_day:
            add(
                0,
                "mah/admin",
                RegisterProduct(
                    HEPB_GTIN,
                    "Hepatitis B vaccine (rDNA) 10ug",
                    True,
                    200,
                    800,
                    True,
                    1,
                    0,
                    "HepB",
                    (0, 28, 150),
                ),
            )
            add(
                0,
                "mah/admin",
                RegisterProduct(
                    IPV_CN,
                    "Inactivated poliovirus vaccine, 5-dose vial",
                    True,
                    200,
                    800,
                    True,
                    5,
                    6,
                    "IPV",
                    (0, 28, 28),
                ),
            )
            add(MINUTE_MS, "regulator/admin", ApproveProduct(HEPB_GTIN, True, _h("approval", HEPB_GTIN)))
            add(MINUTE_MS, "regulator/admin", ApproveProduct(IPV_CN, True, _h("approval", IPV_CN)))
        # three lots: HepB A (main), HepB B (recalled later), IPV
        quota_a, quota_b, quota_ipv, spare = 40, 20, 8, 20
        n = len(sites)
        specs = [
            (HEPB_GTIN, f"HB{day_no % 100000:05d}A", quota_a),
            (HEPB_GTIN, f"HB{day_no % 100000:05d}B", quota_b),
            (IPV_CN, f"IPV{day_no % 100000:05d}", quota_ipv),
        ]
        lots: list[LotPlan] = []
        for li, (code, lot_no, quota) in enumerate(specs):
            units = quota * n + spare
            yymmdd = f"{expiry // 10000 % 100:02d}{expiry // 100 % 100:02d}{expiry % 100:02d}"
            if code == HEPB_GTIN:
                codes = tuple(
                    gs1_hri(code, yymmdd, lot_no, f"{li}{day_no % 1000:03d}{k:07d}") for k in range(units)
                )
            else:
                codes = tuple(
                    f"{IPV_CN}{day_no % 10000:04d}{k:05d}{rng.randrange(10000):04d}" for k in range(units)
                )
            tree = UnitTree([parse_trace_code(c).canonical for c in codes])
            plan = LotPlan(LotRef(code, lot_no), code, codes, tree, expiry)
            lots.append(plan)
            self.plan.lots[plan.ref.lot_id] = plan
            cert = _h("release-cert", plan.ref.lot_id)
            add(
                2 * MINUTE_MS,
                "mah/admin",
                RegisterLot(plan.ref, today, expiry, units, cert, tree.root, "mah-coldroom"),
            )
            add(
                3 * MINUTE_MS,
                "mah/admin",
                Attest(cert, f"Lot release certificate {lot_no}", "application/pdf"),
            )
        quotas = {lots[0].ref.lot_id: quota_a, lots[1].ref.lot_id: quota_b, lots[2].ref.lot_id: quota_ipv}
        # custody legs
        for li, lp in enumerate(lots):
            qty = quotas[lp.ref.lot_id] * n
            s1 = _h("ship", self.seed, lp.ref.lot_id, "mah")
            at = 1 * HOUR_MS + li * MINUTE_MS
            add(at, "mah/staff-1", Ship(s1, lp.ref, qty, "mah-coldroom", "cdc", "dist-truck-1", self.t0 + at))
            at = 5 * HOUR_MS + li * MINUTE_MS
            add(at, "cdc/staff-1", Receive(s1, "cdc-coldroom", qty, received_at_ms=self.t0 + at))
        for si, site in enumerate(sites):
            fridge = site.units[0].unit_id
            self.plan.quotas[site.org_id] = {}
            for li, lp in enumerate(lots):
                q = quotas[lp.ref.lot_id]
                sid = _h("ship", self.seed, lp.ref.lot_id, site.org_id)
                van = f"cdc-van-{si % 2 + 1}"
                at = 5 * HOUR_MS + 30 * MINUTE_MS + si * MINUTE_MS + li * 1000
                add(at, "cdc/staff-2", Ship(sid, lp.ref, q, "cdc-coldroom", site.org_id, van, self.t0 + at))
                at = 6 * HOUR_MS + 30 * MINUTE_MS + si * MINUTE_MS + li * 1000
                add(at, f"{site.org_id}/staff-1", Receive(sid, fridge, q, received_at_ms=self.t0 + at))
                self.plan.quotas[site.org_id][lp.ref.lot_id] = q
        # failing fridge and recall
        if self.failing_fridge and sites:
            fs = sites[rng.randrange(len(sites))]
            self.plan.failing_site, self.plan.failing_unit = fs.org_id, fs.units[0].unit_id
            if self.plan.label_rule_minutes is None:  # WHO 30-DTR: 10 h above 8 C
                self.plan.fail_start_s = (self.t0 + 3 * HOUR_MS) // 1000
                self.plan.breach_s = self.plan.fail_start_s + 10 * 3600
            else:  # label rule: the first sample beyond the allowed minutes out of range quarantines
                self.plan.fail_start_s = (self.t0 + 11 * HOUR_MS) // 1000
                self.plan.breach_s = (
                    self.plan.fail_start_s + self.plan.label_rule_minutes * 60 + self.sample_interval_s
                )
        if self.silent_logger and len(sites) > 1:
            pick = random.Random(
                f"gap:{self.seed}:{self.t0}"
            )  # its own stream: the day's draws stay as they were
            gs = pick.choice([x for x in sites if x.org_id != self.plan.failing_site])
            self.plan.gap_site, self.plan.gap_unit = gs.org_id, gs.units[0].unit_id
            self.plan.gap_from_s = (self.t0 + 10 * HOUR_MS) // 1000
            self.plan.gap_to_s = (self.t0 + 12 * HOUR_MS) // 1000
        if self.recall:
            self.plan.recalled_lot, self.plan.recall_ms = lots[1].ref.lot_id, self.t0 + 15 * HOUR_MS
            add(
                15 * HOUR_MS,
                "mah/admin",
                RecallLot(lots[1].ref, "potency below specification in stability test"),
            )
        self._readings(add, rng)
        self._doses(add, rng, lots, quotas)
        if self.plan.recalled_lot is not None:
            self._returns(add, lots[1])
        if self.plan.failing_site is not None and self.plan.fail_start_s is not None:
            for lot_id, left in self._left_at_failing.items():
                if left:
                    qid = quarantine_id(
                        self.plan.failing_unit or "",
                        lot_id,
                        QuarantineCause.HEAT_BREACH
                        if self.plan.label_rule_minutes is None
                        else QuarantineCause.LABEL_EXCURSION,
                        self.plan.fail_start_s,
                        b"",
                    )
                    self.plan.quarantine_ids[lot_id] = qid
                    self.plan.condemned[lot_id] = left
                    add(
                        18 * HOUR_MS,
                        "cdc/admin",
                        QualityDecision(
                            qid,
                            False,
                            _h("vvm-inspection", lot_id),
                            "VVM stage 3 after 10 h at 12 C: condemned"
                            if self.plan.label_rule_minutes is None
                            else "outside 2-8 C beyond the allowed time: condemned",
                        ),
                    )
        out.sort(key=lambda x: (x[0], x[1]))
        self._count_flagged([a for _, _, a in out])
        return out

    def _returns(self, add: Any, lp: LotPlan) -> None:
        """The recalled lot goes back up the path: sites -> CDC from 15:30, CDC -> MAH at 17:30."""
        total = 0
        for si, site in enumerate(self.roster.sites):
            left = self._left_by_site.get(site.org_id, {}).get(lp.ref.lot_id, 0)
            if not left or site.org_id == self.plan.failing_site:  # the failing fridge's stock is condemned
                continue
            sid = _h("return", self.seed, lp.ref.lot_id, site.org_id)
            at = 15 * HOUR_MS + 30 * MINUTE_MS + si * MINUTE_MS
            van = f"cdc-van-{si % 2 + 1}"
            fridge = site.units[0].unit_id
            add(at, f"{site.org_id}/staff-1", Ship(sid, lp.ref, left, fridge, "cdc", van, self.t0 + at))
            arrive = at + HOUR_MS
            add(arrive, "cdc/staff-1", Receive(sid, "cdc-coldroom", left, received_at_ms=self.t0 + arrive))
            self.plan.returned[site.org_id] = left
            total += left
        if total:
            sid = _h("return", self.seed, lp.ref.lot_id, "cdc")
            at = 17 * HOUR_MS + 30 * MINUTE_MS
            add(
                at,
                "cdc/staff-2",
                Ship(sid, lp.ref, total, "cdc-coldroom", "mah", "dist-truck-1", self.t0 + at),
            )
            arrive = 19 * HOUR_MS + 30 * MINUTE_MS
            add(arrive, "mah/staff-1", Receive(sid, "mah-coldroom", total, received_at_ms=self.t0 + arrive))

    def _count_flagged(self, actions: list[Action]) -> None:
        """Doses the chain flags when each action is a block at its time: from the failing fridge after the
        reading that opened its excursion; from the silent fridge after the first block past its deadline (the
        block hook opens the gap after that block's transactions) and before its logger's next reading."""
        p = self.plan
        fail_open_ms = None if p.fail_start_s is None else p.fail_start_s * 1000
        gap_due_ms = None
        if p.gap_from_s is not None:
            gap_due_ms = ((p.gap_from_s + self.monitoring_interval_minutes * 60) // 60 + 1) * MINUTE_MS
        excursion_open = gap_open = False
        for a in actions:
            payload = a.payload
            if isinstance(payload, RecordReadings):
                unit = a.sender_label.rsplit("/", 1)[0]  # logger labels are "<unit_id>/logger-<n>"
                if unit == p.failing_unit and fail_open_ms is not None:
                    excursion_open = excursion_open or payload.samples[-1].time_s * 1000 >= fail_open_ms
                if unit == p.gap_unit and gap_open:
                    gap_open = False
            elif isinstance(payload, RecordDose):
                if payload.storage_unit == p.failing_unit and excursion_open:
                    p.excursion_doses += 1
                if payload.storage_unit == p.gap_unit and gap_open:
                    p.gap_doses += 1
            if gap_due_ms is not None and a.time_ms >= gap_due_ms and p.gap_to_s is not None:
                gap_open = a.time_ms < p.gap_to_s * 1000
                gap_due_ms = None

    def _readings(self, add: Any, rng: random.Random) -> None:
        step, every = self.sample_interval_s, self.reading_interval_s
        t0s = self.t0 // 1000
        for o in self.roster.orgs:
            for u in o.units:
                failing = u.unit_id == self.plan.failing_unit
                for lbl in u.device_labels:
                    drift = rng.randrange(-60, 60)
                    for b in range(1, 86400 // every + 1):
                        samples = []
                        for t in range(t0s + (b - 1) * every + step, t0s + b * every + 1, step):
                            if (
                                u.unit_id == self.plan.gap_unit
                                and self.plan.gap_from_s is not None
                                and self.plan.gap_to_s is not None
                                and self.plan.gap_from_s < t < self.plan.gap_to_s
                            ):
                                continue  # the silent logger
                            if failing and self.plan.fail_start_s is not None and t >= self.plan.fail_start_s:
                                temp = 1200 + rng.randrange(-30, 30)
                                self.plan.hot_samples += 1
                            else:
                                temp = 500 + drift + rng.randrange(-120, 120)
                            samples.append(Sample(t, temp))
                        if samples:
                            add(b * every * 1000, lbl, RecordReadings(tuple(samples)))

    def _doses(self, add: Any, rng: random.Random, lots: list[LotPlan], quotas: Mapping[str, int]) -> None:
        sites = self.roster.sites
        hep_a, hep_b, ipv = lots
        next_code = {lp.ref.lot_id: 0 for lp in lots}  # codes handed out in order, never reused
        self._left_at_failing: dict[str, int] = {}
        self._left_by_site: dict[str, dict[str, int]] = {}
        per_site = (
            [
                self.n_doses // len(sites) + (1 if i < self.n_doses % len(sites) else 0)
                for i in range(len(sites))
            ]
            if sites
            else []
        )
        for si, site in enumerate(sites):
            fridge = site.units[0].unit_id
            stock = dict(quotas)
            doses_here: dict[str, int] = {}
            opened: dict[str, int] = {}
            failing = site.org_id == self.plan.failing_site
            stop_ms = (self.plan.breach_s or 0) * 1000 - 10 * MINUTE_MS if failing else self.t0 + 17 * HOUR_MS
            times = sorted(rng.randrange(8 * HOUR_MS, 17 * HOUR_MS) for _ in range(per_site[si]))
            vial: tuple[int, int, int] | None = None  # (code index, doses given, opened at)
            children = dose_children(len(times))
            for k, off in enumerate(times):
                at = self.t0 + off
                if at >= stop_ms:
                    break
                if rng.random() < 0.3:
                    lp = ipv
                    if vial is None or vial[1] >= 5 or at - vial[2] > 6 * HOUR_MS:
                        if stock[lp.ref.lot_id] == 0:
                            continue
                        stock[lp.ref.lot_id] -= 1
                        opened[lp.ref.lot_id] = opened.get(lp.ref.lot_id, 0) + 1
                        vial = (next_code[lp.ref.lot_id], 0, at)
                        next_code[lp.ref.lot_id] += 1
                    idx = vial[0]
                    code = lp.codes[idx]
                    vial = (idx, vial[1] + 1, vial[2])
                else:
                    recalled = self.plan.recall_ms is not None and at >= self.plan.recall_ms
                    lp = hep_b if stock[hep_b.ref.lot_id] and not recalled else hep_a
                    if stock[lp.ref.lot_id] == 0:
                        continue
                    stock[lp.ref.lot_id] -= 1
                    opened[lp.ref.lot_id] = opened.get(lp.ref.lot_id, 0) + 1
                    idx = next_code[lp.ref.lot_id]
                    next_code[lp.ref.lot_id] += 1
                    code = lp.codes[idx]
                doses_here[lp.ref.lot_id] = doses_here.get(lp.ref.lot_id, 0) + 1
                # The registry draws a fresh random reference for every dose; derived here to stay deterministic.
                person = f"{site.org_id}/child-{children[k]}"
                dose_ref = _h("dose-ref", self.seed, self.t0, site.org_id, k)
                self.plan.dose_people[dose_ref] = person
                series_len = 3
                nurse = site.staff_labels[k % len(site.staff_labels)]
                add(
                    off,
                    nurse,
                    RecordDose(
                        code,
                        lp.ref,
                        UnitProof(idx, lp.tree.proof(idx)),
                        fridge,
                        1 + rng.randrange(series_len),
                        at,
                        self.addresses[nurse],
                        dose_ref,
                        _h("clinical-record", person, dose_ref),
                        UNSIGNED_DOSE,
                    ),
                )
            self.plan.doses[site.org_id] = doses_here
            self.plan.vials_opened[site.org_id] = opened
            self._left_by_site[site.org_id] = dict(stock)
            if failing:
                self._left_at_failing = {lid: n for lid, n in stock.items()}
