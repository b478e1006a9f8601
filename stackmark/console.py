"""What the terminal shows: rich consoles (wide when piped, so ids are not cut), problems first, rankings.

The ranking table fits the console it is printed on: columns that say nothing in this run are left out,
flags shrink to their short form (with a legend) when the width is short, and then the least telling
columns go, one at a time, so a stack id is never cut. Every label comes from analysis/labels.py, the
words the report uses too.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from analysis.flags import TIE_FRACTION, missing
from analysis.labels import FLAG_SHORT, LABELS, TIE_LEGEND, TIE_MARK, relative_text
from scenarios.catalog import Scenario, load_scenarios

# emoji=False: rich would turn a finding such as "header:date: expected ..." into a calendar emoji.
out = Console(width=None if sys.stdout.isatty() else 160, emoji=False)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160, emoji=False)

Row = dict[str, Any]  # one ranking row, as DataFrame.to_dict("records") gives it


def _number(fmt: str) -> Callable[[Any], str]:
    return lambda v: "" if missing(v) else format(v, fmt)


def _ms(v: Any) -> str:
    """Milliseconds with the digits that mean something: 4.00, 25.0, 400."""
    if missing(v):
        return ""
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:,.0f}"


def _interval(lo: str, hi: str) -> Callable[[Row], str]:
    def cell(r: Row) -> str:
        if int(r.get("n", 1)) < 2 or missing(r.get(lo)) or missing(r.get(hi)):
            return ""
        return f"{r[lo]:,.0f}-{r[hi]:,.0f}"
    return cell


@dataclass(frozen=True)
class Column:
    """One ranking column: its analysis/labels.py key, how a row prints in it, and where it sits."""

    key: str
    cell: Callable[[Row], str]
    justify: Literal["left", "right"] = "right"


def _value(key: str, fmt: Callable[[Any], str]) -> Callable[[Row], str]:
    return lambda r: fmt(r.get(key))


# The columns, left to right. `stack` and `flags` are built per table (tie mark, short flags).
COLUMNS: tuple[Column, ...] = (
    Column("rank", _value("rank", str)),
    Column("stack", lambda r: str(r["stack"]), justify="left"),
    Column("rps", _value("rps", _number(",.0f"))),
    Column("rps_interval", _interval("rps_lo", "rps_hi")),
    Column("rel_rps", _value("rel_rps", lambda v: "" if missing(v) else relative_text(v))),
    Column("p99_ms", _value("p99_ms", _ms)),
    Column("cpu_us_per_req", _value("cpu_us_per_req", _number(",.0f"))),
    Column("cpu_interval", _interval("cpu_us_per_req_lo", "cpu_us_per_req_hi")),
    Column("server_rss_mb", _value("server_rss_mb", _number(".0f"))),
    Column("generator_cpu_pct", _value("generator_cpu_pct", _number(".0f"))),
    Column("n", _value("n", str)),
    Column("flags", lambda r: str(r.get("flags") or ""), justify="left"),
)

# When the console is too narrow, these go first to last; the rest (#, stack, req/s, flags) always stay.
DROP_ORDER = ("cpu_interval", "server_rss_mb", "generator_cpu_pct", "n", "p99_ms", "rps_interval", "rel_rps",
              "cpu_us_per_req")


def print_problems(failures: Sequence[str]) -> None:
    """Every failed stack or cell with its reason, before any ranking, so nobody reads a ranking first."""
    if not failures:
        return
    err.print(f"[red]{len(failures)} problem(s): stacks or cells not measured, measured nothing usable, "
              "or flagged:[/]")
    for line in failures:
        err.print(f"  {line}", highlight=False, soft_wrap=True, markup=False)


def flag_text(flags: str, short: bool) -> str:
    """A row's flags as the table prints them: whole words, or FLAG_SHORT's forms when the width is short."""
    names = [f for f in flags.split(",") if f]
    return ", ".join(FLAG_SHORT.get(f, f) if short else f for f in names)


def _note(ns: Sequence[int]) -> str:
    """What the numbers of one table are: how many repeats, and what that lets one say."""
    lo, hi = min(ns), max(ns)
    if hi < 2:
        return f"one run: differences under {TIE_FRACTION:.0%} are within this machine's noise"
    if lo == hi:
        return f"median of {hi} repeats, 95% intervals"
    return f"median of {lo}-{hi} repeats (n), 95% intervals where n > 1"


def _cells(rows: Sequence[Row], short_flags: bool) -> dict[str, list[str]]:
    """Every column's cells (plain text) for these rows; a column that says nothing here is left out.

    Nothing to say: every cell empty (no intervals with one repeat, no flags raised), or n the same on
    every row (the title says it).
    """
    cells = {c.key: [c.cell(r) for r in rows] for c in COLUMNS}
    cells["stack"] = [f"{r['stack']} {TIE_MARK}" if _tied(r) else str(r["stack"]) for r in rows]
    cells["flags"] = [flag_text(str(r.get("flags") or ""), short_flags) for r in rows]
    if len(set(cells["n"])) < 2:
        del cells["n"]
    return {k: v for k, v in cells.items() if k in ("rank", "stack", "rps") or any(v)}


def _tied(r: Row) -> bool:
    return bool(r.get("tie_with_next", False))


def table_width(columns: Mapping[str, Sequence[str]], wrap: Collection[str] = ()) -> int:
    """The width of a rich table (default box) of these columns (header -> cells): each column as wide as its
    header or widest cell (a column in `wrap`: its widest word), one space each side, a rule between and
    around columns. Computed, not measured: rich's own minimum ignores no_wrap."""
    def column(header: str) -> int:
        cells = columns[header]
        words = [w for v in cells for w in v.split()] if header in wrap else cells
        return max(cell_len(x) for x in [header, *words])
    return sum(column(h) + 2 for h in columns) + len(columns) + 1


