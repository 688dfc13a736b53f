"""Cooperation stage, part 1: which municipality shared IT through which kind of cooperation, per year.

Inputs are reviewable tables in data/mappings/:
- cooperations.csv: one row per municipality × cooperation (copied from the curated shared table, one
  source per row); valid_from is sometimes only the first year with evidence.
- cooperation_kinds.csv: each cooperation_id → kind (joint_it_operations, e_archive, e_services,
  other_it, excluded), the host municipality of joint boards, and where the member list is known to be
  incomplete (unknown_scope: "national" or "lan:05;07"), and whether its valid_from years are real
  start years (valid_from_is_start = yes) or only the first evidence.
- kolada_kommunalforbund_groups.csv: which Kolada groups are broad kommunalförbund (include = yes).

Output `cooperation_membership`: one row per kommunkod × year × cooperation_kind with
state "member" | "no_membership_found" | "unknown", is_host, confidence and cooperation_ids.
Rules (also in docs/comparison.md):
- member: listed in a cooperation of the kind with valid_from ≤ year ≤ valid_to (an empty bound is open);
- unknown: listed but year < valid_from when valid_from is only the first evidence (joining may be
  earlier), or inside the unknown_scope of a cooperation of the kind whose list is incomplete (listed or
  not: an end of evidence is not an end of membership);
- no_membership_found: neither; absence from our lists is not proof of non-membership.
Member beats unknown beats no_membership_found. `any_it` pools joint_it_operations, e_archive,
e_services and other_it; `excluded` cooperations (Inera) count nowhere.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from . import config
from .errors import UserError
from .io import validate

YEARS = tuple(range(2016, 2022))
KINDS = ("joint_it_operations", "e_archive", "e_services", "broad_kommunalforbund", "any_it")
MAPPING_KINDS = ("joint_it_operations", "e_archive", "e_services", "other_it", "excluded")
ANY_IT_KINDS = ("joint_it_operations", "e_archive", "e_services", "other_it")
STATES = ("member", "no_membership_found", "unknown")
CONFIDENCES = ("confirmed", "confirmed_by_count", "inferred")
KOLADA_CONFIDENCE = "kolada_group_2026"
CONFIDENCE_RANK = {c: i for i, c in enumerate((*CONFIDENCES, KOLADA_CONFIDENCE))}
COOPERATIONS_COLUMNS = [
    "cooperation_id", "cooperation_name", "type", "scope", "municipality_name", "kommunkod",
    "valid_from", "valid_to", "source", "confidence",
]
KINDS_COLUMNS = ["cooperation_id", "kind", "host_kommunkod", "unknown_scope", "valid_from_is_start", "reason"]
GROUPS_COLUMNS = ["group_id", "group_title", "include", "reason"]

MEMBERSHIP_SCHEMA = pa.DataFrameSchema(
    {
        "kommunkod": pa.Column(str, pa.Check.str_matches(r"^\d{4}$")),
        "year": pa.Column("int64"),
        "cooperation_kind": pa.Column(str, pa.Check.isin(KINDS)),
        "state": pa.Column(str, pa.Check.isin(STATES)),
        "is_host": pa.Column(bool),
        "confidence": pa.Column(str),
        "cooperation_ids": pa.Column(str),
    },
    checks=[
        pa.Check(lambda df: ~(df["is_host"] & (df["state"] != "member")), error="only members can be hosts"),
        pa.Check(
            lambda df: (df["state"] == "no_membership_found") == (df["cooperation_ids"] == ""),
            error="cooperation_ids must be empty exactly when no membership was found",
        ),
    ],
    unique=["kommunkod", "year", "cooperation_kind"],
    strict=True,
    ordered=True,
)


def _read_mapping(path: Path, columns: list[str]) -> pd.DataFrame:
    """Read a mapping CSV as strings, checking its exact header."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError as exc:
        raise UserError(f"{path}: mapping file not found") from exc
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UserError(f"{path}: cannot parse as UTF-8 CSV ({exc})") from exc
    if list(df.columns) != columns:
        raise UserError(f"{path.name}: columns {list(df.columns)} differ from the expected {columns}")
    return df


def _year(value: str, where: str) -> int | None:
    if value == "":
        return None
    if not re.fullmatch(r"\d{4}", value):
        raise UserError(f"{where}: year {value!r} is not a four-digit year")
    return int(value)


