"""summary.csv, aggregate.csv, saturation.csv and the scenarios' tables: an Analysis written into its run folder.

Each file is written atomically (runformat.atomic) with its columns in their
fixed order (analysis.columns), so a reader never sees half a table and an
older reader keeps its column positions.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.analyze import Analysis
from analysis.columns import (
    AGG_COLUMNS,
    ENDPOINT_COLUMNS,
    FIGURE_COLUMNS,
    SATURATION_COLUMNS,
    SCALING_COLUMNS,
    SERIES_COLUMNS,
    STAGE_COLUMNS,
    SUMMARY_COLUMNS,
)
from runformat import atomic, paths

# the scenarios' companion tables (results/README.md), each written beside summary.csv only when not empty
FIGURES_CSV = "figures.csv"
STAGES_CSV = "stages.csv"
ENDPOINTS_CSV = "endpoints.csv"
SERIES_CSV = "series.csv"
SCALING_CSV = "scaling.csv"
SCENARIO_CSVS = {  # file name -> (the Analysis field, its columns)
    FIGURES_CSV: ("figures", FIGURE_COLUMNS),
    STAGES_CSV: ("stages", STAGE_COLUMNS),
    ENDPOINTS_CSV: ("endpoints", ENDPOINT_COLUMNS),
    SERIES_CSV: ("series", SERIES_COLUMNS),
    SCALING_CSV: ("scaling", SCALING_COLUMNS),
}


def write_csv(table: pd.DataFrame, path: Path) -> Path:
    return atomic.write_with(path, lambda f: table.to_csv(f, index=False))


def write_tables(analysis: Analysis) -> Path:
    """summary.csv, aggregate.csv and, after a concurrency sweep, saturation.csv, then each scenario table
    that has rows (SCENARIO_CSVS); returns summary.csv's path."""
    run_dir = analysis.path
    write_csv(analysis.aggregate[AGG_COLUMNS], run_dir / paths.AGGREGATE_CSV)
    if not analysis.saturation.empty:
        write_csv(analysis.saturation[SATURATION_COLUMNS], run_dir / paths.SATURATION_CSV)
    for name, (field, columns) in SCENARIO_CSVS.items():
        table: pd.DataFrame = getattr(analysis, field)
        if not table.empty:
            write_csv(table[columns], run_dir / name)
    return write_csv(analysis.summary[SUMMARY_COLUMNS], run_dir / paths.SUMMARY_CSV)
