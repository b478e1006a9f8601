"""What a bench will do, decided in one place: from a profile plus the user's overrides, or from a
stored run's own settings (resume). Defaults live in the profile only (servers/matrix.toml).
"""
from __future__ import annotations

import hashlib
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from runformat import SQLITE_PER_RUN
from runformat.records import Settings
from runformat.rundir import RunDir
from scenarios.catalog import Scenario, load_scenarios, locustfile_scenario
from servers.base import Runtime
from servers.matrix import Matrix, MatrixError, Stack, TunedRules
from servers.registry import SERVERS
from stackmark.cpus import default_cpus, parse_cpus
from stackmark.database import redact
from stackmark.errors import UserError, unknown
from stackmark.loadgen import LOOPBACK, Distributed
from stackmark.select import profile_stacks, seconds, select_scenarios, select_stacks, whole_numbers
from stackmark.target import ExternalServer, parse_target
from stackmark.worker_scaling import base_ids, scaled_stacks, worker_counts

# name of the setting -> (what the user calls it, lowest, highest)
LIMITS: dict[str, tuple[str, float, float]] = {
    "duration_s": ("duration", 1, 3600), "warmup_s": ("warm-up", 0, 600), "primer_s": ("primer", 0, 60),
}
MAX_CONCURRENCY = 10_000
MAX_REPEAT = 100
MAX_REMOTE_WORKERS = 1000  # local workers are bounded by the load-generator CPUs instead
PROFILE_KEYS = ("scenarios", "concurrency", "duration_s", "warmup_s", "primer_s", "repeat")
CONFIGURATIONS = ("default", "tuned")  # a profile's optional `configuration`, or --configuration
# Overrides fields whose command-line flag is not simply --the-name
FLAGS = {"scenarios": "--scenario", "loadgen_processes": "--locust-processes", "duration_s": "--duration",
         "locust_workers": "--locust-workers", "worker_counts": "--workers",
         "warmup_s": "--warmup", "primer_s": "--primer"}


def flag(name: str) -> str:
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def server_cpu_count(server_cpus: Sequence[int]) -> int:
    """The CPUs a server is given: its pinned ones, or every CPU of the machine when unpinned."""
    return len(server_cpus) or os.cpu_count() or 1


def tuned_stacks(stacks: Sequence[Stack], rules: TunedRules, cpus: int) -> list[Stack]:
    """Each stack as its server's own docs recommend for `cpus` CPUs: its workers and options replaced by the
    [tuned.SERVER] rules and, over them, the [tuned.VARIANT] ones (servers/matrix.toml), ids unchanged.

    Why: the defaults give every server one worker, so servers compare per worker, which is fair but not
    how anyone deploys them; `tuned` measures them as deployed, on the same CPUs. The stack records
    `configuration = "tuned"` and its config_hash changes, so results say which of the two they are.
    """
    tuned = []
    for stack in stacks:
        if stack.server not in SERVERS:
            raise UserError(f"{stack.id} is not a server stackmark launches, so it has no tuned configuration; "
                            "drop --configuration tuned")
        settings = {name: count.at(cpus) for name, count in
                    {**rules.get(stack.server, {}), **rules.get(stack.variant, {})}.items()}
        workers = settings.pop("workers", stack.workers)
        most = SERVERS[stack.server].max_workers
        if most is not None and workers > most:
            raise MatrixError(f"[tuned.{stack.server}] gives {stack.id} {workers} workers; {stack.server} runs at "
                              f"most {most}")
        tuned.append(replace(stack, workers=workers, options={**stack.options, **settings}, configuration="tuned"))
    return tuned


def configured(stacks: Sequence[Stack], configuration: str, rules: TunedRules,
               server_cpus: Sequence[int]) -> list[Stack]:
    """The stacks in the named configuration ("default": as the matrix declares them), or one line naming it."""
    if configuration not in CONFIGURATIONS:
        raise unknown("configuration", configuration, CONFIGURATIONS, "stackmark bench --help")
    if configuration == "default":
        return list(stacks)
    return tuned_stacks(stacks, rules, server_cpu_count(server_cpus))


@dataclass(frozen=True)
class WorkersRequest:
    """--locust-workers N [--master-bind-host ADDRESS] [--remote-workers] as given, checked by the plan."""

    workers: int | None
    bind_host: str | None = None
    remote: bool = False


def workers_request(workers: int | None, bind_host: str | None, remote: bool) -> WorkersRequest | None:
    """The distributed-mode flags as one override; None when none of them was given."""
    if workers is None and bind_host is None and not remote:
        return None
    return WorkersRequest(workers, bind_host, remote)


