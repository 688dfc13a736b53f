"""Published lens: the maintained table is read, harmonised and checked."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import published
from analysis.errors import UserError


def test_published_table_harmonised():
    df = published.read_published()
    joint = df[df["kommunkoder"].str.contains(";")]
    assert joint["kommunkod"].isna().all() and not joint["in_it_spend"].any()
    assert (joint["exclusion_reason"] == "figure covers several municipalities jointly").all()
    undated = df[df["year_as_published"].isin(["n.d.", "2004-2007"])]
    assert not undated["in_it_spend"].any()
    salem = df[(df["kommunkod"] == "0128") & (df["measure"] == "sek_per_inhabitant")]
    assert salem["value"].tolist() == [602.0] and salem["year"].tolist() == [2007]
    rows = published.it_spend_rows(df)
    assert len(rows) == df["in_it_spend"].sum()
    assert rows.loc[rows["measure"] == "sek_per_inhabitant", "per_inhabitant"].notna().all()
    assert rows.loc[rows["measure"] != "sek_per_inhabitant", "per_inhabitant"].isna().all()


def test_bad_published_rows_are_user_errors(tmp_path):
    src = pd.read_csv(published.config.MAPPINGS_DIR / "published_it_costs.csv", dtype=str, keep_default_na=False)
    bad = src.copy()
    bad.loc[3, "value"] = "2,26"
    path = tmp_path / "published_it_costs.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(UserError, match="row 5: value '2,26'"):
        published.read_published(path)
    unknown = src.copy()
    unknown.loc[0, "kommunkod"] = "9999"
    unknown.to_csv(path, index=False)
    municipalities = pd.DataFrame({"kommunkod": sorted(set(";".join(src["kommunkod"]).split(";")))})
    with pytest.raises(UserError, match="unknown kommunkod '9999'"):
        published.read_published(path, municipalities=municipalities)
