"""Chain-wide settings fixed at genesis (JSON section "parameters")."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from contracts.errors import GenesisInvalid
from contracts.types import U32, Range, Temp


@dataclass(frozen=True, slots=True)
class Params:
    """Temperature rules (WHO defaults), receipt policy and limits; temperatures in 0.01 C."""

    heat_threshold: Temp = 800  # a sample >= this counts as heat exposure (chilled storage)
    heat_continuous_minutes: U32 = 600  # WHO 30-DTR high alarm: 10 h continuous
    heat_cumulative_minutes: U32 = 1200  # cumulative heat exposure within the window
    heat_cumulative_window_hours: U32 = 720  # tumbling window (30 days, like a 30-DTR)
    freeze_threshold: Temp = -50  # a sample <= this counts as freezing
    freeze_minutes: U32 = 60  # WHO 30-DTR low alarm: 60 min; only freeze-sensitive lots
    strict_rule: bool = False  # local rule: any sample outside [strict_min, strict_max] longer than grace
    strict_min: Temp = 200
    strict_max: Temp = 800
    strict_grace_minutes: U32 = 30
    require_readings_on_receive: bool = True  # Vaccine Administration Law art. 39
    max_samples_per_reading: U32 = 240
    max_future_skew_s: U32 = 120
    max_past_dose_hours: U32 = 72  # how far back a dose may be dated (offline sites catch up)
    utc_offset_minutes: Annotated[int, Range(-720, 840)] = 480  # expiry day boundary (UTC+8)
    max_proof_depth: U32 = 32
    # Chinese storage rule (疫苗储存和运输管理规范): any sample outside a product's label range opens an
    # excursion; one longer than excursion_quarantine_minutes quarantines that product's stock in the unit.
    label_rule: bool = False
    excursion_quarantine_minutes: U32 = 30
    monitoring_interval_minutes: U32 = 30  # a logger reports at least this often (0 = no gap rule)
    expiry_warning_days: U32 = 30  # expiry_soon alert this many days before a lot expires (0 = none)
    aefi_signal_threshold: U32 = 2  # aefi_signal alert at this many serious AEFI reports of a lot (0 = none)

    @staticmethod
    def from_json(obj: Any, path: str = "parameters") -> Params:
        """Build from a JSON object with snake_case keys; missing keys keep defaults."""
        if obj is None:
            return Params()
        if not isinstance(obj, Mapping):
            raise GenesisInvalid(path, "must be an object")
        hints = typing.get_type_hints(Params, include_extras=True)
        names = {f.name for f in dataclasses.fields(Params)}
        values: dict[str, Any] = {}
        for key, raw in obj.items():
            if key not in names:
                raise GenesisInvalid(f"{path}.{key}", "unknown parameter")
            tp, *meta = typing.get_args(hints[key]) or (hints[key],)
            where = f"{path}.{key}"
            if tp is bool:
                if not isinstance(raw, bool):
                    raise GenesisInvalid(where, "must be true or false")
            else:
                if isinstance(raw, bool) or not isinstance(raw, int):
                    raise GenesisInvalid(where, "must be an integer")
                bounds = next((m for m in meta if isinstance(m, Range)), None)
                if bounds is not None and not bounds.lo <= raw <= bounds.hi:
                    raise GenesisInvalid(where, f"must be in [{bounds.lo}, {bounds.hi}]")
            values[key] = raw
        params = Params(**values)
        _check_consistent(params, path)
        return params

    def to_json(self) -> dict[str, Any]:
        """The JSON form accepted by from_json."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _check_consistent(p: Params, path: str) -> None:
    if p.freeze_threshold >= p.heat_threshold:
        raise GenesisInvalid(f"{path}.freeze_threshold", "must be below heat_threshold")
    if p.strict_min >= p.strict_max:
        raise GenesisInvalid(f"{path}.strict_min", "must be below strict_max")
    if p.heat_continuous_minutes == 0 or p.freeze_minutes == 0:
        raise GenesisInvalid(f"{path}.heat_continuous_minutes", "durations must be positive")
    if p.max_samples_per_reading == 0:
        raise GenesisInvalid(f"{path}.max_samples_per_reading", "must be positive")