def read_cooperations(municipalities: pd.DataFrame, path: Path | None = None) -> pd.DataFrame:
    """The cooperation member list, checked row by row against the 290 municipalities."""
    path = path or config.MAPPINGS_DIR / "cooperations.csv"
    df = _read_mapping(path, COOPERATIONS_COLUMNS)
    names = dict(zip(municipalities["kommunkod"], municipalities["name"]))
    froms, tos = [], []
    for i, row in enumerate(df.itertuples(index=False), start=2):
        where = f"{path.name} row {i}"
        if row.kommunkod not in names:
            raise UserError(f"{where}: unknown kommunkod {row.kommunkod!r}")
        if row.municipality_name != names[row.kommunkod]:
            raise UserError(
                f"{where}: municipality_name {row.municipality_name!r} does not match kommunkod"
                f" {row.kommunkod} ({names[row.kommunkod]})"
            )
        if row.confidence not in CONFIDENCES:
            raise UserError(f"{where}: confidence {row.confidence!r} not one of {', '.join(CONFIDENCES)}")
        if not row.cooperation_id:
            raise UserError(f"{where}: empty cooperation_id")
        start, end = _year(row.valid_from, where), _year(row.valid_to, where)
        if start is not None and end is not None and start > end:
            raise UserError(f"{where}: valid_from {start} is after valid_to {end}")
        froms.append(start)
        tos.append(end)
    dupes = df.duplicated(["cooperation_id", "kommunkod"])
    if dupes.any():
        i = int(dupes.to_numpy().argmax()) + 2
        raise UserError(f"{path.name} row {i}: kommunkod {df['kommunkod'].iloc[i - 2]} listed twice for one cooperation")
    return df.assign(
        valid_from=pd.array(froms, dtype="Int64"), valid_to=pd.array(tos, dtype="Int64")
    )


def read_kinds(cooperations: pd.DataFrame, municipalities: pd.DataFrame, path: Path | None = None) -> pd.DataFrame:
    """The kind, host and incomplete-list scope of every cooperation (each id exactly once)."""
    path = path or config.MAPPINGS_DIR / "cooperation_kinds.csv"
    df = _read_mapping(path, KINDS_COLUMNS)
    lan_codes = set(municipalities["lan_kod"])
    for i, row in enumerate(df.itertuples(index=False), start=2):
        where = f"{path.name} row {i}"
        if row.kind not in MAPPING_KINDS:
            raise UserError(f"{where}: kind {row.kind!r} not one of {', '.join(MAPPING_KINDS)}")
        members = set(cooperations.loc[cooperations["cooperation_id"] == row.cooperation_id, "kommunkod"])
        if not members:
            raise UserError(f"{where}: cooperation_id {row.cooperation_id!r} has no rows in cooperations.csv")
        if row.host_kommunkod and row.host_kommunkod not in members:
            raise UserError(f"{where}: host_kommunkod {row.host_kommunkod!r} is not a listed member of {row.cooperation_id}")
        scope = row.unknown_scope
        if scope and scope != "national":
            lans = scope.removeprefix("lan:").split(";")
            if not scope.startswith("lan:") or not set(lans) <= lan_codes:
                raise UserError(f"{where}: unknown_scope {scope!r} must be empty, 'national' or 'lan:NN;NN' with valid län codes")
        if row.valid_from_is_start not in ("yes", "no"):
            raise UserError(f"{where}: valid_from_is_start {row.valid_from_is_start!r} must be 'yes' or 'no'")
        if not row.reason.strip():
            raise UserError(f"{where}: empty reason for {row.cooperation_id}")
    dupes = df["cooperation_id"][df["cooperation_id"].duplicated()]
    if len(dupes):
        raise UserError(f"{path.name}: cooperation_id {dupes.iloc[0]!r} mapped twice")
    unmapped = sorted(set(cooperations["cooperation_id"]) - set(df["cooperation_id"]))
    if unmapped:
        raise UserError(f"{path.name}: cooperation_id {unmapped[0]!r} from cooperations.csv has no kind ({len(unmapped)} unmapped)")
    return df


