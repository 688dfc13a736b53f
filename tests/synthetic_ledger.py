"""A synthetic supplier ledger for Norrköping (0581), March 2016, in the national spec v1.1 CSV shape.

Synthetic test data only (named so in every file it is written to): invented invoices to real IT vendors
(orgnr from data/mappings/it_vendors.csv) on Kommun-Bas IT accounts, plus non-IT rows and a credit note.
"""

from __future__ import annotations

from pathlib import Path

HEADER = ("kopare_id;kopare;verifikationsnummer;leverantor;leverantor_id;konto_nr;konto_text;bokforingsdatum;"
          "forvaltning;fakturanummer;belopp;kommun_id")
ROWS = [
    ("556448-0282", "ATEA SVERIGE AB", "6540", "IT-förbrukningsmaterial", "12 500,00"),
    ("556337-2191", "CGI SVERIGE AB", "7432", "IT-tjänster", "245 000,50"),
    ("556052-7466", "TIETO SWEDEN AB", "7433", "IT-program och licensavgifter", "98 765,25"),
    ("556666-1012", "DUSTIN SVERIGE AB", "6540", "IT-förbrukningsmaterial", "-3 200,00"),
    ("556000-0000", "SYNTETISK BYGG AB", "7010", "Entreprenad", "1 250 000,00"),
    ("556000-0001", "SYNTETISK LIVSMEDEL AB", "5460", "Livsmedel", "310 400,75"),
]


def write_synthetic_ledger(path: Path, *, scale: int = 1) -> Path:
    """Write the synthetic Norrköping ledger (amounts multiplied by `scale` give a different file)."""
    lines = [HEADER]
    for i, (orgnr, name, account, text, amount) in enumerate(ROWS, start=1):
        if scale != 1:
            amount = f"{int(amount.replace(' ', '').split(',')[0]) * scale},00"
        lines.append(f"212000-0530;Norrköpings kommun (synthetic);V{i:05d};{name};{orgnr};{account};{text};"
                     f"2016-03-{i + 1:02d};Synthetic förvaltning;F{i:05d};{amount};0581")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
