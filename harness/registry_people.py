"""Synthetic people for the sample district's registry (scripts/devnet, tests of issue #22): clearly fake,
generated names and ID numbers, and a plan that gives the district day's doses to them the way clinics do —
children given two or three vaccines at one visit, and children returning for the next dose of a series.

Nothing here is real: every name starts with 测试 ("test") and every ID number with the region code 99 that no
Chinese region uses, so a leak scan can search for them and nobody can mistake them for a person.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.kinds.doses import RecordDose
from harness.district import district_roster
from harness.make_genesis import dev_key
from registry.chain import RpcChain
from registry.client import DoseRequest, RegistryClient, RegistryClientError, RegistryUnavailable
from registry.config import init_registry
from registry.cosign import DoseCosignature
from vaxcrypto.keys import PrivateKey

FAKE_NAME_PREFIX = "测试"
FAKE_REGION = "99"
_GIVEN = "安宁乐康明阳晨星雨辰嘉悦欣怡子轩浩然思远梓涵若汐一诺"
_FAMILY = "甲乙丙丁戊己庚辛壬癸"
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class SyntheticPerson:
    """A generated child with one guardian: every field fake."""

    name: str
    sex: str
    birth_date: dt.date
    id_number: str
    guardian_name: str
    guardian_phone: str

    def to_json(self) -> dict[str, Any]:
        """The registry API's person object."""
        return {
            "name": self.name,
            "sex": self.sex,
            "birth_date": self.birth_date.isoformat(),
            "id_type": "birth_certificate",
            "id_number": self.id_number,
            "guardians": [{"name": self.guardian_name, "phone": self.guardian_phone, "relation": "guardian"}],
        }


