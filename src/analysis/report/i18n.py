"""Swedish and English for the reports: one reviewable catalogue (`catalogue.yml`) and Babel number formats.

Every label, caption and sentence a reader sees comes from the catalogue: `messages` are templates with
named fields (findings, page text), `columns` and `values` label table columns and coded values, `text`
translates the English prose a notebook passes (captions, chart titles, markdown cells) into Swedish.
Numbers go through Babel: "1 234,5" and "p < 0,001" in Swedish, "1,234.5" and "p < 0.001" in English.

One notebook execution carries both languages: display functions wrap each language's HTML in
`<!--lang:sv-->…<!--/lang:sv-->` markers and `render` keeps one language per page (`split`).
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path

import yaml
from babel.numbers import format_decimal

LANGS = ("sv", "en")
LOCALES = {"sv": "sv_SE", "en": "en_GB"}
CATALOGUE = Path(__file__).resolve().parent / "catalogue.yml"
_state = {"lang": "en"}


@functools.lru_cache(maxsize=1)
def catalogue() -> dict:
    """The catalogue as loaded from catalogue.yml (sections messages, columns, values, text)."""
    return yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"language {lang!r}: use one of {', '.join(LANGS)}")
    return lang


def t(key: str, lang: str, **fields) -> str:
    """The catalogue message `key` in `lang`, its {fields} filled in."""
    entry = catalogue()["messages"][key]
    return entry[check_lang(lang)].format(**fields)


def text(english: str, lang: str) -> str:
    """English prose in `lang`: the catalogue's Swedish for it, else the English unchanged.

    Entries with {fields} match prose built with values ("Advertised IT contracts {year}"), the values
    carried over into the Swedish; the entry with the most fixed text wins.
    """
    if lang == "en" or english is None:
        return english
    key = english.strip()
    found = catalogue()["text"].get(key)
    if found is not None:
        return found
    for pattern, swedish in _patterns():
        m = pattern.fullmatch(key)
        if m:
            return swedish.format(**m.groupdict())
    return english


@functools.lru_cache(maxsize=1)
def _patterns() -> list[tuple[re.Pattern, str]]:
    out = []
    for english, swedish in catalogue()["text"].items():
        if "{" in english:
            parts = re.split(r"{(\w+)}", english)
            regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
            out.append((len("".join(parts[::2])), re.compile(regex, re.S), swedish))
    return [(pattern, swedish) for _, pattern, swedish in sorted(out, key=lambda e: -e[0])]


def data_text(raw: str, lang: str) -> str:
    """A note written by the build (English, sometimes with code names) in plain words, in `lang`.

    Entries of the catalogue's `data_text` section may hold {fields}; text without an entry is left as it is.
    """
    if raw is None:
        return raw
    entries = catalogue().get("data_text", {})
    key = raw.strip()
    if key in entries:
        return entries[key][check_lang(lang)]
    for english, entry in entries.items():
        if "{" in english:
            parts = re.split(r"{(\w+)}", english)
            regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
            m = re.fullmatch(regex, key, re.S)
            if m:
                fields = {k: data_text(v, lang) for k, v in m.groupdict().items()}  # a field may be a phrase with its own entry
                if lang == "sv":  # English thousands separators in the values ("1,000") read as decimals in Swedish
                    fields = {k: re.sub(r"(?<=\d)\.(?=\d)", ",", re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "\u00a0", v))
                              for k, v in fields.items()}
                return entry[check_lang(lang)].format(**fields)
    if "; " in key:  # a note of several findings: each in words
        return "; ".join(data_text(part, lang) for part in key.split("; "))
    return raw


def has_text(english: str) -> bool:
    key = english.strip()
    return key in catalogue()["text"] or any(p.fullmatch(key) for p, _ in _patterns())


def column(name: str, lang: str) -> str:
    """A plain-language column label ('per_inhabitant' -> 'kr per invånare')."""
    entry = catalogue()["columns"].get(name)
    if entry is None:
        return name.replace("_", " ")
    return entry[check_lang(lang)]


def value(kind: str, code, lang: str) -> str:
    """A coded value in words ('value_state', 'not_reported' -> 'value not reported')."""
    entry = catalogue()["values"].get(kind, {}).get(str(code))
    return entry[check_lang(lang)] if entry else str(code)


def coded_columns() -> set[str]:
    return set(catalogue()["values"])


def number(x, lang: str, decimals: int = 0) -> str:
    """A number for people: thousands separated, `decimals` places ('1 234,5' / '1,234.5'); '–' for missing."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    try:
        if x != x:  # pandas NA / NaN
            return "–"
    except TypeError:
        return "–"
    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return format_decimal(round(float(x), decimals), format=pattern, locale=LOCALES[check_lang(lang)])


