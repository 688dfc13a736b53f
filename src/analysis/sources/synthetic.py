"""SYNTHETIC TED-shaped award-notice files, for tests and benchmarks only (never real data).

Every row is made up: the 75 columns of the 2015–2017 award-notice CSV (names and order from
docs/online-sources.md), one row per award × lot, Swedish and other EU buyers, IT and non-IT CPV codes,
frameworks, cancellations and "award equals estimate" rows. Titles say "SYNTHETIC" so a synthetic file
can never be mistaken for TED's. Deterministic for a given seed.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

TED_COLUMNS = (
    "ID_NOTICE_CAN, TED_NOTICE_URL, YEAR, ID_TYPE, DT_DISPATCH, XSD_VERSION, CANCELLED, CORRECTIONS, B_MULTIPLE_CAE,"
    " CAE_NAME, CAE_NATIONALID, CAE_ADDRESS, CAE_TOWN, CAE_POSTAL_CODE, CAE_GPA_ANNEX, ISO_COUNTRY_CODE,"
    " ISO_COUNTRY_CODE_GPA, B_MULTIPLE_COUNTRY, ISO_COUNTRY_CODE_ALL, CAE_TYPE, EU_INST_CODE, MAIN_ACTIVITY,"
    " B_ON_BEHALF, B_INVOLVES_JOINT_PROCUREMENT, B_AWARDED_BY_CENTRAL_BODY, TYPE_OF_CONTRACT,"
    " TAL_LOCATION_NUTS, B_FRA_AGREEMENT, FRA_ESTIMATED, B_FRA_CONTRACT, B_DYN_PURCH_SYST, CPV,"
    " MAIN_CPV_CODE_GPA, ID_LOT, ADDITIONAL_CPVS, B_GPA, GPA_COVERAGE, LOTS_NUMBER, VALUE_EURO,"
    " VALUE_EURO_FIN_1, VALUE_EURO_FIN_2, B_EU_FUNDS, TOP_TYPE, B_ACCELERATED, OUT_OF_DIRECTIVES, CRIT_CODE,"
    " CRIT_PRICE_WEIGHT, CRIT_CRITERIA, CRIT_WEIGHTS, B_ELECTRONIC_AUCTION, NUMBER_AWARDS, ID_AWARD,"
    " ID_LOT_AWARDED, INFO_ON_NON_AWARD, INFO_UNPUBLISHED, B_AWARDED_TO_A_GROUP, WIN_NAME, WIN_NATIONALID,"
    " WIN_ADDRESS, WIN_TOWN, WIN_POSTAL_CODE, WIN_COUNTRY_CODE, B_CONTRACTOR_SME, CONTRACT_NUMBER, TITLE,"
    " NUMBER_OFFERS, NUMBER_TENDERS_SME, NUMBER_TENDERS_OTHER_EU, NUMBER_TENDERS_NON_EU, NUMBER_OFFERS_ELECTR,"
    " AWARD_EST_VALUE_EURO, AWARD_VALUE_EURO, AWARD_VALUE_EURO_FIN_1, B_SUBCONTRACTED, DT_AWARD"
).split(", ")
assert len(TED_COLUMNS) == 75

IT_CPVS = ("30213000", "48000000", "72000000", "72267000", "64210000", "32420000")
OTHER_CPVS = ("45000000", "90910000", "15000000", "30192000", "33600000", "79000000")
COUNTRIES = ("DE", "FR", "PL", "IT", "ES", "SE", "DK", "FI")


def synthetic_ted_table(
    n_rows: int, year: int, *, seed: int = 0, se_buyers: list[tuple[str, str]] | None = None, se_share: float = 0.06
) -> pa.Table:
    """n_rows SYNTHETIC award × lot rows for one publication year, all columns text.

    se_buyers: (name, national id) pairs used for Swedish rows (default: made-up buyers).
    """
    rng = np.random.default_rng(seed)
    se_buyers = se_buyers or [(f"SYNTHETIC KOMMUN {i}", f"212000{i:04d}") for i in range(50)]
    n_notices = max(1, n_rows // 2)
    notice = rng.integers(0, n_notices, n_rows)
    notice.sort()
    same = np.r_[False, notice[1:] == notice[:-1]]
    index = np.arange(n_rows)
    lot_no = index - np.maximum.accumulate(np.where(same, 0, index))  # 0, 1, … within a notice
    notice_rng = np.random.default_rng(seed + 1)
    is_se = notice_rng.random(n_notices) < se_share
    country = np.where(is_se, "SE", notice_rng.choice([c for c in COUNTRIES if c != "SE"], n_notices))
    buyer = notice_rng.integers(0, len(se_buyers), n_notices)
    cpv_it = notice_rng.random(n_notices) < 0.3
    cpv = np.where(cpv_it, notice_rng.choice(IT_CPVS, n_notices), notice_rng.choice(OTHER_CPVS, n_notices))
    fra = notice_rng.random(n_notices) < 0.25
    cancelled = notice_rng.random(n_notices) < 0.02
    est = np.round(notice_rng.lognormal(12, 1.2, n_rows), 2)
    same_as_est = rng.random(n_rows) < 0.4
    award = np.where(same_as_est, est, np.round(est * rng.uniform(0.6, 1.2, n_rows), 2))
    ids = np.char.add(f"{year}", np.char.zfill(notice.astype(str), 7))
    c = {name: np.full(n_rows, "", dtype=object) for name in TED_COLUMNS}
    c["ID_NOTICE_CAN"] = ids
    c["TED_NOTICE_URL"] = np.char.add("http://ted.europa.eu/SYNTHETIC/", ids)
    c["YEAR"] = np.full(n_rows, str(year))
    c["ID_TYPE"] = np.full(n_rows, "3")
    c["DT_DISPATCH"] = np.full(n_rows, f"15/06/{year % 100:02d}")
    c["CANCELLED"] = np.where(cancelled[notice], "1", "0")
    se_row = is_se[notice]
    names = np.array([b[0] for b in se_buyers], dtype=object)
    nids = np.array([b[1] for b in se_buyers], dtype=object)
    c["CAE_NAME"] = np.where(se_row, names[buyer[notice]], np.char.add("SYNTHETIC BUYER ", notice.astype(str)))
    c["CAE_NATIONALID"] = np.where(se_row, nids[buyer[notice]], "")
    c["CAE_TOWN"] = np.full(n_rows, "Synthetic town")
    c["ISO_COUNTRY_CODE"] = country[notice]
    c["ISO_COUNTRY_CODE_ALL"] = country[notice]
    c["CAE_TYPE"] = np.full(n_rows, "R")
    c["TYPE_OF_CONTRACT"] = np.where(cpv_it[notice], "S", "W")
    c["B_FRA_AGREEMENT"] = np.where(fra[notice], "Y", "N")
    c["CPV"] = cpv[notice]
    c["ID_LOT"] = lot_no.astype(str)
    c["LOTS_NUMBER"] = np.full(n_rows, "1")
    c["VALUE_EURO"] = est.astype(str)
    c["VALUE_EURO_FIN_1"] = est.astype(str)
    c["ID_AWARD"] = np.char.add(ids, np.char.add("-", lot_no.astype(str)))
    c["ID_LOT_AWARDED"] = lot_no.astype(str)
    c["WIN_NAME"] = np.char.add("SYNTHETIC SUPPLIER ", rng.integers(0, 400, n_rows).astype(str))
    c["WIN_NATIONALID"] = np.char.add("556", np.char.zfill(rng.integers(0, 10**7, n_rows).astype(str), 7))
    c["WIN_COUNTRY_CODE"] = country[notice]
    c["TITLE"] = np.char.add("SYNTHETIC notice, \"lot\" ", lot_no.astype(str))
    c["NUMBER_OFFERS"] = rng.integers(1, 9, n_rows).astype(str)
    c["AWARD_EST_VALUE_EURO"] = est.astype(str)
    c["AWARD_VALUE_EURO"] = award.astype(str)
    c["AWARD_VALUE_EURO_FIN_1"] = award.astype(str)
    c["DT_AWARD"] = np.full(n_rows, f"01/05/{year % 100:02d}")
    return pa.table({k: pa.array(np.asarray(v).astype(str), type=pa.string()) for k, v in c.items()})


def write_synthetic_zip(path: Path, table: pa.Table, *, year: int) -> Path:
    """Write the table as the one CSV inside a zip named like TED's yearly file."""
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(quoting_style="needed"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr(f"TED_AWARD_SYNTHETIC_{year}.csv", buf.getvalue())
    return path
