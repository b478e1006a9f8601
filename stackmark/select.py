"""Turn what the user named (stacks, scenarios, numbers) into validated values, or one-line errors."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scenarios.catalog import Scenario, groups, load_scenarios
from servers.matrix import Matrix, Stack
from stackmark.errors import UserError, unknown


def split(values: Sequence[str] | None) -> list[str]:
    """Accept both `--stacks a b` and `--stacks a,b`."""
    return [v for item in (values or []) for v in item.split(",") if v]


def named(stack: Stack, name: str) -> bool:
    """The one naming rule: a stack answers to its id, framework, server, app or variant name."""
    return name in (stack.id, stack.framework, stack.server, stack.app, stack.variant)


def select_stacks(matrix: Matrix, names: Sequence[str] | None) -> list[Stack]:
    """Stacks by id, framework, server, app or variant name; none or 'all' is every stack."""
    wanted = split(names)
    if not wanted or wanted == ["all"]:
        return list(matrix.stacks.values())
    chosen: list[Stack] = []
    for name in wanted:
        if name in matrix.stacks:
            chosen.append(matrix.stacks[name])
            continue
        group = [s for s in matrix.stacks.values() if named(s, name)]
        if group:
            chosen.extend(group)
            continue
        if name in matrix.excluded:
            raise UserError(f"stack {name!r} is excluded by servers/matrix.toml: {matrix.excluded[name]}")
        raise unknown("stack", name, matrix.stacks, "stackmark list")
    return list({s.id: s for s in chosen}.values())  # keep order, drop repeats


def profile_stacks(matrix: Matrix, profile: Mapping[str, Any]) -> list[Stack]:
    """A profile's stacks: its `stacks` ("all" or names) without those its `skip` names (same naming rule).

    A skip name that names nothing here is no error: a team's matrix file takes the reference profiles
    (servers/matrix.toml) without the reference apps and variants they skip."""
    listed = profile.get("stacks", "all")
    skipped = split(profile.get("skip", []))
    return [s for s in select_stacks(matrix, [] if listed == "all" else listed)
            if not any(named(s, name) for name in skipped)]


def one_stack(matrix: Matrix, name: str, command: str) -> Stack:
    stacks = select_stacks(matrix, [name])
    if len(stacks) != 1:
        raise UserError(f"{name!r} names {len(stacks)} stacks; {command} takes one stack id (see `stackmark list`)")
    return stacks[0]


def scenario_catalog() -> dict[str, Scenario]:
    """scenarios/catalog.toml, or one line naming what is wrong in it (never a traceback)."""
    try:
        return load_scenarios()
    except ValueError as exc:  # tomllib's TOMLDecodeError is a ValueError
        raise UserError(f"scenarios/{exc}" if str(exc).startswith("catalog.toml") else f"scenarios/catalog.toml: "
                        f"{exc}; fix the file") from None


def select_scenarios(names: Sequence[str] | None, default: Sequence[str]) -> list[Scenario]:
    """Scenarios by name, or by group (every member, in catalog order); repeats dropped, order kept."""
    catalog = scenario_catalog()
    members = groups(catalog)
    picked: list[str] = []
    for name in split(names) or list(default):
        if name not in catalog and name not in members:
            raise unknown("scenario", name, [*catalog, *members], "stackmark scenarios")
        picked += members.get(name, []) if name not in catalog else [name]
    return [catalog[n] for n in dict.fromkeys(picked)]


def whole_numbers(values: Sequence[str | int], what: str, limit: int) -> list[int]:
    """Whole numbers from 1 to `limit`, or one line naming the bad one and the range."""
    result = []
    for v in split([str(x) for x in values]):
        try:
            n = int(v)
        except ValueError:
            raise UserError(f"{what} must be whole numbers, not {v!r}") from None
        if not 1 <= n <= limit:
            raise UserError(f"{what} {n} is out of range; use 1 to {limit}")
        result.append(n)
    return result


def seconds(value: float, what: str, low: float, high: float) -> float:
    if not low <= value <= high:
        raise UserError(f"{what} {value:g} s is out of range; use {low:g} to {high:g} seconds")
    return float(value)
