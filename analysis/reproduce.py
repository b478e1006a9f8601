"""How to run this experiment again, and on what it ran: the report's "Reproduce" section, from run.json.

The command line as typed is the one thing settings cannot give back (which options were given and which
came from the profile), so a run that recorded it (settings["argv"]) shows it as it was; an older run gets
the equivalent command rebuilt from its settings, and says so. Never a password: the database URL in
run.json is already redacted by the harness, and masked again here in case an old run was not.
"""
from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runformat.records import RunMeta

DEFAULT_MATRIX = "servers/matrix.toml"
_PASSWORD = re.compile(r"(://[^/:@]*:)[^@/]*@")


@dataclass(frozen=True)
class Reproduce:
    command: str  # a shell line
    recorded: bool  # True: the command line as typed (settings["argv"]); False: rebuilt from settings
    profile: str
    matrix: str
    git_sha: str
    git_dirty: bool | None
    checkout: str  # the git command that gets this code back
    environment: list[tuple[str, str]] = field(default_factory=list)
    packages: list[tuple[str, str]] = field(default_factory=list)


def mask(url: str) -> str:
    """A URL with any password replaced by ***."""
    return _PASSWORD.sub(r"\1***@", url)


def _cpus(cpus: Sequence[int] | None) -> str:
    return ",".join(str(c) for c in cpus or [])


def _num(value: Any) -> str:
    return f"{float(value):g}"


def rebuilt_command(meta: RunMeta) -> list[str]:
    """`stackmark bench ...` with every setting the run recorded given explicitly: the same experiment
    whatever the profile's defaults are today."""
    s: Mapping[str, Any] = meta["settings"]
    cmd = ["stackmark", "bench"]
    if s.get("profile"):
        cmd += ["--profile", str(s["profile"])]
    if s.get("matrix"):
        cmd += ["--matrix", str(s["matrix"])]
    if s.get("configuration"):
        cmd += ["--configuration", str(s["configuration"])]
    if s.get("target"):
        cmd += ["--target", mask(str(s["target"]))]
        cmd += ["--target-name", *meta["stacks"][:1]]
    else:
        cmd += ["--stacks", *meta["stacks"]]
    locustfiles: Mapping[str, Mapping[str, str]] = s.get("locustfiles") or {}
    scenarios = [sc for sc in s.get("scenarios") or [] if sc not in locustfiles]
    if scenarios:
        cmd += ["--scenario", *scenarios]
    for spec in locustfiles.values():
        cmd += ["--locustfile", spec["path"]]
    cmd += ["--concurrency", *(str(c) for c in s.get("concurrency") or [])]
    cmd += ["--duration", _num(s["duration_s"]), "--warmup", _num(s["warmup_s"]), "--primer", _num(s["primer_s"]),
            "--repeat", str(s["repeat"])]
    if s.get("server_cpus") or s.get("loadgen_cpus"):
        cmd += ["--server-cpus", _cpus(s.get("server_cpus")), "--loadgen-cpus", _cpus(s.get("loadgen_cpus"))]
    else:
        cmd += ["--no-pin"]
    if s.get("loadgen_processes"):
        cmd += ["--locust-processes", str(s["loadgen_processes"])]
    return cmd


def _database(settings: Mapping[str, Any]) -> str:
    """'SQLite, a fresh seeded file in the run folder' or 'PostgreSQL (postgresql://user:***@...)'."""
    db = str(settings.get("database") or "not recorded")
    if db.startswith(("postgres://", "postgresql")):
        return f"PostgreSQL ({mask(db)})"
    if db.startswith("sqlite:"):
        return f"SQLite ({db})"
    if "sqlite" in db.lower():
        return "SQLite, a fresh seeded file in the run folder"
    return mask(db)


def _environment(meta: RunMeta) -> list[tuple[str, str]]:
    host, s = meta["host"], meta["settings"]
    runtime: Mapping[str, Any] = meta.get("runtime") or {}
    memory = host.get("memory_bytes")
    rows = [
        ("host", f"{host.get('hostname') or '?'} · {host.get('platform') or '?'}"),
        ("CPU", f"{host.get('cpu_model') or 'unknown'} × {host.get('cpu_count') or '?'}"),
        ("memory", f"{memory / 2**30:.1f} GiB" if isinstance(memory, (int, float)) else "not recorded"),
        ("Python", f"{host.get('python') or 'unknown'}"
                   + (f" ({runtime['python']})" if runtime.get("python") else "")),
        ("database", _database(s)),
        ("load generator", str(s.get("loadgen") or f"locust, {s.get('loadgen_processes') or 1} process(es)")
         + f", on CPU {_cpus(s.get('loadgen_cpus')) or '(not pinned)'}"),
        ("server CPUs", _cpus(s.get("server_cpus")) or "not pinned"),
        ("configuration", str(s.get("configuration") or "default")),
    ]
    harness = runtime.get("harness_git") or {}
    if harness.get("sha") and harness.get("sha") != meta["git"].get("sha"):
        rows.append(("harness commit", str(harness["sha"])))
    return rows


def as_typed(argv: Sequence[Any]) -> list[str]:
    """settings["argv"] as a command line: `stackmark` first (it is recorded with or without the program's
    name), passwords masked."""
    args = [mask(str(a)) for a in argv]
    return args if args and args[0].rsplit("/", 1)[-1] == "stackmark" else ["stackmark", *args]


def reproduce(meta: RunMeta) -> Reproduce:
    """The command, where its code and matrix come from, and the environment it ran in."""
    s: Mapping[str, Any] = meta["settings"]
    argv = s.get("argv")
    recorded = isinstance(argv, list) and bool(argv)
    command = shlex.join(as_typed(argv)) if recorded and isinstance(argv, list) else shlex.join(rebuilt_command(meta))
    if s.get("database") and "sqlite" not in str(s["database"]).lower():
        command = f"DATABASE_URL={shlex.quote(mask(str(s['database'])))} {command}"
    sha = str(meta["git"].get("sha") or "unknown")
    dirty = meta["git"].get("dirty")
    packages = [(name, version or "not installed") for name, version in sorted(meta["packages"].items())]
    return Reproduce(
        command=command, recorded=recorded, profile=str(s.get("profile") or "none (options only)"),
        matrix=str(s.get("matrix") or f"{DEFAULT_MATRIX} (the default: this run did not record --matrix)"),
        git_sha=sha, git_dirty=dirty if isinstance(dirty, bool) else None,
        checkout=f"git checkout {sha}" if sha != "unknown" else "(commit not recorded)",
        environment=_environment(meta), packages=packages)
