"""What the terminal shows: rich consoles (wide when piped, so ids are not cut), problems first, rankings."""
from __future__ import annotations

import sys
from collections.abc import Sequence

import pandas as pd
from rich.console import Console
from rich.table import Table

# emoji=False: rich would turn a finding such as "header:date: expected ..." into a calendar emoji.
out = Console(width=None if sys.stdout.isatty() else 160, emoji=False)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160, emoji=False)

RANK_COLUMNS = ("#", "stack", "req/s", "interval", "vs best", "p99 ms", "CPU us/req", "RSS MB", "Locust CPU %",
                "flags")


def print_problems(failures: Sequence[str]) -> None:
    """Every failed stack or cell with its reason, before any ranking, so nobody reads a ranking first."""
    if not failures:
        return
    err.print(f"[red]{len(failures)} problem(s): stacks or cells not measured, measured nothing usable, "
              "or flagged:[/]")
    for line in failures:
        err.print(f"  {line}", highlight=False, soft_wrap=True, markup=False)


def print_ranking(ranking: pd.DataFrame) -> None:
    """The ranking per scenario; neighbours the noise could swap are marked, not ranked apart."""
    if ranking.empty:
        out.print("no finished cells to rank")
        return
    for (scenario, conc), group in ranking.groupby(["scenario", "concurrency"], sort=False):
        n = int(group["n"].max()) if "n" in group else 1
        note = (f"median of {n} repeats, 95% intervals" if n > 1
                else "one run: differences under 20% are within this machine's noise")
        table = Table(title=f"{scenario}, concurrency {conc} ({note})")
        for col in RANK_COLUMNS:
            table.add_column(col, justify="left" if col in ("stack", "flags", "interval") else "right")
        for _, r in group.iterrows():
            interval = (f"{r['rps_lo']:,.0f}-{r['rps_hi']:,.0f}" if n > 1 and r.get("rps_lo") == r.get("rps_lo")
                        else "")
            tie = " [dim](~ next)[/]" if bool(r.get("tie_with_next", False)) else ""
            table.add_row(str(r["rank"]), f"{r['stack']}{tie}", f"{r['rps']:,.0f}", interval, f"{r['rel_rps']:.2f}",
                          f"{r['p99_ms']:.2f}", f"{r['cpu_us_per_req']:.0f}", f"{r['server_rss_mb']:.0f}",
                          f"{r['generator_cpu_pct']:.0f}", str(r["flags"] or ""))
        out.print(table)
    out.print("(~ next): not separable from the next stack: their intervals overlap, or one run each and "
              "within 20%. Flags: see the report's legend.")