def read_kommunalforbund_groups(
    municipalities: pd.DataFrame, groups_json: Path, path: Path | None = None
) -> pd.DataFrame:
    """Members of the Kolada groups selected as broad kommunalförbund: cooperation_id (group id), kommunkod."""
    path = path or config.MAPPINGS_DIR / "kolada_kommunalforbund_groups.csv"
    selection = _read_mapping(path, GROUPS_COLUMNS)
    bad = selection.loc[~selection["include"].isin(["yes", "no"]), "include"]
    if len(bad):
        raise UserError(f"{path.name} row {bad.index[0] + 2}: include {bad.iloc[0]!r} must be 'yes' or 'no'")
    try:
        groups = {g["id"]: g for g in json.loads(groups_json.read_text(encoding="utf-8"))}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{groups_json}: cannot read the Kolada group list ({exc})") from exc
    known = set(municipalities["kommunkod"])
    rows = []
    for i, sel in enumerate(selection.itertuples(index=False), start=2):
        group = groups.get(sel.group_id)
        if group is None:
            raise UserError(f"{path.name} row {i}: group_id {sel.group_id!r} is not in {groups_json.name}")
        if group["title"] != sel.group_title:
            raise UserError(f"{path.name} row {i}: group_title {sel.group_title!r} differs from Kolada's {group['title']!r}")
        if sel.include != "yes":
            continue
        for member in group["members"]:
            if member["member_id"] not in known:
                raise UserError(f"{groups_json.name}: group {sel.group_id} has unknown member {member['member_id']!r}")
            rows.append((sel.group_id, member["member_id"]))
    return pd.DataFrame(rows, columns=["cooperation_id", "kommunkod"], dtype=str)


def evidence(
    cooperations: pd.DataFrame,
    kinds: pd.DataFrame,
    kommunalforbund: pd.DataFrame,
    municipalities: pd.DataFrame,
    years: tuple[int, ...] = YEARS,
) -> pd.DataFrame:
    """One row per piece of evidence: kommunkod, year, cooperation_kind, cooperation_id, state, confidence, is_host.

    state is "member" or "unknown"; every kind a mapped cooperation belongs to gets its own rows
    (other_it cooperations only under any_it).
    """
    coop = cooperations.merge(
        kinds[["cooperation_id", "kind", "host_kommunkod", "valid_from_is_start"]], on="cooperation_id", validate="many_to_one"
    )
    coop = coop[coop["kind"] != "excluded"]
    kf = kommunalforbund.assign(
        kind="broad_kommunalforbund", host_kommunkod="", valid_from_is_start="no", confidence=KOLADA_CONFIDENCE,
        valid_from=pd.array([None] * len(kommunalforbund), dtype="Int64"),
        valid_to=pd.array([None] * len(kommunalforbund), dtype="Int64"),
    )
    cols = ["cooperation_id", "kommunkod", "kind", "host_kommunkod", "valid_from_is_start", "confidence", "valid_from", "valid_to"]
    listed = pd.concat([coop[cols], kf[cols]], ignore_index=True)
    listed = listed.merge(pd.DataFrame({"year": pd.array(years, dtype="int64")}), how="cross")
    after_start = listed["valid_from"].isna() | (listed["year"] >= listed["valid_from"])
    before_end = listed["valid_to"].isna() | (listed["year"] <= listed["valid_to"])
    evidence_only = listed["valid_from_is_start"] == "no"
    keep = (before_end & (after_start | evidence_only)).to_numpy(dtype=bool)
    listed = listed[keep].copy()
    after_start = after_start[keep].to_numpy(dtype=bool)
    listed["state"] = ["member" if a else "unknown" for a in after_start]
    listed.loc[~after_start, "confidence"] = "before_first_evidence"
    listed["is_host"] = (listed["state"] == "member") & (listed["host_kommunkod"] == listed["kommunkod"])

    scoped = []
    for row in kinds[kinds["unknown_scope"] != ""].itertuples(index=False):
        if row.unknown_scope == "national":
            pool = municipalities["kommunkod"]
        else:
            pool = municipalities.loc[municipalities["lan_kod"].isin(row.unknown_scope.removeprefix("lan:").split(";")), "kommunkod"]
        scoped.append(
            pd.DataFrame({"cooperation_id": row.cooperation_id, "kommunkod": sorted(pool), "kind": row.kind})
            .merge(pd.DataFrame({"year": pd.array(years, dtype="int64")}), how="cross")
            .assign(state="unknown", confidence="incomplete_list", is_host=False)
        )
    out_cols = ["kommunkod", "year", "kind", "cooperation_id", "state", "confidence", "is_host"]
    ev = pd.concat([listed[out_cols], *[s[out_cols] for s in scoped]], ignore_index=True)
    any_it = ev[ev["kind"].isin(ANY_IT_KINDS)].assign(kind="any_it")
    ev = pd.concat([ev[ev["kind"] != "other_it"], any_it], ignore_index=True)
    return ev.rename(columns={"kind": "cooperation_kind"})


