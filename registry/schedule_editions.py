"""The schedule editions the registry knows, and the choice of one by config (`schedule` key) and date.

`schedule = "auto"` (the default) reads each child against the edition in force on the assessment day; naming an
edition ("NIP-2021", "NIP-2021-DTaP2025") pins it.
"""

from __future__ import annotations

import datetime as dt

from registry.schedule import Schedule, in_force
from registry.schedule_dtap2025 import NIP_2021_DTAP_2025
from registry.schedule_nip2021 import NIP_2021

AUTO = "auto"
LATEST = NIP_2021_DTAP_2025
EDITIONS: dict[str, Schedule] = {s.edition: s for s in (NIP_2021, NIP_2021_DTAP_2025)}


def select(name: str, day: dt.date) -> Schedule:
    """The edition a config's `schedule` names, or for "auto" the one in force on `day` (KeyError if unknown)."""
    return in_force(LATEST, day) if name == AUTO else EDITIONS[name]
