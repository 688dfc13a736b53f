"""What each lens cannot show: the standing caveats a report lists in its 'What this data cannot show' box."""

from __future__ import annotations

from ..errors import UserError

CAVEATS = {
    "procurement": [
        "Advertised procurement measures buying activity, not spending: the contracted value is the whole"
        " term of a contract (often several years, options included; for framework agreements the maximum).",
        "Direct awards, call-offs from existing framework agreements (for example Adda's) and purchases under"
        " the thresholds are not advertised and are missing; a municipality with no IT procurement in a year"
        " still spends on IT.",
        "Purchases made by federations and joint IT companies are shared among their member municipalities"
        " by population where the members are known; that is why some procurement counts are fractions."
        " Purchases by other municipal companies are not counted.",
        "The export was taken in early 2023; late award notices may have changed the figures since.",
    ],
    "ledger": [
        "Supplier ledgers are published by only a few municipalities, for single months or years; they cannot"
        " be generalised to other municipalities.",
        "Salaries of the municipality's own IT staff never appear in a supplier ledger.",
        "Which postings count as IT depends on account codes and supplier classification, both imperfect.",
        "Sole traders' names and personal identity numbers are masked.",
    ],
    "published": [
        "Published IT-cost figures are few, old, and defined differently by each source (whole municipality"
        " or IT unit, gross or net).",
    ],
    "cooperation": [
        "Absence from the cooperation table does not prove non-membership; member lists of some cooperations"
        " are incomplete.",
        "A difference between members and non-members is an association, not proof that cooperating causes"
        " it: municipalities choose to cooperate for reasons that also affect IT costs.",
        "Inera AB is owned by almost every municipality and therefore cannot be compared.",
    ],
    "population": [
        "Per-inhabitant figures use the population on 31 December of the figure's year (SCB's series to 2020,"
        " SCB's figures through Kolada for 2021–2022); a figure from a later year uses the latest year available.",
    ],
}


def caveats(*lenses: str) -> list[str]:
    """The caveats of the given lenses, in order."""
    unknown = [lens for lens in lenses if lens not in CAVEATS]
    if unknown:
        raise UserError(f"no caveats for {unknown[0]!r}; known: {', '.join(CAVEATS)}")
    return [c for lens in lenses for c in CAVEATS[lens]]