def _confidence(group: pd.DataFrame) -> str:
    if (group["state"] == "member").any():
        conf = group.loc[group["state"] == "member", "confidence"]
        return min(conf, key=CONFIDENCE_RANK.__getitem__)
    return ";".join(sorted(set(group["confidence"])))


def membership(
    evidence_rows: pd.DataFrame, municipalities: pd.DataFrame, years: tuple[int, ...] = YEARS
) -> pd.DataFrame:
    """Collapse evidence to one state per kommunkod × year × kind (member > unknown > no_membership_found)."""
    grid = (
        municipalities[["kommunkod"]]
        .merge(pd.DataFrame({"year": pd.array(years, dtype="int64")}), how="cross")
        .merge(pd.DataFrame({"cooperation_kind": list(KINDS)}), how="cross")
    )
    keys = ["kommunkod", "year", "cooperation_kind"]
    ev = evidence_rows.copy()
    ev["is_member"] = ev["state"] == "member"
    best = ev.groupby(keys, sort=True)["is_member"].transform("any")
    ev = ev[(ev["is_member"] == best).to_numpy(dtype=bool)]
    rows = []
    for key, group in ev.groupby(keys, sort=True):
        rows.append(
            (
                *key,
                "member" if group["is_member"].iloc[0] else "unknown",
                bool(group["is_host"].any()),
                _confidence(group),
                ";".join(sorted(set(group["cooperation_id"]))),
            )
        )
    found = pd.DataFrame(rows, columns=[*keys, "state", "is_host", "confidence", "cooperation_ids"])
    found["year"] = found["year"].astype("int64")
    df = grid.merge(found, on=keys, how="left", validate="one_to_one")
    missing = df["state"].isna()
    df.loc[missing, ["state", "confidence", "cooperation_ids"]] = ["no_membership_found", "not_in_lists", ""]
    df["is_host"] = df["is_host"].fillna(False).astype(bool)
    df["cooperation_kind"] = pd.Categorical(df["cooperation_kind"], categories=KINDS, ordered=True)
    df = df.sort_values(keys, ignore_index=True)
    df["cooperation_kind"] = df["cooperation_kind"].astype(str)
    for col in ("state", "confidence", "cooperation_ids"):
        df[col] = df[col].astype(str)
    return df[[*keys, "state", "is_host", "confidence", "cooperation_ids"]]


def build_membership(
    municipalities: pd.DataFrame,
    raw_dir: Path | None = None,
    mappings_dir: Path | None = None,
    years: tuple[int, ...] = YEARS,
) -> pd.DataFrame:
    """The validated `cooperation_membership` table from the mapping files and the Kolada group list."""
    raw = raw_dir or config.raw_dir()
    mappings = mappings_dir or config.MAPPINGS_DIR
    coop = read_cooperations(municipalities, mappings / "cooperations.csv")
    kinds = read_kinds(coop, municipalities, mappings / "cooperation_kinds.csv")
    kf = read_kommunalforbund_groups(
        municipalities,
        raw / "kolada-catalogue-2026-03" / "municipality_groups.json",
        mappings / "kolada_kommunalforbund_groups.csv",
    )
    table = membership(evidence(coop, kinds, kf, municipalities, years), municipalities, years)
    return validate(table, MEMBERSHIP_SCHEMA, "cooperation_membership")


def load_membership(processed_dir: Path | None = None) -> pd.DataFrame:
    """The processed `cooperation_membership` table (run `kommun-it build` first)."""
    from .io import read_parquet

    return read_parquet((processed_dir or config.processed_dir()) / "cooperation_membership.parquet")
