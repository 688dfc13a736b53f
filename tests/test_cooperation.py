"""Cooperation membership: the rules on hand-made rows, the mapping checks, and the real table."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import config, cooperation, reference
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
    assert {"0360", "2062", "2480", "1496", "2085", "1484", "1473", "1261", "1715", "0586"} <= hosts
    y21 = t[t["year"] == 2021].pivot(index="kommunkod", columns="cooperation_kind", values="state")
    assert ((y21["joint_it_operations"] != "member") | (y21["any_it"] == "member")).all()
    assert (y21["broad_kommunalforbund"] == "member").sum() >= 50  # Sjuhärad, Skaraborg, GR, Fyrbodal, Lappland
    assert y21.loc["1490", "broad_kommunalforbund"] == "member"  # Borås in Sjuhärad
    a, b = write_parquet(t, tmp_path / "a.parquet"), write_parquet(cooperation.build_membership(municipalities, raw_dir), tmp_path / "b.parquet")
    assert a.read_bytes() == b.read_bytes()


# ---------------------------------------------------------------- the curated additions of 2026-12

ADDITIONS = config.MAPPINGS_DIR / "cooperations_additions_2026-12.csv"  # copied from the shared curated folder

# Each cooperation of the additions file → the project id that represents it (new ids C24-C37; refined C02, C10,
# C14, C18, C20). The reasons are in cooperation_kinds.csv and docs/comparison.md §5.
ADDITIONS_IDS = {
    "SML-IT (Sotenäs, Munkedal, Lysekil; värdkommun Lysekil)": "C24",
    "MTG IT-nämnden (Mariestad, Töreboda, Gullspång; administreras av Töreboda)": "C25",
    "Gemensam IT-plattform och driftorganisation Burlöv–Staffanstorp–Kävlinge (drift i Kävlinge)": "C26",
    "Servicenämnd IT/Växel/Telefoni Herrljunga–Vårgårda": "C27",
    "Samverkansnämnden (IT), värdkommun Kil": "C28",
    "Kommunsamverkan Grums, Forshaga, Kil och Munkfors – IT-samverkansgruppen": "C29",
    "IT-samverkan norra Örebro län (gemensamt förvaltningsnät)": "C30",
    "IT-samverkan Köping–Kungsör–Arboga (gemensamt förvaltningsnät; jfr C14 Västra Mälardalens kommunalförbund)": "C14",
    "IT-center Ludvika–Smedjebacken (gemensam servicenämnd, värdkommun Ludvika)": "C18",
    "Samarbetsavtal Haparanda–Övertorneå (digital utveckling)": "C31",
    "Servicenämnd Nyköping–Oxelösund (bl.a. IT-drift)": "C32",
    "Mjölby levererar IT åt Vadstena": "C33",
    "LYSTKOM (kommunalförbund för IT; Lycksele, Storuman, Åsele)": "C34",
    "E-tjänstesamverkan Västernorrland (Open ePlatform, Sundsvall m.fl.)": "C35",
    "E-arkiv Mitt (Säter; drift Borlänge)": "C36",
    "E-arkiv i Sjuhärad (Boråsregionen Sjuhärads kommunalförbund, projekt)": "C37",
    "Kommunalförbundet Sydarkivera": "C20",
    "Göliska IT (kommunalförbund; refines C10 join order)": "C10",
    "Kommunalförbundet ITSAM (status 2025; refines C02)": "C02",
}
# Documented refinements: (cooperation_id, kommunkod) → (valid_from, valid_to) in cooperations.csv where it differs
# from the additions row.
REFINED = {
    # E-arkiv Mitt's Dalarna members are inferred by count from a February 2024 article ("15 dalakommuner" before
    # autumn 2023); the cooperation started in 2018, so an open valid_from would be wrong: first evidence 2023.
    **{("C36", k): ("2023", "") for k in ("2021", "2023", "2026", "2029", "2031", "2034", "2039", "2061", "2062", "2080", "2083", "2084", "2085")},
    # ITSAM (status 2025, undated rows): the project keeps ITSAM's own history — formed 2009, Vimmerby 2012-07-01,
    # Kinda left 2024-04-01.
    **{("C02", k): ("2009", "") for k in ("0560", "0561", "0512", "0509")},
    ("C02", "0884"): ("2012", ""),
    # Köping–Kungsör–Arboga (2006 thesis) is Västra Mälardalens kommunalförbund (C14), whose evidence starts in 2004.
    **{("C14", k): ("2004", "") for k in ("1983", "1960", "1984")},
}
# cooperation_membership, year 2021: municipalities per kind and state after the merge (before it: joint IT
# operations 45 members, e-archive 0, e-services 19, any_it 82).
STATES_2021 = {
    "joint_it_operations": {"member": 69, "unknown": 0, "no_membership_found": 221},
    "e_archive": {"member": 3, "unknown": 105, "no_membership_found": 182},
    "e_services": {"member": 26, "unknown": 264, "no_membership_found": 0},
    "broad_kommunalforbund": {"member": 55, "unknown": 0, "no_membership_found": 235},
    "any_it": {"member": 116, "unknown": 174, "no_membership_found": 0},
}


@pytest.fixture(scope="module")
def project_cooperations(municipalities) -> pd.DataFrame:
    return pd.read_csv(config.MAPPINGS_DIR / "cooperations.csv", dtype=str, keep_default_na=False)


def test_every_row_of_the_curated_additions_is_merged(project_cooperations):
    """Same kommunkod under the mapped cooperation, the additions' years unless a refinement is documented."""
    assert ADDITIONS.exists(), f"{ADDITIONS} is missing"
    additions = pd.read_csv(ADDITIONS, dtype=str, keep_default_na=False)
    assert len(additions) == 77 and set(additions["cooperation_name"]) == set(ADDITIONS_IDS)
    ours = project_cooperations.set_index(["cooperation_id", "kommunkod"])
    assert ours.index.is_unique
    used = set()
    for row in additions.itertuples(index=False):
        key = (ADDITIONS_IDS[row.cooperation_name], row.kommunkod)
        assert key in ours.index, f"{row.cooperation_name} / {row.municipality_name} not in cooperations.csv"
        got = ours.loc[key]
        assert got["municipality_name"] == row.municipality_name
        years = (got["valid_from"], got["valid_to"])
        if key in REFINED:
            used.add(key)
            assert years == REFINED[key] != (row.valid_from, row.valid_to), key
        else:
            assert years == (row.valid_from, row.valid_to), key
            assert got["confidence"] == row.confidence, key
            assert all(url in got["source"] for url in row.source_url.split(" ; ")), key  # C10 keeps a second URL
    assert used == set(REFINED)  # no stale refinement
    # Göliska IT's refinement is the additions' join order itself: founders open, Vara from 2018
    goliska = ours.loc["C10"]
    assert goliska.loc["1470", "valid_from"] == "2018" and (goliska.drop("1470")["valid_from"] == "").all()