def integer(x, lang: str) -> str:
    return number(x, lang, 0)


def smart(x, lang: str) -> str:
    """Table format: whole numbers from 100 up, one decimal below, integers as integers."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if float(x).is_integer() or abs(x) >= 100:
        return number(x, lang, 0)
    return number(x, lang, 1 if abs(x) >= 1 else 2)


def sek(x: float, lang: str) -> str:
    """Kronor for prose: '1,2 miljarder kr' / '1.2 billion SEK', '3,4 mnkr' / '3.4 MSEK', '12 345 kr'."""
    ax = abs(x)
    if ax >= 1e9:
        return t("fmt.bn_sek", lang, n=number(x / 1e9, lang, 1))
    if ax >= 1e6:
        return t("fmt.msek", lang, n=number(x / 1e6, lang, 1))
    return t("fmt.sek", lang, n=number(x, lang, 0))


def per_inh(x: float, lang: str) -> str:
    """'862 kr per invånare' / '862 SEK per inhabitant'."""
    return t("fmt.per_inh", lang, n=number(x, lang, 0))


def pct(part: float, whole: float, lang: str) -> str:
    """A share in per cent with sensible rounding ('4,5 %' / '4.5%')."""
    if not whole:
        return t("fmt.pct", lang, n=number(0, lang))
    share = 100 * part / whole
    return t("fmt.pct", lang, n=number(share, lang, 1 if abs(share) < 10 else 0))


def p_value(p: float, lang: str) -> str:
    """'p < 0,001' under 0.001, else 'p = 0,034'."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "p –"
    if p < 0.001:
        return f"p < {number(0.001, lang, 3)}"
    return f"p = {number(p, lang, 3)}"


def set_lang(lang: str) -> None:
    """The language figure tick labels are formatted in at draw time."""
    _state["lang"] = check_lang(lang)


def current_lang() -> str:
    return _state["lang"]


def wrap(parts: dict[str, str]) -> str:
    """Both languages' HTML in one output, each between its markers."""
    return "".join(f"<!--lang:{lang}-->{parts[lang]}<!--/lang:{lang}-->" for lang in LANGS)


_MARKED = re.compile(r"<!--lang:(sv|en)-->(.*?)<!--/lang:\1-->", re.S)


def split(page: str, lang: str) -> str:
    """The page in one language: the other language's marked parts removed, the markers dropped."""
    check_lang(lang)
    return _MARKED.sub(lambda m: m.group(2) if m.group(1) == lang else "", page)


class Localized(str):
    """A string in English (its value) that also knows its Swedish: `.by_lang['sv']`."""

    by_lang: dict[str, str]

    def __new__(cls, by_lang: dict[str, str]):
        obj = super().__new__(cls, by_lang["en"])
        obj.by_lang = by_lang
        return obj


class LocalizedList(list):
    """A list of English sentences (its items) that also knows the Swedish list: `.by_lang['sv']`."""

    def __init__(self, by_lang: dict[str, list[str]]):
        super().__init__(by_lang["en"])
        self.by_lang = by_lang


def bilingual(fn):
    """Called with lang= it returns that language; without, an English result carrying both languages."""

    @functools.wraps(fn)
    def wrapper(*args, lang: str | None = None, **kwargs):
        if lang is not None:
            return fn(*args, lang=lang, **kwargs)
        out = {la: fn(*args, lang=la, **kwargs) for la in LANGS}
        return LocalizedList(out) if isinstance(out["en"], list) else Localized(out)

    return wrapper


def in_lang(obj, lang: str):
    """The `lang` version of a Localized result; plain values are translated as English prose."""
    by_lang = getattr(obj, "by_lang", None)
    if by_lang is not None:
        return by_lang[lang]
    if isinstance(obj, list):
        return [text(s, lang) for s in obj]
    return text(obj, lang)
