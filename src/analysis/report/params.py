"""Validation of report parameters: a bad value raises UserError naming the parameter, before any work."""

from __future__ import annotations

import re

from ..errors import UserError

LENSES = ("ledger", "procurement", "published")
COOPERATION_KINDS = ("joint_it_operations", "e_archive", "e_services", "broad_kommunalforbund", "any_it")


def _municipalities():
    from .data import load

    return load("municipalities")


def check_kommunkod(value) -> str:
    """A four-digit string that is one of the 290 municipalities (papermill's `-p kommunkod 0180` gives 180)."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}", value):
        raise UserError(f"parameter kommunkod={value!r}: must be a four-digit string such as '0180' (pass it with -r)")
    if value not in set(_municipalities()["kommunkod"]):
        raise UserError(f"parameter kommunkod={value!r}: no municipality has this code")
    return value


def check_lan_kod(value) -> str:
    """A two-digit string that is one of the 21 län."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{2}", value):
        raise UserError(f"parameter lan_kod={value!r}: must be a two-digit string such as '01' (pass it with -r)")
    if value not in set(_municipalities()["lan_kod"]):
        raise UserError(f"parameter lan_kod={value!r}: no län has this code")
    return value


def check_year(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1950 <= value <= 2100:
        raise UserError(f"parameter year={value!r}: must be an integer year such as 2021")
    return value


def check_period(value) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise UserError(f"parameter period={value!r}: must be a month 'YYYY-MM' such as '2016-03'")
    return value


def _choice(name: str, options: tuple[str, ...]):
    def check(value) -> str:
        if value not in options:
            raise UserError(f"parameter {name}={value!r}: must be one of {', '.join(options)}")
        return value

    return check


def _flag(name: str):
    def check(value) -> bool:
        if not isinstance(value, bool):
            raise UserError(f"parameter {name}={value!r}: must be True or False")
        return value

    return check


CHECKS = {
    "kommunkod": check_kommunkod,
    "lan_kod": check_lan_kod,
    "year": check_year,
    "period": check_period,
    "lens": _choice("lens", LENSES),
    "cooperation_kind": _choice("cooperation_kind", COOPERATION_KINDS),
    "attribute_federations": _flag("attribute_federations"),
    "include_frameworks": _flag("include_frameworks"),
    "trim_top_share": _flag("trim_top_share"),
    "unknown_as_nonmember": _flag("unknown_as_nonmember"),
    "exclude_hosts": _flag("exclude_hosts"),
    "outcome": _choice("outcome", ("activity_all", "it_procurements", "ted_it_procurements")),  # before/after joining
}


def validate_params(params: dict) -> dict:
    """Check every report parameter; unknown names are errors too (a misspelt name would be ignored)."""
    out = {}
    for name, value in params.items():
        if name not in CHECKS:
            raise UserError(f"unknown report parameter {name!r}; known: {', '.join(CHECKS)}")
        out[name] = CHECKS[name](value)
    return out
