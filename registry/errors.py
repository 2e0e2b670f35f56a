"""Named errors of the registry: each has a stable `code` the HTTP API returns and fields that say why."""

from __future__ import annotations


class RegistryError(Exception):
    """Base of every registry error; `code` names it on the wire, `status` is its HTTP status."""

    code = "RegistryError"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(RegistryError):
    """A request or field that is malformed (the field is named)."""

    code = "BadRequest"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Unauthenticated(RegistryError):
    """A request without a valid signature (missing headers, bad signature, outside the window, replayed)."""

    code = "Unauthenticated"
    status = 401

    def __init__(self, reason: str) -> None:
        super().__init__(f"unauthenticated: {reason}")
        self.reason = reason


class Forbidden(RegistryError):
    """An authenticated caller whose on-chain organisation or role does not allow the action."""

    code = "Forbidden"
    status = 403

    def __init__(self, caller: str, action: str, reason: str) -> None:
        super().__init__(f"{caller} may not {action}: {reason}")
        self.caller = caller
        self.action = action
        self.reason = reason


class PersonNotFound(RegistryError):
    """No person with this id (or ID number) in the registry."""

    code = "PersonNotFound"
    status = 404

    def __init__(self, what: str) -> None:
        super().__init__(f"no person {what}")


class PersonExists(RegistryError):
    """A person with this ID number is already registered (its person id is given)."""

    code = "PersonExists"
    status = 409

    def __init__(self, person_id: str) -> None:
        super().__init__(f"already registered as {person_id}")
        self.person_id = person_id


class PersonErased(RegistryError):
    """The person's key was destroyed: the record can no longer be read or extended."""

    code = "PersonErased"
    status = 410

    def __init__(self, person_id: str) -> None:
        super().__init__(f"person {person_id} was erased")


class DoseAlreadyRecorded(RegistryError):
    """This dose of the series is already recorded for the person."""

    code = "DoseAlreadyRecorded"
    status = 409

    def __init__(self, series: str, dose_number: int) -> None:
        super().__init__(f"dose {dose_number} of {series} is already recorded for this person")
        self.series = series
        self.dose_number = dose_number


class DoseIntervalTooShort(RegistryError):
    """Too few days since the previous dose of the series."""

    code = "DoseIntervalTooShort"
    status = 409

    def __init__(self, series: str, dose_number: int, days: int, min_days: int) -> None:
        super().__init__(
            f"dose {dose_number} of {series} only {days} days after the previous (minimum {min_days})"
        )
        self.series = series
        self.dose_number = dose_number
        self.days = days
        self.min_days = min_days


class DoseOnChain(RegistryError):
    """A dose the chain already holds cannot be cancelled in the registry."""

    code = "DoseOnChain"
    status = 409

    def __init__(self, dose_ref: str) -> None:
        super().__init__(
            f"dose {dose_ref} is on chain (or its transaction was reported): it cannot be cancelled"
        )
        self.dose_ref = dose_ref


class AccessCodeInvalid(RegistryError):
    """A family access code that is unknown or revoked (the two are not told apart)."""

    code = "AccessCodeInvalid"
    status = 403

    def __init__(self) -> None:
        super().__init__("unknown or revoked access code")


class ChainUnavailable(RegistryError):
    """The node's RPC did not answer (so roles and products cannot be checked now)."""

    code = "ChainUnavailable"
    status = 503

    def __init__(self, reason: str) -> None:
        super().__init__(f"chain unavailable: {reason}")
        self.reason = reason


class KeyFileError(RegistryError):
    """A key file that is missing, unreadable, readable by others or not the expected size."""

    code = "KeyFileError"

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"key file {path}: {reason}")
        self.path = path
        self.reason = reason


class SealError(RegistryError):
    """A sealed record that does not open (wrong master key, corrupted database)."""

    code = "SealError"
    status = 500

    def __init__(self, what: str) -> None:
        super().__init__(f"cannot open {what}: wrong key or corrupted data")


class AppointmentTooEarly(RegistryError):
    """An appointment before the earliest date the schedule allows one of its doses (that date is given)."""

    code = "AppointmentTooEarly"
    status = 409

    def __init__(self, date: str, antigen: str, earliest: str) -> None:
        super().__init__(f"{antigen} cannot be given on {date}: the earliest valid date is {earliest}")
        self.date = date
        self.antigen = antigen
        self.earliest = earliest


class AppointmentInPast(RegistryError):
    """An appointment dated before today (the registry's date in the district)."""

    code = "AppointmentInPast"

    def __init__(self, date: str, today: str) -> None:
        super().__init__(f"{date} is in the past (today is {today})")
        self.date = date
        self.today = today


class AppointmentNotDue(RegistryError):
    """An appointment for an antigen with no dose left to give (complete, or no longer given at this age)."""

    code = "AppointmentNotDue"
    status = 409

    def __init__(self, antigen: str) -> None:
        super().__init__(f"no dose of {antigen or 'any vaccine'} is due for this person")
        self.antigen = antigen


class AppointmentNotFound(RegistryError):
    """The person has no appointment booked."""

    code = "AppointmentNotFound"
    status = 404

    def __init__(self, person_id: str) -> None:
        super().__init__(f"no appointment booked for {person_id}")
        self.person_id = person_id
