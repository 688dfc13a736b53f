"""Cooperation membership: the rules on hand-made rows, the mapping checks, and the real table."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import cooperation, reference
from analysis.errors import UserError
from analysis.io import write_parquet

YEARS = (2016, 2017, 2018, 2019, 2020, 2021)


def synthetic_municipalities() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kommunkod": ["0101", "0102", "0103", "0201", "0202", "0301"],
            "name": ["Aby", "Bby", "Cby", "Dby", "Eby", "Fby"],
            "lan_kod": ["01", "01", "01", "02", "02", "03"],
        }
    )


def synthetic_cooperations(rows: list[tuple]) -> pd.DataFrame:
    """rows: (cooperation_id, kommunkod, valid_from, valid_to, confidence)."""
    df = pd.DataFrame(rows, columns=["cooperation_id", "kommunkod", "valid_from", "valid_to", "confidence"])
    df["valid_from"] = pd.array(df["valid_from"], dtype="Int64")
    df["valid_to"] = pd.array(df["valid_to"], dtype="Int64")
    return df


def synthetic_kinds(rows: list[tuple]) -> pd.DataFrame:
    """rows: (cooperation_id, kind, host_kommunkod, unknown_scope, valid_from_is_start)."""
    df = pd.DataFrame(rows, columns=["cooperation_id", "kind", "host_kommunkod", "unknown_scope", "valid_from_is_start"])
    return df.assign(reason="synthetic")


def run(coops, kinds, kf=None) -> pd.DataFrame:
    muni = synthetic_municipalities()
    kf = kf if kf is not None else pd.DataFrame({"cooperation_id": [], "kommunkod": []}, dtype=str)
    ev = cooperation.evidence(synthetic_cooperations(coops), synthetic_kinds(kinds), kf, muni, YEARS)
    return cooperation.membership(ev, muni, YEARS).set_index(["kommunkod", "year", "cooperation_kind"])


def test_valid_from_and_valid_to_bound_membership_and_host_flag():
    t = run(
        [("C1", "0101", 2018, 2020, "confirmed"), ("C1", "0102", 2018, 2020, "inferred")],
        [("C1", "joint_it_operations", "0101", "", "yes")],
    )
    assert t.loc[("0101", 2017, "joint_it_operations"), "state"] == "no_membership_found"
    for year in (2018, 2019, 2020):
        row = t.loc[("0101", year, "joint_it_operations")]
        assert (row["state"], row["is_host"], row["cooperation_ids"]) == ("member", True, "C1")
        assert not t.loc[("0102", year, "joint_it_operations"), "is_host"]
        assert t.loc[("0102", year, "joint_it_operations"), "confidence"] == "inferred"
    assert t.loc[("0101", 2021, "joint_it_operations"), "state"] == "no_membership_found"
    assert not t.loc[("0101", 2021, "joint_it_operations"), "is_host"]
    assert t.loc[("0103", 2019, "joint_it_operations"), "state"] == "no_membership_found"


def test_years_before_first_evidence_are_unknown_unless_valid_from_is_the_start():
    t = run(
        [("C1", "0101", 2019, None, "confirmed"), ("C2", "0201", 2019, None, "confirmed")],
        [("C1", "joint_it_operations", "", "", "no"), ("C2", "e_archive", "", "", "yes")],
    )
    before = t.loc[("0101", 2018, "joint_it_operations")]
    assert (before["state"], before["confidence"], before["cooperation_ids"]) == ("unknown", "before_first_evidence", "C1")
    assert t.loc[("0101", 2019, "joint_it_operations"), "state"] == "member"
    assert t.loc[("0101", 2021, "joint_it_operations"), "state"] == "member"  # empty valid_to is open
    assert t.loc[("0201", 2018, "e_archive"), "state"] == "no_membership_found"
    assert t.loc[("0201", 2019, "e_archive"), "state"] == "member"


def test_incomplete_lists_make_their_scope_unknown_and_member_beats_unknown():
    t = run(
        [("C1", "0101", None, None, "confirmed"), ("C2", "0201", 2011, 2011, "inferred"), ("C3", "0202", None, None, "confirmed")],
        [
            ("C1", "e_archive", "", "lan:01", "no"),
            ("C2", "e_services", "", "national", "no"),
            ("C3", "e_services", "", "", "no"),
        ],
    )
    assert t.loc[("0101", 2020, "e_archive"), "state"] == "member"
    for k in ("0102", "0103"):
        row = t.loc[(k, 2020, "e_archive")]
        assert (row["state"], row["confidence"], row["cooperation_ids"]) == ("unknown", "incomplete_list", "C1")
    assert t.loc[("0201", 2020, "e_archive"), "state"] == "no_membership_found"
    # national scope: everyone unknown, also the listed member whose evidence ended in 2011
    assert t.loc[("0201", 2020, "e_services"), "state"] == "unknown"
    assert t.loc[("0301", 2020, "e_services"), "state"] == "unknown"
    assert t.loc[("0202", 2020, "e_services"), "state"] == "member"
    assert t.loc[("0202", 2020, "e_services"), "cooperation_ids"] == "C3"


def test_any_it_pools_it_kinds_other_it_counts_only_there_and_excluded_nowhere():
    t = run(
        [("C1", "0101", None, None, "confirmed"), ("C2", "0102", None, None, "confirmed"), ("C3", "0103", None, None, "confirmed")],
        [("C1", "joint_it_operations", "", "", "no"), ("C2", "other_it", "", "", "no"), ("C3", "excluded", "", "", "no")],
    )
    assert t.loc[("0101", 2021, "any_it"), "state"] == "member"
    assert t.loc[("0102", 2021, "any_it"), "state"] == "member"
    assert t.loc[("0102", 2021, "joint_it_operations"), "state"] == "no_membership_found"
    assert all(t.loc[("0103", 2021, k), "state"] == "no_membership_found" for k in cooperation.KINDS)
    assert len(t) == 6 * len(YEARS) * len(cooperation.KINDS)


def test_kommunalforbund_groups_give_broad_kind_only():
    kf = pd.DataFrame({"cooperation_id": ["G1", "G1"], "kommunkod": ["0201", "0202"]})
    t = run([("C1", "0101", None, None, "confirmed")], [("C1", "joint_it_operations", "", "", "no")], kf)
    row = t.loc[("0201", 2016, "broad_kommunalforbund")]
    assert (row["state"], row["confidence"], row["cooperation_ids"]) == ("member", cooperation.KOLADA_CONFIDENCE, "G1")
    assert t.loc[("0201", 2016, "any_it"), "state"] == "no_membership_found"


@pytest.fixture(scope="module")
def municipalities(raw_dir) -> pd.DataFrame:
    return reference.build_municipalities(raw_dir)


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


HEADER = "cooperation_id,cooperation_name,type,scope,municipality_name,kommunkod,valid_from,valid_to,source,confidence\n"


@pytest.mark.parametrize(
    "row, message",
    [
        ("C1,X,kommunalförbund,IT,Stockholm,9999,2016,,u,confirmed", "row 2: unknown kommunkod '9999'"),
        ("C1,X,kommunalförbund,IT,Solna,0180,2016,,u,confirmed", "does not match kommunkod 0180"),
        ("C1,X,kommunalförbund,IT,Stockholm,0180,20x6,,u,confirmed", "not a four-digit year"),
        ("C1,X,kommunalförbund,IT,Stockholm,0180,2019,2016,u,confirmed", "after valid_to"),
        ("C1,X,kommunalförbund,IT,Stockholm,0180,2016,,u,maybe", "confidence 'maybe'"),
    ],
)
def test_bad_cooperation_rows_are_one_line_user_errors(tmp_path, municipalities, row, message):
    path = _write(tmp_path / "cooperations.csv", HEADER + row + "\n")
    with pytest.raises(UserError, match=message):
        cooperation.read_cooperations(municipalities, path)


def test_bad_kind_mappings_are_user_errors(tmp_path, municipalities):
    coop = cooperation.read_cooperations(
        municipalities, _write(tmp_path / "cooperations.csv", HEADER + "C1,X,kf,IT,Stockholm,0180,2016,,u,confirmed\n")
    )
    head = "cooperation_id,kind,host_kommunkod,unknown_scope,valid_from_is_start,reason\n"
    cases = {
        "C1,joint_it,,,no,r": "kind 'joint_it'",
        "C1,e_archive,0114,,no,r": "not a listed member",
        "C1,e_archive,,lan:99,no,r": "unknown_scope",
        "C2,e_archive,,,no,r": "no rows in cooperations.csv",
        "C1,e_archive,,,maybe,r": "valid_from_is_start",
    }
    for row, message in cases.items():
        with pytest.raises(UserError, match=message):
            cooperation.read_kinds(coop, municipalities, _write(tmp_path / "kinds.csv", head + row + "\n"))
    with pytest.raises(UserError, match="has no kind"):
        cooperation.read_kinds(coop, municipalities, _write(tmp_path / "kinds.csv", head))


def test_kolada_group_selection_is_checked(tmp_path, municipalities, raw_dir):
    groups = raw_dir / "kolada-catalogue-2026-03" / "municipality_groups.json"
    head = "group_id,group_title,include,reason\n"
    with pytest.raises(UserError, match="not in municipality_groups.json"):
        cooperation.read_kommunalforbund_groups(municipalities, groups, _write(tmp_path / "g.csv", head + "G0,x,yes,r\n"))
    with pytest.raises(UserError, match="differs from Kolada"):
        cooperation.read_kommunalforbund_groups(municipalities, groups, _write(tmp_path / "g.csv", head + "G116237,Sjuhärad,yes,r\n"))


def test_real_membership_table(municipalities, raw_dir, tmp_path):
    t = cooperation.build_membership(municipalities, raw_dir)
    assert len(t) == 290 * len(cooperation.YEARS) * len(cooperation.KINDS)
    assert set(t["year"]) >= set(range(2016, 2022))
    assert not t["cooperation_ids"].str.contains("C21").any()  # Inera is no contrast
    hosts = set(t.loc[t["is_host"] & (t["cooperation_kind"] == "joint_it_operations"), "kommunkod"])
    assert {"0360", "2062", "2480", "1496", "2085"} <= hosts
    y21 = t[t["year"] == 2021].pivot(index="kommunkod", columns="cooperation_kind", values="state")
    assert ((y21["joint_it_operations"] != "member") | (y21["any_it"] == "member")).all()
    assert (y21["broad_kommunalforbund"] == "member").sum() >= 50  # Sjuhärad, Skaraborg, GR, Fyrbodal, Lappland
    assert y21.loc["1490", "broad_kommunalforbund"] == "member"  # Borås in Sjuhärad
    a, b = write_parquet(t, tmp_path / "a.parquet"), write_parquet(cooperation.build_membership(municipalities, raw_dir), tmp_path / "b.parquet")
    assert a.read_bytes() == b.read_bytes()
