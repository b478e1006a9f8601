"""Pure checks of database rows: one world row, a list of them, what /updates wrote.

The expected values, when known, are the world table as read by the prober;
without them a row is checked for shape and ranges only.
"""

from __future__ import annotations

from collections.abc import Mapping

from apps.contract import WORLD_ROWS

from .findings import Finding, problem, short
from .values import dumps, is_int


def check_world(obj: object, world: Mapping[int, int] | None = None) -> str | None:
    """What is wrong with one ``{"id": .., "randomNumber": ..}`` row, or None."""
    if not isinstance(obj, dict) or obj.keys() != {"id", "randomNumber"}:
        return f"row {dumps(obj)} is not {{id, randomNumber}}"
    wid, number = obj["id"], obj["randomNumber"]
    if not (is_int(wid) and is_int(number)):
        return f"row {dumps(obj)}: id and randomNumber must be integers"
    if not (1 <= wid <= WORLD_ROWS and 1 <= number <= WORLD_ROWS):
        return f"row {dumps(obj)}: out of 1..{WORLD_ROWS}"
    if world is not None and world.get(wid) != number:
        return f"row {dumps(obj)}: database has randomNumber {world.get(wid)}"
    return None


def check_rows(value: object, count: int, world: Mapping[int, int] | None = None) -> list[Finding]:
    """A JSON list of exactly ``count`` valid world rows (values as in ``world`` when given)."""
    if not isinstance(value, list):
        return [problem("body", f"a JSON list of {count} rows", short(dumps(value)))]
    found: list[Finding] = []
    if len(value) != count:
        found.append(problem("rows", f"{count} rows", f"{len(value)} rows"))
    bad = [msg for msg in (check_world(row, world) for row in value) if msg]
    if bad:
        found.append(problem("body", "valid world rows", f"{len(bad)} bad, first: {bad[0]}"))
    return found


def check_updates_written(rows: object, before: Mapping[int, int], after: Mapping[int, int]) -> list[Finding]:
    """The rows /updates returned are what the database now holds, and it changed.

    ``before``/``after``: the world table read just before and after the request.
    The same id may come back twice (random picks): the database must hold one
    of the values returned for it.  With two or more distinct ids, at least one
    must have changed (a legitimate no-change is a 1-in-10^8 event).
    """
    if not isinstance(rows, list):
        return []  # the row checks report the shape
    returned: dict[int, set[int]] = {}
    for row in rows:
        if isinstance(row, dict) and is_int(row.get("id")) and is_int(row.get("randomNumber")):
            returned.setdefault(row["id"], set()).add(row["randomNumber"])
    found: list[Finding] = []
    stale = [(wid, values, after.get(wid)) for wid, values in returned.items() if after.get(wid) not in values]
    if stale:
        wid, values, held = stale[0]
        found.append(problem("database", f"world {wid} written as {sorted(values)[0]}",
                             f"database holds {held} ({len(stale)} of {len(returned)} rows not written)"))
    changed = {wid for wid in after if after[wid] != before.get(wid)}
    if not stale and len(returned) >= 2 and not changed & returned.keys():
        found.append(problem("database", "the rows' randomnumber changed", "no row changed in the database"))
    others = sorted(changed - returned.keys())
    if others:
        found.append(problem("database", "only the returned rows changed",
                             f"{len(others)} other rows changed, e.g. world {others[0]}"))
    return found