def drop_to_fit(columns: dict[str, list[str]], width: int, drop_order: Sequence[str],
                wrap: Collection[str] = ()) -> list[str]:
    """Remove columns in `drop_order` from `columns` until the table fits `width`; the headers removed."""
    dropped = []
    for header in (h for h in drop_order if h in columns):
        if table_width(columns, wrap) <= width:
            break
        del columns[header]
        dropped.append(header)
    return dropped


def _width(cells: dict[str, list[str]], wrap_flags: bool) -> int:
    return table_width({LABELS[k]: v for k, v in cells.items()}, {LABELS["flags"]} if wrap_flags else ())


def _table(title: str, cells: dict[str, list[str]]) -> Table:
    """The rich table of these cells: only the flags may wrap, at their commas; the tie mark is dimmed."""
    table = Table(title=title, title_justify="left")
    justify = {c.key: c.justify for c in COLUMNS}
    for key in cells:
        table.add_column(LABELS[key], justify=justify[key], no_wrap=key != "flags", overflow="fold")
    for row in zip(*cells.values(), strict=True):
        table.add_row(*(escape(v).replace(TIE_MARK, f"[dim]{TIE_MARK}[/]") for v in row))
    return table


@dataclass(frozen=True)
class Fitted:
    """A ranking table as it fits the console, and what was given up to fit it."""

    table: Table
    short_flags: bool
    dropped: tuple[str, ...]


def fit_table(width: int, title: str, rows: Sequence[Row]) -> Fitted:
    """The most telling form of the table that fits `width`: flags whole on one line; else short flags
    (wrapped at their commas if need be), then fewer columns (DROP_ORDER) until it fits. A stack id is
    never cut: its column does not wrap."""
    cells = _cells(rows, short_flags=False)
    if _width(cells, wrap_flags=False) <= width:
        return Fitted(_table(title, cells), False, ())
    cells = _cells(rows, short_flags=True)
    by_label = {LABELS[k]: k for k in cells}
    columns = {LABELS[k]: v for k, v in cells.items()}
    dropped = drop_to_fit(columns, width, [LABELS[k] for k in DROP_ORDER], wrap={LABELS["flags"]})
    # still too wide with only #, stack, req/s and flags: rich folds the flags, never the stack id
    cells = {by_label[h]: v for h, v in columns.items()}
    return Fitted(_table(title, cells), "flags" in cells, tuple(by_label[h] for h in dropped))


def _title(scenario: str, conc: Any, ns: Sequence[int], open_model: bool) -> str:
    """An open-model scenario's concurrency is a cap on requests in flight, not users."""
    level = f"at most {conc} in flight" if open_model else f"{conc} {LABELS['concurrency']}"
    return f"{scenario}, {level} ({_note(ns)})"


def print_ranking(ranking: pd.DataFrame, console: Console | None = None) -> None:
    """The ranking per scenario and concurrency, fitted to the console's width; neighbours the noise could
    swap are marked, not ranked apart. Legends for what the tables abbreviate follow the last table."""
    console = console or out
    if ranking.empty:
        console.print("no finished cells to rank")
        return
    catalog = load_scenarios()
    short_used: set[str] = set()
    dropped: dict[str, None] = {}
    tied = False
    for (scenario, conc), group in ranking.groupby(["scenario", "concurrency"], sort=False):
        rows: list[Row] = [{str(k): v for k, v in r.items()} for r in group.to_dict("records")]
        ns = [int(r.get("n", 1)) for r in rows]
        fitted = fit_table(console.width, _title(str(scenario), conc, ns, _is_open(catalog, str(scenario))), rows)
        console.print(fitted.table)
        if fitted.short_flags:
            short_used |= {f for r in rows for f in str(r.get("flags") or "").split(",") if f}
        dropped.update(dict.fromkeys(fitted.dropped))
        tied = tied or any(_tied(r) for r in rows)
    for line in legend(short_used, tied, list(dropped)):
        console.print(line, highlight=False, markup=False)


def _is_open(catalog: dict[str, Scenario], name: str) -> bool:
    return name in catalog and catalog[name].is_open


def legend(short_flags: set[str], tied: bool, dropped: Sequence[str]) -> list[str]:
    """The lines under the tables: what a short flag stands for, what the tie mark means, what was left out."""
    lines = []
    if tied:
        lines.append(f"{TIE_MARK}: {TIE_LEGEND} (their 95% intervals overlap, or one run each within "
                     f"{TIE_FRACTION:.0%})")
    if short_flags:
        order = list(FLAG_SHORT)
        names = sorted(short_flags, key=lambda f: order.index(f) if f in order else len(order))
        lines.append("flags: " + ", ".join(f"{FLAG_SHORT.get(f, f)} {f}" for f in names))
    if dropped:
        lines.append("not shown at this width: " + ", ".join(LABELS[k] for k in dropped)
                     + " (widen the terminal, or read summary.csv / the report)")
    return lines


__all__ = ["COLUMNS", "DROP_ORDER", "Fitted", "drop_to_fit", "err", "fit_table", "flag_text", "legend", "out",
           "print_problems", "print_ranking", "table_width"]