def distributed_mode(request: WorkersRequest | None, processes: int, cpus_for_locust: int) -> Distributed | None:
    """Locust's distributed mode from the flags, or one line naming what is wrong and the fix."""
    if request is None:
        return None
    if request.workers is None:
        given = "--master-bind-host" if request.bind_host is not None else "--remote-workers"
        raise UserError(f"{given} is for Locust's distributed mode; add --locust-workers N")
    if processes > 1:
        raise UserError("--locust-workers and --locust-processes are two ways to run several Locust processes; "
                        "use one of them")
    most = MAX_REMOTE_WORKERS if request.remote else cpus_for_locust
    if not 1 <= request.workers <= most:
        fix = ("" if request.remote else " (one per load-generator CPU; give more with --loadgen-cpus, or "
               "put them on other machines with --remote-workers)")
        raise UserError(f"--locust-workers {request.workers} is out of range; use 1 to {most}{fix}")
    host = request.bind_host if request.bind_host is not None else LOOPBACK
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise UserError(f"--master-bind-host {host!r} is not an IP address; give one of this machine's "
                        "addresses, e.g. 127.0.0.1 (the default) or 0.0.0.0 for every interface") from None
    return Distributed(request.workers, host, request.remote)


def env_database_url() -> str | None:
    """The one place DATABASE_URL is read: the user's database, or None for stackmark's own SQLite."""
    return os.environ.get("DATABASE_URL") or None


@dataclass(frozen=True)
class Overrides:
    """What the user asked for on the command line; None means "the profile's value"."""

    profile: str = "quick"
    stacks: list[str] | None = None
    scenarios: list[str] | None = None
    concurrency: list[str] | None = None
    duration_s: float | None = None
    warmup_s: float | None = None
    primer_s: float | None = None
    repeat: int | None = None
    server_cpus: str | None = None
    loadgen_cpus: str | None = None
    no_pin: bool = False
    loadgen_processes: int | None = None
    locust_workers: WorkersRequest | None = None  # Locust's distributed mode
    target: str | None = None
    target_name: str | None = None
    allow_remote: bool = False
    seed_db: bool = False
    locustfile: str | None = None  # a team's own locustfile: a scenario of its own, instead of the profile's
    configuration: str | None = None  # "default" (one worker) or "tuned" (each server as its docs recommend)
    worker_counts: list[str] | None = None  # --workers 1,2,...: each stack at each count (stackmark.worker_scaling)
    argv: Sequence[str] | None = None  # the command's arguments as given: recorded, never a setting of its own

    @staticmethod
    def workers(workers: int | None, bind_host: str | None, remote: bool) -> WorkersRequest | None:
        """The distributed-mode flags as one override (`workers_request`), for the command line."""
        return workers_request(workers, bind_host, remote)

    def given(self) -> list[str]:
        """The settings the user set explicitly (a resume refuses them: it runs the run's own)."""
        return [f.name for f in fields(self)
                if f.name not in ("profile", "argv") and getattr(self, f.name) not in (None, False)]


