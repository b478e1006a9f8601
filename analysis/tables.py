"""summary.csv, aggregate.csv and saturation.csv: an Analysis written into its run folder.

Each file is written atomically (runformat.atomic) with its columns in their
fixed order (analysis.columns), so a reader never sees half a table and an
older reader keeps its column positions.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.analyze import Analysis
from analysis.columns import AGG_COLUMNS, SATURATION_COLUMNS, SUMMARY_COLUMNS
from runformat import atomic, paths


def write_csv(table: pd.DataFrame, path: Path) -> Path:
    return atomic.write_with(path, lambda f: table.to_csv(f, index=False))


def write_tables(analysis: Analysis) -> Path:
    """summary.csv, aggregate.csv and, after a concurrency sweep, saturation.csv; returns summary.csv's path."""
    run_dir = analysis.path
    write_csv(analysis.aggregate[AGG_COLUMNS], run_dir / paths.AGGREGATE_CSV)
    if not analysis.saturation.empty:
        write_csv(analysis.saturation[SATURATION_COLUMNS], run_dir / paths.SATURATION_CSV)
    return write_csv(analysis.summary[SUMMARY_COLUMNS], run_dir / paths.SUMMARY_CSV)
