"""Regenerate tests/golden/it_spend_summary.json from a fresh build of the real data.

Run after a reviewed change to a mapping or rule, then review the diff:

    .venv/bin/python tests/golden/update_it_spend_summary.py && git diff tests/golden/
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from analysis import build, it_spend

GOLDEN = Path(__file__).with_name("it_spend_summary.json")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        build.build(["reference", "ledgers", "it_spend"], out_dir=Path(tmp))
        figures = it_spend.summary(Path(tmp))
    GOLDEN.write_text(json.dumps(figures, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
