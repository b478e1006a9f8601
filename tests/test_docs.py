"""What the README promises about summary.csv holds: its column list and docs/summary-example.csv are the
columns analysis writes, in order (a reader scripts against that list)."""
from __future__ import annotations

import csv
import re
from pathlib import Path

from analysis.columns import SUMMARY_COLUMNS

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_lists_summary_csv_columns_in_order() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"`summary\.csv`\s*\(one row per cell: `([^`]*)`", readme)
    assert match, "the README's summary.csv column list is missing"
    listed = [c.strip() for c in match.group(1).replace("\n", " ").split(",")]
    assert listed == SUMMARY_COLUMNS


def test_the_example_summary_has_the_columns_analysis_writes() -> None:
    with (ROOT / "docs" / "summary-example.csv").open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header == SUMMARY_COLUMNS
