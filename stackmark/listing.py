"""The matrix's profiles and the catalog's scenarios as rows: for `stackmark profiles`, `stackmark scenarios`
and the help text of `bench` and `ab`.

Read from servers/matrix.toml and scenarios/catalog.toml each time, so the help never says what the files
no longer do: nothing here spells a profile's or a scenario's values by hand.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from scenarios.catalog import CATALOG_FILE, Scenario, load_scenarios
from servers.matrix import MATRIX_FILE, Matrix, MatrixError, load_matrix
from stackmark.console import out
from stackmark.errors import UserError
from stackmark.plan import Overrides
from stackmark.select import profile_stacks, scenario_catalog

DEFAULT_PROFILE = Overrides.profile  # what `stackmark bench` runs without --profile
REPO = MATRIX_FILE.parent.parent


def shown_path(path: Path) -> str:
    """A path as the user would type it from the checkout: relative when inside it."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _numbers(values: Sequence[Any]) -> str:
    return "/".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def profile_rows(matrix: Matrix) -> list[dict[str, Any]]:
    """Each [profiles.NAME] with the stacks it selects in this matrix and the settings it sets."""
    rows = []
    for name, p in matrix.profiles.items():
        try:
            stacks, problem = [s.id for s in profile_stacks(matrix, p)], ""
        except UserError as exc:  # a team's matrix takes the reference profiles, whose stacks it may not have
            stacks, problem = [], str(exc)
        rows.append({
            "name": name, "default": name == DEFAULT_PROFILE, "configuration": p.get("configuration", "default"),
            "stacks": stacks, "stacks_rule": p.get("stacks", "all"), "skip": list(p.get("skip", [])),
            "scenarios": list(p.get("scenarios", [])), "concurrency": list(p.get("concurrency", [])),
            "duration_s": p.get("duration_s"), "warmup_s": p.get("warmup_s"), "primer_s": p.get("primer_s"),
            "repeat": p.get("repeat"), "problem": problem,
        })
    return rows


def stacks_text(row: Mapping[str, Any]) -> str:
    """Which stacks a profile runs, in a few words: `27: all but daphne, ...` or the ids it names."""
    count = len(row["stacks"])
    if row["problem"]:
        return f"none here: {row['problem']}"
    if row["stacks_rule"] != "all":
        return f"{count}: {', '.join(row['stacks'])}"
    return f"{count}: all" + (f" but {', '.join(row['skip'])}" if row["skip"] else "")


def timing_text(row: Mapping[str, Any]) -> str:
    return (f"{row['duration_s']:g} s measured after {row['primer_s']:g} s primer + {row['warmup_s']:g} s "
            f"warm-up, {row['repeat']} repeat{'s' if row['repeat'] != 1 else ''}")


def scenario_rows(catalog: Mapping[str, Scenario], default_users: Sequence[int]) -> list[dict[str, Any]]:
    """Each scenario of the catalog: its model, the request it sends, and the users it runs at by default."""
    return [{
        "name": s.name, "model": "open" if s.is_open else "closed", "method": s.method, "path": s.path,
        "endpoint": s.endpoint, "body": s.body, "rate": s.rate, "locustfile": shown_path(s.locustfile),
        "sends": s.description, "default_users": list(default_users), "group": s.group,
        "endpoints": list(s.endpoints), "args": list(s.args),
    } for s in catalog.values()]


def _model_text(row: Mapping[str, Any]) -> str:
    args = list(row["args"])
    shape = f", {args[args.index('--shape') + 1]}" if "--shape" in args[:-1] else ""
    return (f"open, {row['rate']:g} req/s" if row["model"] == "open" else "closed") + shape


def _default_users(matrix: Matrix) -> list[int]:
    return list(matrix.profiles.get(DEFAULT_PROFILE, {}).get("concurrency", []))


def profiles_block(matrix_file: Path = MATRIX_FILE) -> str:
    """The profiles as plain lines for --help (RawDescriptionHelpFormatter keeps them as written)."""
    try:
        rows = profile_rows(load_matrix(matrix_file))
    except (MatrixError, OSError, ValueError) as exc:
        return f"profiles: cannot read {shown_path(matrix_file)}: {exc}"
    lines = [f"profiles ({shown_path(matrix_file)} [profiles.*]; --profile NAME; every option not given comes from "
             "the profile):"]
    for r in rows:
        default = " (the default)" if r["default"] else ""
        tuned = ", tuned configuration" if r["configuration"] != "default" else ""
        lines.append(f"  {r['name']}{default}{tuned}: stacks {stacks_text(r)}")
        lines.append(f"      scenarios {', '.join(r['scenarios'])}; {_numbers(r['concurrency'])} users; "
                     f"{timing_text(r)}")
    return "\n".join(lines)


def scenarios_block() -> str:
    """The scenarios as plain lines for --help: name, model and what each sends."""
    try:
        catalog = load_scenarios()
    except (OSError, ValueError) as exc:
        return f"scenarios: cannot read {shown_path(CATALOG_FILE)}: {exc}"
    lines = [f"scenarios ({shown_path(CATALOG_FILE)}; `stackmark scenarios` for their models and default users):"]
    width = max(len(name) for name in catalog)
    lines += [f"  {s.name:<{width}}  {s.description}" for s in catalog.values()]
    return "\n".join(lines)


def cmd_profiles(args: argparse.Namespace) -> int:
    """`stackmark profiles`: what each profile runs, so nobody reads matrix.toml to choose one."""
    matrix_file = Path(args.matrix) if args.matrix else MATRIX_FILE
    rows = profile_rows(load_matrix(matrix_file))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=f"{len(rows)} profiles ({shown_path(matrix_file)}); `stackmark bench --profile NAME`, "
                        f"default {DEFAULT_PROFILE}", title_justify="left")
    for col in ("profile", "stacks", "scenarios", "users", "duration s", "warm-up s", "primer s", "repeat",
                "configuration"):
        table.add_column(col, justify="right" if col.endswith((" s", "repeat")) else "left",
                         no_wrap=col == "profile")
    for r in rows:
        table.add_row(r["name"] + (" *" if r["default"] else ""), stacks_text(r), ", ".join(r["scenarios"]),
                      _numbers(r["concurrency"]), f"{r['duration_s']:g}", f"{r['warmup_s']:g}",
                      f"{r['primer_s']:g}", str(r["repeat"]), r["configuration"])
    out.print(table)
    out.print("* the default. Any option of `stackmark bench` (--stacks, --scenario, --concurrency, --duration, "
              "--repeat ...) replaces the profile's value.", highlight=False)
    return 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    """`stackmark scenarios`: what each scenario sends, and at how many users by default."""
    default_users = _default_users(load_matrix())
    rows = scenario_rows(scenario_catalog(), default_users)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=f"{len(rows)} scenarios ({shown_path(CATALOG_FILE)}); `stackmark bench --scenario NAME ...`",
                  title_justify="left")
    for col in ("scenario", "group", "model", "endpoint", "what it sends", "default users"):
        table.add_column(col, no_wrap=col in ("scenario", "group", "endpoint"))
    for r in rows:
        table.add_row(r["name"], r["group"] or "", _model_text(r), ", ".join(r["endpoints"]) or "", r["sends"],
                      _numbers(r["default_users"]))
    out.print(table)
    out.print(f"default users: profile {DEFAULT_PROFILE}'s concurrency (--concurrency or --profile to change); "
              "an open-model scenario's users are the most requests in flight. `--scenario GROUP` runs every "
              "scenario of the group.", highlight=False)
    return 0
