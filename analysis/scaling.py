"""Worker scaling: a stack measured at several worker counts in one run (`stackmark bench --workers 1,2,...`)
against its own fewest-worker self.

    efficiency = rps / (workers * rps_one)

where rps_one is the base's req/s per worker (the base is the family's lowest count measured; with 1 among
the counts, the 1-worker stack, and rps_one its req/s). 1.0 is perfect scaling: N workers, N times the
throughput. Why per worker of the same stack: only that ratio says what adding a worker buys, and the CPUs
the workers share (`server_cpus`) bound it, so every row carries them.

A family is one (app, variant, configuration) of stack.json, never a parse of the ids: the ids' -w<N>
suffix is a naming convenience of the bench, stack.json is the record. Pure: frames and records in,
a frame (analysis.columns.SCALING_COLUMNS) out.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from analysis.columns import SCALING_COLUMNS

FAMILY = ("app", "variant", "configuration")  # stack.json fields that make two stacks one stack at two counts
Family = tuple[str, str, str]
DTYPES: dict[str, Any] = {
    "scenario": object, "concurrency": "Int64", "base": object, "stack": object, "workers": "Int64",
    "rps": float, "rps_one": float, "efficiency": float, "cpu_us_per_req": float, "server_cpus": "Int64"}


def families(stacks: Mapping[str, Mapping[str, Any] | None]) -> dict[str, tuple[Family, int]]:
    """stack id -> (its family, its worker count), for every stack.json that says both."""
    found: dict[str, tuple[Family, int]] = {}
    for stack_id, record in stacks.items():
        if record is None or not all(record.get(k) for k in FAMILY[:2]):
            continue
        workers = record.get("workers")
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            continue
        family = (str(record["app"]), str(record["variant"]), str(record.get("configuration") or "default"))
        found[str(stack_id)] = (family, workers)
    return found


def _number(value: Any) -> float:
    """A float, NaN for anything that is not a number (a missing CPU figure)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def empty() -> pd.DataFrame:
    """No stack ran at several worker counts: the frame with its columns and nothing in it."""
    return pd.DataFrame({c: pd.Series(dtype=DTYPES[c]) for c in SCALING_COLUMNS})


def scaling(aggregate: pd.DataFrame, stacks: Mapping[str, Mapping[str, Any] | None], server_cpus: int) -> pd.DataFrame:
    """One row per stack of a family measured at 2+ worker counts in the same (scenario, concurrency), the
    base row included (efficiency 1.0); sorted by scenario, concurrency, base and workers."""
    known = families(stacks)
    if aggregate.empty or not known:
        return empty()
    rps = pd.to_numeric(aggregate["rps"], errors="coerce")
    rows = aggregate[aggregate["stack"].astype(str).isin(known) & (rps > 0)].copy()
    rows["family"] = [known[str(s)][0] for s in rows["stack"]]
    rows["workers"] = [known[str(s)][1] for s in rows["stack"]]
    out: list[dict[str, Any]] = []
    for (scenario, concurrency, _), group in rows.groupby(["scenario", "concurrency", "family"], sort=True):
        group = group.sort_values(["workers", "stack"], kind="stable").drop_duplicates("workers")
        if len(group) < 2:
            continue
        base = group.iloc[0]
        rps_one = float(base["rps"]) / int(base["workers"])
        out += [{"scenario": scenario, "concurrency": concurrency, "base": base["stack"], "stack": r["stack"],
                 "workers": r["workers"], "rps": float(r["rps"]), "rps_one": rps_one,
                 "efficiency": float(r["rps"]) / (int(r["workers"]) * rps_one),
                 "cpu_us_per_req": _number(r.get("cpu_us_per_req")),
                 "server_cpus": server_cpus} for r in group.to_dict("records")]
    if not out:
        return empty()
    frame = pd.DataFrame(out, columns=SCALING_COLUMNS).astype(DTYPES)
    return frame.sort_values(["scenario", "concurrency", "base", "workers"], kind="stable").reset_index(drop=True)