@dataclass(frozen=True)
class BenchPlan:
    stacks: Sequence[Stack]
    scenarios: Sequence[Scenario]
    concurrency: Sequence[int]
    duration_s: float
    warmup_s: float
    primer_s: float
    repeat: int
    server_cpus: Sequence[int]
    loadgen_cpus: Sequence[int]
    database_url: str | None = None  # None: a fresh seeded SQLite file inside the run folder
    target: ExternalServer | None = None  # measure this running server instead of launching stacks
    seed_database: bool = False  # (re)create world/fortune in database_url before the run
    loadgen_processes: int = 1  # Locust's --processes: a master plus N workers on the load-generator CPUs
    distributed: Distributed | None = None  # Locust's distributed mode (--locust-workers), instead
    profile: str | None = None
    runtime: Runtime = field(default_factory=Runtime)  # where the stacks' code and interpreter come from
    configuration: str = "default"  # "default": one worker a stack (per worker); "tuned": as deployed
    argv: Sequence[str] | None = None  # the arguments that started the run (a resume keeps the first run's)
    worker_counts: Sequence[int] | None = None  # --workers: the stacks are each matrix stack at each count

    def settings(self) -> Settings:
        """What run.json records: everything a resume needs to run the same experiment."""
        settings: Settings = {
            "scenarios": [s.name for s in self.scenarios], "concurrency": list(self.concurrency),
            "duration_s": self.duration_s, "warmup_s": self.warmup_s, "primer_s": self.primer_s,
            "repeat": self.repeat, "server_cpus": list(self.server_cpus), "loadgen_cpus": list(self.loadgen_cpus),
            "workers": sorted({s.workers for s in self.stacks}),
            "loadgen": self._loadgen(),
            "loadgen_processes": self.loadgen_processes,
            "database": redact(self.database_url) if self.database_url else SQLITE_PER_RUN,
            "target": self.target.stack.target if self.target else None,
            "profile": self.profile,
            "configuration": self.configuration,
        }
        if self.distributed is not None:  # loadgen_processes stays 1: the master's own, as bench records it
            settings["loadgen_workers"] = self.distributed.workers
            settings["master_bind_host"] = self.distributed.bind_host
            settings["remote_workers"] = self.distributed.remote
        if self.worker_counts:  # a resume expands the same stacks again from these and the base ids
            settings["worker_counts"] = list(self.worker_counts)
        if self.argv is not None:  # passwords in URLs hidden: run.json must hold no secret
            settings["argv"] = [redact(a) if "://" in a else a for a in self.argv]
        custom = [s for s in self.scenarios if s.is_custom]
        if custom:  # the file itself is the team's; its path and digest say which load a run measured
            settings["locustfiles"] = {s.name: {"path": str(s.locustfile), "sha256": hashlib.sha256(
                s.locustfile.read_bytes()).hexdigest()} for s in custom}
        return settings

    def _loadgen(self) -> str:
        d = self.distributed
        if d is None:
            return f"locust FastHttpUser, {self.loadgen_processes} process(es)"
        return (f"locust FastHttpUser, distributed: a master on {d.bind_host} and {d.workers} "
                f"{'remote' if d.remote else 'local'} worker(s)")

    @property
    def cells(self) -> int:
        served = sum(sc.served_by(stack) for stack in self.stacks for sc in self.scenarios)
        return served * len(self.concurrency) * self.repeat

    @classmethod
    def from_profile(cls, matrix: Matrix, o: Overrides) -> BenchPlan:
        """The plan of a new run: the profile's values, each replaced by the user's where given."""
        profile = matrix.profiles.get(o.profile)
        if profile is None:
            raise unknown("profile", o.profile, matrix.profiles, "servers/matrix.toml [profiles.*]")
        missing = [k for k in PROFILE_KEYS if k not in profile]
        if missing:
            raise UserError(f"profile {o.profile!r} has no {', '.join(missing)}; every profile in the matrix file "
                            f"sets {', '.join(PROFILE_KEYS)}")
        target = parse_target(o.target, o.allow_remote, o.target_name) if o.target else None
        if target is not None and o.stacks:
            raise UserError("--target measures one running server; drop --stacks (or drop --target)")
        stacks = [target.stack] if target else (
            select_stacks(matrix, o.stacks) if o.stacks else profile_stacks(matrix, profile))
        scenarios = _scenarios(o, profile["scenarios"])
        if not any(sc.is_custom for sc in scenarios) and stacks and not any(s.contract for s in stacks):
            raise UserError("the selected stacks' apps say contract = false, so they serve no catalog scenario; "
                            "pass their own load with --locustfile FILE")
        server_cpus, loadgen_cpus = default_cpus(o.no_pin)
        server_cpus = parse_cpus(o.server_cpus) if o.server_cpus else server_cpus
        configuration = str(o.configuration or profile.get("configuration", "default"))
        if target is not None and configuration != "default":
            raise UserError("--target measures a running server as it is configured; drop --configuration tuned "
                            "(or use another --profile)")
        counts = _worker_counts(o, profile, target is not None, configuration)
        stacks = configured(stacks, configuration, matrix.tuned, server_cpus)
        plan = cls._checked(
            scaled_stacks(stacks, counts) if counts else stacks, scenarios,
            o.concurrency or profile["concurrency"],
            {k: getattr(o, k) if getattr(o, k) is not None else profile[k] for k in LIMITS},
            o.repeat if o.repeat is not None else profile["repeat"],
            server_cpus,
            parse_cpus(o.loadgen_cpus) if o.loadgen_cpus else loadgen_cpus,
            o.loadgen_processes or 1,
            workers=o.locust_workers,
            database_url=env_database_url(), target=target, seed_database=o.seed_db, profile=o.profile,
            configuration=configuration, argv=tuple(o.argv) if o.argv is not None else None,
            worker_counts=counts)
        return plan

    @classmethod
    def from_run(cls, run_dir: Path, matrix: Matrix, given: Sequence[str] = ()) -> tuple[BenchPlan, RunDir]:
        """The plan a run folder was started with, for --resume: its own settings and database, or a refusal."""
        if given:
            flags = ", ".join(flag(g) for g in given)
            raise UserError(f"--resume runs the run's own settings; drop {flags} (or start a new run without "
                            "--resume)")
        run = RunDir.open(run_dir)
        meta = run.read_meta()
        s = meta["settings"]
        if s["target"]:
            raise UserError(f"{run_dir} measured an external --target; run it again instead of resuming")
        catalog = load_scenarios()
        unknown_names = [n for n in s["scenarios"] if n not in catalog]
        if unknown_names:
            raise UserError(f"{run_dir} measured {', '.join(unknown_names)}, not in scenarios/catalog.toml (a "
                            "--locustfile run cannot be resumed); start a new run")
        configuration = s.get("configuration", "default")
        counts = s.get("worker_counts") or None
        names = base_ids(meta["stacks"]) if counts else meta["stacks"]
        stacks = configured(select_stacks(matrix, names or ["all"]), configuration, matrix.tuned, s["server_cpus"])
        if counts:
            stacks = scaled_stacks(stacks, counts)
        plan = cls._checked(
            stacks, select_scenarios(s["scenarios"], []),
            s["concurrency"], {k: s[k] for k in LIMITS},  # type: ignore[literal-required]
            s["repeat"], s["server_cpus"], s["loadgen_cpus"], s["loadgen_processes"],
            workers=workers_request(s.get("loadgen_workers") or None, s.get("master_bind_host"),
                                    bool(s.get("remote_workers"))),
            database_url=resume_database(s["database"], run_dir), profile=s.get("profile"),
            configuration=configuration, argv=s.get("argv"), worker_counts=counts)
        return plan, run

    @classmethod
    def _checked(cls, stacks: Sequence[Stack], scenarios: Sequence[Scenario], concurrency: Sequence[Any],
                 times: dict[str, float], repeat: int, server_cpus: Sequence[int], loadgen_cpus: Sequence[int],
                 processes: int, workers: WorkersRequest | None = None, **rest: Any) -> BenchPlan:
        """Every value in range, or one line naming it and its range."""
        timed = {k: seconds(float(times[k]), *LIMITS[k]) for k in LIMITS}
        cpus_for_locust = len(loadgen_cpus) or len(os.sched_getaffinity(0))
        (processes,) = whole_numbers([processes], "--locust-processes", 64)
        if processes > 1 and processes > cpus_for_locust:
            raise UserError(f"--locust-processes {processes} on {cpus_for_locust} load-generator CPU(s): Locust "
                            "runs one process per CPU; use at most "
                            f"{cpus_for_locust} or give more CPUs with --loadgen-cpus")
        distributed = distributed_mode(workers, processes, cpus_for_locust)
        return cls(stacks, scenarios, whole_numbers(concurrency, "concurrency", MAX_CONCURRENCY),
                   timed["duration_s"], timed["warmup_s"], timed["primer_s"],
                   whole_numbers([repeat], "repeat", MAX_REPEAT)[0], list(server_cpus), list(loadgen_cpus),
                   loadgen_processes=processes, distributed=distributed, **rest)


