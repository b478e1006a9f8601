"""`stackmark history`: each metric across the runs of a history file, charted, with the step changes found.

Reads results/history.jsonl (every `stackmark bench` appends to it), writes a
PNG per metric and one self-contained HTML page, and prints the steps: the
first thing to look at when a number moved and nobody knows since when.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from runformat.history import METRICS, read_history
from stackmark.console import err, out
from stackmark.errors import UserError, unknown
from stackmark.select import split

if TYPE_CHECKING:  # pandas loads only when the command runs, not with every `stackmark` parser
    import pandas as pd

DEFAULT_FILE = "results/history.jsonl"
OUT_FOLDER = "history"  # default --out: this folder beside the history file


def chosen_metrics(names: Sequence[str] | None) -> list[str]:
    """The metrics asked for (all four by default), each checked, in the order given."""
    picked = split(names) or list(METRICS)
    for name in picked:
        if name not in METRICS:
            raise unknown("metric", name, METRICS)
    return list(dict.fromkeys(picked))


def print_steps(steps: pd.DataFrame, runs: int, series: int) -> None:
    """The steps found, oldest first: which stack and metric, at which commit, the medians either side."""
    from analysis.history import METRIC_INFO, describe_step, format_value

    if steps.empty:
        out.print(f"no step changes in {series} series over {runs} runs")
        return
    table = Table(title=f"{len(steps)} step change(s) in {series} series over {runs} runs")
    for col in ("stack", "scenario", "c", "metric", "from commit", "run", "before", "after", "change"):
        table.add_column(col, justify="right" if col in ("c", "before", "after") else "left")
    for r in steps.sort_values(["run", "stack", "metric"], kind="stable").to_dict("records"):
        metric = str(r["metric"])
        table.add_row(str(r["stack"]), str(r["scenario"]), str(r["concurrency"]), METRIC_INFO[metric][0],
                      str(r["commit"]), str(r["run_id"]), format_value(metric, r["before"]),
                      format_value(metric, r["after"]), describe_step(r))
    out.print(table)


def cmd_history(args: argparse.Namespace) -> int:
    from analysis.history import SERIES_KEYS, filter_stacks, history_frame, step_changes
    from analysis.history_charts import write_history_page

    source = Path(args.file)
    history = read_history(source)
    for warning in history.skipped:
        err.print(f"warning: {warning}", highlight=False, soft_wrap=True)
    metrics = chosen_metrics(args.metric)
    everything = history_frame(history.entries)
    frame, unmatched = filter_stacks(everything, split(args.stacks))
    if unmatched:
        raise unknown("stack", unmatched[0], set(everything["stack"]), f"stackmark history --file {source}")
    if frame.empty:
        raise UserError(f"{source}: no run with a finished cell yet; `stackmark bench` appends one per run")
    steps = step_changes(frame, metrics)
    out_dir = Path(args.out) if args.out else source.parent / OUT_FOLDER
    page = write_history_page(frame, steps, metrics, out_dir, source)
    print_steps(steps, runs=frame["run"].nunique(), series=len(frame.drop_duplicates(SERIES_KEYS)))
    out.print(f"charts: {', '.join(str(out_dir / f'history-{m}.png') for m in metrics)}", soft_wrap=True)
    out.print(f"page:   {page}")
    return 0