def synthetic_people(seed: int, count: int, today: dt.date) -> list[SyntheticPerson]:
    """`count` deterministic fake children aged 0 to 6 years."""
    rng = random.Random(f"registry-people/{seed}")
    out = []
    for i in range(count):
        birth = today - dt.timedelta(days=rng.randrange(0, 6 * 365))
        sex = rng.choice("FM")
        # 99 + 4 digits + birth date + 3-digit sequence + check digit: the shape of an ID, a region nobody has.
        seq = f"{i % 1000:03d}"
        id_number = f"{FAKE_REGION}{rng.randrange(10_000):04d}{birth:%Y%m%d}{seq}{rng.randrange(10)}"
        name = FAKE_NAME_PREFIX + rng.choice(_FAMILY) + rng.choice(_GIVEN) + str(i)
        out.append(
            SyntheticPerson(
                name,
                sex,
                birth,
                id_number,
                FAKE_NAME_PREFIX + "家长" + str(i),
                f"+86 199{rng.randrange(10**8):08d}",
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class PlannedDose:
    """A dose of the district day given to one synthetic child: which child and which dose of the series."""

    person: int  # index into the people list
    series: str
    dose_number: int
    administered_ms: int
    site: str


@dataclass(slots=True)
class DosePlanner:
    """Gives each dose of a stream (site, series, time) to a child, like a clinic's queue.

    - With `multi_visit_p` the child just vaccinated at the same site gets this vaccine too (a different series,
      at most `max_per_visit` vaccines per visit): two or three vaccines at one visit.
    - Else a child whose last dose of the series is old enough (`series_intervals`) returns for the next one.
    - Else a new child starts the series.
    """

    people: Sequence[SyntheticPerson]
    series_intervals: dict[
        str, tuple[int, ...]
    ]  # series -> minimum days before each dose (the chain's product)
    multi_visit_p: float = 0.4
    max_per_visit: int = 3
    visit_window_ms: int = 3_600_000  # doses of one site this close together may be one child's visit
    seed: int = 0
    _rng: random.Random = field(init=False)
    _history: dict[tuple[int, str], tuple[int, int]] = field(
        default_factory=dict
    )  # (person, series) -> (n, ms)
    _visit: dict[str, tuple[int, int, set[str]]] = field(default_factory=dict)  # site -> (person, ms, series)
    _next_new: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(f"dose-planner/{self.seed}")

    def seed_history(self, person: int, series: str, dose_number: int, administered_ms: int) -> None:
        """A dose the child had before (e.g. before the chain): it may now return for the next one."""
        self._history[(person, series)] = (dose_number, administered_ms)

    def assign(self, site: str, series: str, administered_ms: int) -> PlannedDose:
        """The child and dose number for one dose (ValueError when no child can take it)."""
        visit = self._visit.get(site)
        person: int | None = None
        if (
            visit is not None
            and series not in visit[2]
            and len(visit[2]) < self.max_per_visit
            and administered_ms - visit[1] < self.visit_window_ms
            and self._eligible(visit[0], series, administered_ms)
            and self._rng.random() < self.multi_visit_p
        ):
            person, given = visit[0], visit[2]
        else:
            person = self._returning(series, administered_ms)
            if person is None:
                person = self._new_child(series, administered_ms)
            given = set()
        done, _ = self._history.get((person, series), (0, 0))
        given.add(series)
        self._visit[site] = (person, administered_ms, given)
        self._history[(person, series)] = (done + 1, administered_ms)
        return PlannedDose(person, series, done + 1, administered_ms, site)

    def _eligible(self, person: int, series: str, at_ms: int) -> bool:
        done, last = self._history.get((person, series), (0, 0))
        intervals = self.series_intervals.get(series, (0,))
        if done >= len(intervals):
            return False
        return done == 0 or at_ms - last >= intervals[done] * DAY_MS

    def _new_child(self, series: str, at_ms: int) -> int:
        for step in range(len(self.people)):
            candidate = (self._next_new + step) % len(self.people)
            if (candidate, series) not in self._history:
                self._next_new = candidate + 1
                return candidate
        raise ValueError(f"every synthetic child already started {series}: generate more people")

    def _returning(self, series: str, at_ms: int) -> int | None:
        due = sorted(
            p
            for (p, s) in self._history
            if s == series and self._history[(p, s)][0] > 0 and self._eligible(p, s, at_ms)
        )
        return self._rng.choice(due) if due and self._rng.random() < 0.7 else None


#: The sample district's registry co-signing key label (the key harness.cosign derives and genesis registers).
DEV_REGISTRY_SEED = "vaxchain-dev/chancheng/registry/cosign"
#: The roster account the dev registry anchors its access log with and signs its per-dose reads as.
DEV_ANCHOR_LABEL = "cdc/registry"


def init_dev_registry(directory: Path, node_rpc: str, listen: str = "127.0.0.1:8600") -> Path:
    """A registry directory for the devnet: the dev registry key (registered in genesis) and a CDC account."""
    return init_registry(
        directory,
        node_rpc,
        listen,
        anchor_key=dev_key(DEV_ANCHOR_LABEL),
        signing_key=PrivateKey.from_seed(DEV_REGISTRY_SEED),
    )


def register_people(client: RegistryClient, people: Iterable[SyntheticPerson]) -> list[tuple[str, str]]:
    """Register every child through the registry API: (person id, family access code) each."""
    out = []
    for person in people:
        added = client.add_person(person.to_json(), "devnet synthetic person")
        out.append((added["person_id"], added["access_code"]))
    return out


def cosign_planned(
    client: RegistryClient,
    person_id: str,
    trace_code: str,
    lot_id: str,
    planned: PlannedDose,
    vaccinator: bytes,
) -> DoseCosignature:
    """The registry's co-signature of one planned dose (what the district day's record_dose then carries)."""
    return client.record_dose(
        DoseRequest(person_id, trace_code, lot_id, planned.dose_number, planned.administered_ms, vaccinator)
    )


def fill_registry(registry_url: str, count: int, seed: int = 0, today: dt.date | None = None) -> int:
    """Register `count` synthetic children, each by the first staff account of a sample-district site in turn
    (so each site may later read the records it created); returns how many were newly registered."""
    sites = district_roster().sites
    clients = [RegistryClient(registry_url, dev_key(site.staff_labels[0])) for site in sites]
    for _ in range(120):  # the devnet starts the registry just before: wait for it to listen
        try:
            clients[0].registry_address()
            break
        except RegistryUnavailable:
            time.sleep(0.5)
    added = 0
    for i, person in enumerate(synthetic_people(seed, count, today or dt.date.today())):
        try:
            clients[i % len(clients)].add_person(person.to_json(), "devnet synthetic person")
            added += 1
        except RegistryClientError as exc:
            if exc.code != "PersonExists":  # a rerun of the devnet with --keep
                raise
    return added


def doses_through_registry(
    actions: Iterable[Any],
    keys: Mapping[str, PrivateKey],
    registry_url: str,
    node_rpc: str,
    *,
    seed: int = 1,
    people: int = 3000,
    today: dt.date | None = None,
    multi_visit_p: float = 0.4,
    visit_window_ms: int = 3_600_000,
    on_register: Callable[[str, str], None] | None = None,
) -> Iterator[Any]:
    """The district day's actions, each dose given to a synthetic child the registry knows: the site's staff
    registers the child at its first visit, and the registry checks the child's rules and co-signs the dose, so
    the chain carries only the registry's per-dose values (children get two or three vaccines at one visit, and
    come back for a later dose of a series when the day allows). Lazy: each dose is co-signed just before it is
    sent, after the lot it comes from was sent. `on_register(person_id, family access code)` sees each new child.
    """
    children = synthetic_people(seed, people, today or dt.date.today())
    chain = RpcChain(node_rpc)
    planner: DosePlanner | None = None
    series: dict[str, tuple[int, ...]] = {}
    clients: dict[str, RegistryClient] = {}
    registered: dict[int, str] = {}
    for action in actions:
        payload = action.payload
        if not isinstance(payload, RecordDose):
            yield action
            continue
        rule = chain.series_rule(payload.lot.product_code)
        if rule is None:
            raise ValueError(f"the chain does not know product {payload.lot.product_code}")
        if rule.series not in series or planner is None:
            series[rule.series] = rule.min_intervals_days
            planner = planner or DosePlanner(
                children, series, multi_visit_p=multi_visit_p, visit_window_ms=visit_window_ms, seed=seed
            )
        client = clients.setdefault(
            action.sender_label, RegistryClient(registry_url, keys[action.sender_label])
        )
        site = action.sender_label.split("/", 1)[0]
        planned = planner.assign(site, rule.series, payload.administered_ms)
        if planned.person not in registered:
            added = client.add_person(children[planned.person].to_json(), "first visit")
            registered[planned.person] = str(added["person_id"])
            if on_register is not None:
                on_register(str(added["person_id"]), str(added["access_code"]))
        cosigned = cosign_planned(
            client,
            registered[planned.person],
            payload.trace_code,
            payload.lot.lot_id,
            planned,
            payload.vaccinator,
        )
        yield dataclasses.replace(
            action,
            payload=dataclasses.replace(
                payload,
                dose_number=planned.dose_number,
                dose_ref=cosigned.dose_ref,
                record_hash=cosigned.record_hash,
                registry_signature=cosigned.registry_signature,
            ),
        )


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m harness.registry_people init|fill`: the devnet's registry set-up (see scripts/devnet)."""
    parser = argparse.ArgumentParser(prog="python -m harness.registry_people", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create the dev registry directory (keys, registry.toml)")
    init.add_argument("--dir", type=Path, required=True)
    init.add_argument("--node-rpc", default="http://127.0.0.1:8545")
    init.add_argument("--listen", default="127.0.0.1:8600")
    fill = sub.add_parser("fill", help="register synthetic children through the registry API")
    fill.add_argument("--registry", default="http://127.0.0.1:8600")
    fill.add_argument("--count", type=int, default=300)
    fill.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "init":
        print(init_dev_registry(args.dir, args.node_rpc, args.listen))
    else:
        print(f"registered {fill_registry(args.registry, args.count, args.seed)} synthetic people")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
