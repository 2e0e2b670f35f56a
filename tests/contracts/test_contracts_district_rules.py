"""The sample district's day under the Chinese storage rule (#20): the failing fridge's excursion quarantines
its stock after 30 minutes, the CDC condemns it, a silent logger leaves one monitoring gap, and every dose given
during either is flagged. Every count is checked exactly against the generator's plan."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from contracts_testkit import Chain, cosigned, district_chain

from contracts import queries, verdicts
from contracts.errors import ContractError
from contracts.kinds.doses import RecordDose
from contracts.params import Params
from harness.district import DistrictDay, Roster
from node.api.vax_rules import UNIT_VERDICT_RESULT
from rpc.schema import validate

SITES = 47
LABEL_MINUTES = 30


@pytest.fixture(scope="module")
def day() -> tuple[Chain, Roster, DistrictDay, list[tuple[str, ContractError]]]:
    params = Params(label_rule=True, excursion_quarantine_minutes=LABEL_MINUTES)
    chain, roster, addresses = district_chain(sites=SITES, seed=7, params=params)
    chain.wire = False
    d = DistrictDay(
        roster, 7, chain.time_ms, addresses, reading_interval_s=900, label_rule_minutes=LABEL_MINUTES
    )
    failures: list[tuple[str, ContractError]] = []
    for a in d:
        try:
            chain.submit(addresses[a.sender_label], cosigned(a.payload, a.sender_label), time_ms=a.time_ms)
        except ContractError as e:
            failures.append((a.sender_label, e))
    return chain, roster, d, failures


def recall_held(d: DistrictDay, lot_id: str) -> int:
    """Units of the lot quarantined under its recall at the end of the day: the MAH's spare and the returns."""
    if lot_id != d.plan.recalled_lot:
        return 0
    spare = d.plan.lots[lot_id].tree.size - sum(q[lot_id] for q in d.plan.quotas.values())
    return spare + sum(d.plan.returned.values())


def test_every_action_succeeds(day: Any) -> None:
    assert day[3] == []


def test_the_excursion_quarantines_in_time_and_the_cdc_condemns(day: Any) -> None:
    chain, _, d, _ = day
    unit = queries.get_storage_unit(chain.state, d.plan.failing_unit)
    assert unit is not None and unit["breach_count"] == 2
    # the WHO rules still run: 10 h at 12 C is a heat breach at 21:00, when nothing is left to quarantine
    breach, heat = unit["breaches"]
    assert heat["cause"] == "heat_breach" and heat["at_s"] == d.plan.fail_start_s + 10 * 3600
    assert heat["lots"] == []
    assert breach["cause"] == "label_excursion" and breach["since_s"] == d.plan.fail_start_s
    assert breach["at_s"] == d.plan.breach_s == d.plan.fail_start_s + LABEL_MINUTES * 60 + 60
    assert sorted(breach["lots"]) == sorted(d.plan.condemned)
    assert d.plan.condemned and d.plan.quarantine_ids.keys() == d.plan.condemned.keys()
    for lot_id, qid in d.plan.quarantine_ids.items():
        q = queries.get_quarantine(chain.state, qid)
        assert q is not None and q["cause"] == "label_excursion" and q["since_s"] == d.plan.fail_start_s
        assert q["status"] == "condemned" and q["decided_by"] == "cdc"
        assert q["quantity"] == d.plan.condemned[lot_id]
        lot = queries.get_lot(chain.state, lot_id)
        # nothing is left in quarantine but the recalled lot's stock, all back at the MAH under the recall
        assert lot is not None and lot["quarantined"] == recall_held(d, lot_id)
        assert lot["destroyed"] == d.plan.condemned[lot_id]
    kinds = Counter(a["kind"] for a in queries.alerts(chain.state, site=d.plan.failing_site, limit=1000))
    assert kinds["temperature_excursion"] == 1 and kinds["strict_breach"] == 1 and kinds["heat_breach"] == 1


def test_episodes_and_flagged_doses_are_counted_exactly(day: Any) -> None:
    chain, roster, d, _ = day
    episodes = verdicts.list_episodes(chain.state, limit=500)["episodes"]
    assert Counter(e["kind"] for e in episodes) == {"excursion": 1, "monitoring_gap": 1}
    (exc,) = [e for e in episodes if e["kind"] == "excursion"]
    (gap,) = [e for e in episodes if e["kind"] == "monitoring_gap"]
    assert exc["quarantined"] and exc["unit_id"] == d.plan.failing_unit and exc["open"]
    assert gap["org_id"] == d.plan.gap_site and not gap["open"] and gap["minutes_out"] == 120
    assert d.plan.excursion_doses > 0 and d.plan.gap_doses > 0
    assert (exc["doses"], gap["doses"]) == (d.plan.excursion_doses, d.plan.gap_doses)
    assert verdicts.list_episodes(chain.state, open_only=True, kind="monitoring_gap")["episodes"] == []
    assert verdicts.list_episodes(chain.state, org_id=d.plan.gap_site)["episodes"] == [gap]
    flagged = {
        site.org_id: verdicts.flagged_doses(chain.state, site=site.org_id)["site"] for site in roster.sites
    }
    expected = {site.org_id: 0 for site in roster.sites}
    expected[d.plan.failing_site] = d.plan.excursion_doses
    expected[d.plan.gap_site] = d.plan.gap_doses
    assert flagged == expected


def test_unit_verdict_of_a_vial_opened_during_the_excursion(day: Any) -> None:
    chain, _, d, _ = day
    opened = [
        a.payload
        for a in d
        if isinstance(a.payload, RecordDose)
        and a.payload.storage_unit == d.plan.failing_unit
        and a.payload.administered_ms >= d.plan.fail_start_s * 1000
    ]
    v = verdicts.unit_verdict(chain.state, opened[-1].trace_code, chain.time_ms)
    validate(UNIT_VERDICT_RESULT, v)  # the shape the RPC method documents
    flags = {f["flag"] for f in v["flags"]}
    assert "opened_during_excursion" in flags and v["verdict"] == "do_not_use"
    assert v["opened"]["storage_unit"] == d.plan.failing_unit and v["opened"]["episode_id"] is not None
    assert v["storage"][0]["storage_unit"] == "mah-coldroom"
    assert v["storage"][-1]["storage_unit"] == d.plan.failing_unit