def _worker_counts(o: Overrides, profile: dict[str, Any], target: bool, configuration: str) -> list[int] | None:
    """--workers (else the profile's `workers`) as checked counts, None without either; refused where the
    count is not stackmark's to set: an external --target, or the tuned configuration (which sets its own)."""
    given = o.worker_counts if o.worker_counts is not None else profile.get("workers")
    if given is None:
        return None
    if target:
        raise UserError("--target measures a running server with the workers it has; drop --workers")
    if configuration != "default":
        tuned = "--configuration tuned" if o.configuration else f"profile {o.profile!r} (configuration tuned)"
        raise UserError(f"--workers sets each stack's worker count, and {tuned} sets its own; drop one of them "
                        "(the default configuration scales with --workers)")
    return worker_counts([str(v) for v in given] if isinstance(given, list) else [str(given)])


def _scenarios(o: Overrides, profile_scenarios: Sequence[str]) -> list[Scenario]:
    """The user's or the profile's catalog scenarios; a --locustfile replaces the profile's (add --scenario
    to run catalog scenarios beside it)."""
    if o.locustfile is None:
        return select_scenarios(o.scenarios, profile_scenarios)
    return [*select_scenarios(o.scenarios, []), custom_scenario(o.locustfile)]


def custom_scenario(locustfile: str) -> Scenario:
    """A team's --locustfile as a scenario, or one line saying what is wrong with it."""
    try:
        return locustfile_scenario(Path(locustfile))
    except ValueError as exc:
        raise UserError(str(exc)) from None


def resume_database(recorded: str, run_dir: Path) -> str | None:
    """The database a resumed run must use: the one it started on, checked against DATABASE_URL."""
    current = env_database_url()
    if recorded == SQLITE_PER_RUN:
        if current is not None:
            raise UserError(f"{run_dir} measured its own SQLite database, but DATABASE_URL is set to "
                            f"{redact(current)}; unset DATABASE_URL to resume it")
        return None
    if current is None or redact(current) != recorded:
        shown = redact(current) if current else "unset"
        raise UserError(f"{run_dir} measured {recorded}, but DATABASE_URL is {shown}; set DATABASE_URL to that "
                        "database to resume it")
    return current
