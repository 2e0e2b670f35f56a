"""Page bodies, one module per area: each reads what it needs through `Data` and returns escaped HTML.

The domain analysis the pages share (alert grouping, storage legs, compliance) is pure and lives in
`explorer.analysis`; this package only awaits data and renders.
"""

from explorer.analysis import AlertRow, Leg, group_alerts, looks_like_code, storage_legs
from explorer.pages.alerts import alerts_live, alerts_page
from explorer.pages.blocks import block_page, tx_page, validator_page, validators_page, verify_page
from explorer.pages.code import code_page, search
from explorer.pages.common import Body, Redirect
from explorer.pages.district import district_page, recall_page
from explorer.pages.home import home, home_live
from explorer.pages.lots import lot_page, lots_page
from explorer.pages.orgs import org_page, orgs_page, unit_page

__all__ = [
    "AlertRow",
    "Body",
    "Leg",
    "Redirect",
    "alerts_live",
    "alerts_page",
    "block_page",
    "code_page",
    "district_page",
    "group_alerts",
    "home",
    "home_live",
    "looks_like_code",
    "lot_page",
    "lots_page",
    "org_page",
    "orgs_page",
    "recall_page",
    "search",
    "storage_legs",
    "tx_page",
    "unit_page",
    "validator_page",
    "validators_page",
    "verify_page",
]