def test_no_cooperation_is_listed_under_two_ids(project_cooperations, municipalities):
    coop = project_cooperations
    names = coop.groupby("cooperation_id")["cooperation_name"].nunique()
    assert (names == 1).all(), names[names > 1]
    ids_per_name = coop.groupby("cooperation_name")["cooperation_id"].nunique()
    assert (ids_per_name == 1).all(), ids_per_name[ids_per_name > 1]
    assert len(set(ADDITIONS_IDS.values())) == len(ADDITIONS_IDS)
    kinds = cooperation.read_kinds(cooperation.read_cooperations(municipalities), municipalities).set_index("cooperation_id")["kind"]
    members = coop.groupby("cooperation_id")["kommunkod"].agg(frozenset)
    seen: dict[tuple, str] = {}
    for cid, m in members.items():
        key = (kinds[cid], m)
        assert key not in seen, f"{cid} and {seen[key]} have the same kind and members"
        seen[key] = cid


def test_members_per_kind_in_2021(municipalities, raw_dir):
    t = cooperation.build_membership(municipalities, raw_dir)
    y21 = t[t["year"] == 2021]
    counts = {k: {s: int(((y21["cooperation_kind"] == k) & (y21["state"] == s)).sum()) for s in cooperation.STATES} for k in cooperation.KINDS}
    assert counts == STATES_2021
    joint = y21[y21["cooperation_kind"] == "joint_it_operations"].set_index("kommunkod")
    for k in ("1484", "1473", "1231", "1466", "1715", "1884", "0480", "0584", "2481"):  # one per new joint cooperation
        assert joint.loc[k, "state"] == "member", k
    e_archive = y21[y21["cooperation_kind"] == "e_archive"].set_index("kommunkod")
    assert e_archive.loc["0761", "state"] == "member"  # Lessebo in Sydarkivera since 2015
    assert e_archive.loc[["2082", "2081"], "state"].eq("member").all()  # E-arkiv Mitt started in Säter in 2018
    assert e_archive.loc["2080", "confidence"] == "before_first_evidence"  # Falun: member by 2023, joining unknown
    vaxjo = t[(t["kommunkod"] == "0780") & (t["cooperation_kind"] == "e_archive")].set_index("year")["state"]
    assert list(vaxjo.loc[[2016, 2017]]) == ["member", "member"] and vaxjo.loc[2018] == "unknown"  # left 2018-01-01
