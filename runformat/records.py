"""The records of a run folder, as typed dicts, and one shape check for all of them.

Each file of results/README.md has a TypedDict here; writers build them and
readers get them back checked by `conform`, which reads the TypedDict's own
annotations, so the shape is written down once. JSON numbers: an int is
accepted where a float is meant; a bool is never a number.
"""
# no `from __future__ import annotations` here: TypedDict reads NotRequired from real annotations

import types
import typing
from typing import Any, NotRequired, TypedDict, Union

from runformat.errors import RunDirError

Number = float  # JSON numbers: 3 and 3.0 alike


class Settings(TypedDict):
    """run.json "settings": what was asked for; a resume runs exactly these."""

    scenarios: list[str]
    concurrency: list[int]
    duration_s: Number
    warmup_s: Number
    primer_s: Number
    repeat: int
    server_cpus: list[int]
    loadgen_cpus: list[int]
    workers: list[int] | int
    loadgen: NotRequired[str]
    loadgen_processes: int
    # Locust's distributed mode (--locust-workers; absent or 0: not used): a master waiting for this many
    # workers, bound to master_bind_host; remote_workers: started by the user elsewhere, not by stackmark
    loadgen_workers: NotRequired[int]
    master_bind_host: NotRequired[str]
    remote_workers: NotRequired[bool]
    database: str  # redacted URL, or SQLITE_PER_RUN
    target: str | None  # redacted --target URL, or None when stackmark launched the stacks
    profile: NotRequired[str | None]
    # a team's --locustfile scenarios: name -> {"path": absolute path, "sha256": of its text when it ran}
    locustfiles: NotRequired[dict[str, dict[str, str]]]
    configuration: NotRequired[str]  # "default" (one worker a stack) or "tuned" (each server as its docs say)
    argv: NotRequired[list[str]]  # `stackmark` arguments as given (URLs redacted): the command that reproduces it
    # --workers 1,2,...: each selected stack ran at each of these worker counts (ids get a "-w<N>" suffix)
    worker_counts: NotRequired[list[int]]


class RunMeta(TypedDict):
    schema_version: int
    run_id: str
    started_at: Number
    finished_at: Number | None
    git: dict[str, Any]
    host: dict[str, Any]
    packages: dict[str, str | None]
    settings: Settings
    stacks: list[str]
    resumed: NotRequired[list[dict[str, Any]]]
    runtime: NotRequired[dict[str, Any]]  # python and checkout the stacks ran from (v2; an A/B base differs)


class StartRecord(TypedDict):
    status: str  # "ok" | "failed"
    ready_s: Number | None
    reason: str | None
    log_tail: NotRequired[str]


class StackRecord(TypedDict):
    """stack.json: the stack spec, its command line, start-up and verify outcome (last repeat's)."""

    stack: str
    app: str
    framework: str
    server: str
    worker: str
    interface: str
    configuration: NotRequired[str]  # "default" or "tuned"; absent: default
    config_hash: NotRequired[str]  # 12 hex of sha256 of server, worker, workers, options (Stack.config_hash)
    command: NotRequired[list[str]]
    port: NotRequired[int]
    cpus: NotRequired[list[int]]
    repeat: NotRequired[int]
    start: NotRequired[StartRecord]
    verify: NotRequired[dict[str, Any] | None]


class CellRecord(TypedDict):
    """cell.json, written last: status and identifiers of one measured cell."""

    stack: str
    scenario: str
    endpoint: str
    concurrency: int
    repeat: int
    status: str  # "ok" | "failed"
    reason: str | None
    loadgen_cpus: NotRequired[list[int]]
    loadgen_processes: NotRequired[int]
    server_log_tail: NotRequired[str | None]


class Phases(TypedDict):
    """phases.json, written by the Locust plugin: unix times of each phase."""

    primer: NotRequired[Number]
    warmup: NotRequired[Number]
    measure: NotRequired[Number]
    end: NotRequired[Number]
    users: NotRequired[int]
    processes: NotRequired[int]


class RequestStats(TypedDict):
    count: int
    failures: int
    bytes: NotRequired[int]
    hist: dict[str, int]  # 10 us bucket index (as a string) -> count


class UsersBlock(TypedDict):
    expected: int | None
    seen: int
    starved: int
    min: NotRequired[Number | None]
    median: NotRequired[Number | None]
    max: NotRequired[Number | None]
    counts: NotRequired[list[int]]


class CorrectedHist(TypedDict):
    """Open model: each answered request's latency from its *scheduled* start (coordinated omission
    corrected, as wrk2 does), same 10 us buckets as RequestStats.hist; requests scheduled in the window."""

    count: int
    hist: dict[str, int]


class OpenBlock(TypedDict):
    offered_rate: Number | None
    sent: int
    missed: int
    late: int
    corrected: NotRequired[CorrectedHist]  # added 2026-11-24


class StageStats(TypedDict):
    """One stage of a shaped measured window (ramp step, spike phase): its users and its own histogram."""

    name: str  # "step-1".., or "before" / "spike" / "after"
    users: int
    start: Number  # unix seconds
    end: Number
    count: int
    failures: int
    hist: dict[str, int]  # 10 us buckets, as RequestStats.hist, over every request name


class ShapeBlock(TypedDict):
    """A measured window whose load changes (ramp, spike) or runs long (soak); added 2026-11-24."""

    kind: str  # "ramp" | "spike" | "soak"
    slo_p99_ms: NotRequired[Number | None]  # ramp: a step over this p99 ends the ramp (the knee is below)
    max_error_pct: NotRequired[Number | None]  # ramp: ... or over this share of errors
    stopped: NotRequired[str | None]  # ramp: why it stopped before its last step, if it did
    stages: list[StageStats]  # empty for a soak (one steady stage)


class Series(TypedDict):
    """Per slot of the measured window (slot_s >= 1 s, at most about 600 slots): completions, failures and
    latency percentiles. Percentiles of a multi-process cell are merged approximately (p50: weighted mean,
    p99: the highest worker's); stages hold exact histograms. Added 2026-11-24."""

    slot_s: Number
    completed: list[int]
    failures: list[int]
    p50_ms: list[Number | None]
    p99_ms: list[Number | None]


class Timeline(TypedDict):
    """Requests completed in each `slot_s` slot of the measured window, from its start (added in v2)."""

    slot_s: Number
    completed: list[int]


class WorkerShare(TypedDict):
    """One Locust worker's part of a distributed cell's latency.json: what it reported to the master."""

    worker: str  # Locust's client id: the worker's host name and a random suffix
    requests: int
    failures: int


class LatencyFile(TypedDict):
    bucket_ms: NotRequired[Number]
    window: NotRequired[list[Number | None]]
    requests: dict[str, RequestStats]
    users: NotRequired[UsersBlock]
    open: NotRequired[OpenBlock]
    timeline: NotRequired[Timeline]
    processes: NotRequired[int]
    run_token: NotRequired[str]  # the harness's token for this cell: a worker of another run cannot count
    workers: NotRequired[list[WorkerShare]]  # distributed mode: each worker's share of `requests`, as reported
    shape: NotRequired[ShapeBlock]  # ramp / spike / soak scenarios (2026-11-24)
    series: NotRequired[Series]  # per-second-or-longer slots of the window (2026-11-24)
    # mean think time between a user's requests (a locustfile with think time, e.g. mix.py): Little's law
    # then reads users = throughput x (latency + think time) (2026-11-24)
    think_ms: NotRequired[Number]


def _describe(tp: Any) -> str:
    names = {int: "a whole number", float: "a number", str: "a string", bool: "true or false",
             type(None): "null", list: "a list", dict: "an object"}
    origin = typing.get_origin(tp) or tp
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if typing.is_typeddict(tp):
        return "an object"
    return names.get(origin, getattr(origin, "__name__", str(origin)))


def _check(value: Any, tp: Any, where: str) -> str | None:
    """The first place where `value` does not have type `tp`, as 'field: should be X, not Y'; None if it fits."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        problems = [_check(value, arg, where) for arg in typing.get_args(tp)]
        return None if any(p is None for p in problems) else f"{where}: should be {_describe(tp)}, not {value!r:.40}"
    if typing.is_typeddict(tp):
        return _check_record(value, tp, where)
    if tp is Any:
        return None
    if tp is type(None):
        return None if value is None else f"{where}: should be null, not {value!r:.40}"
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif origin is list:
        if not isinstance(value, list):
            return f"{where}: should be a list, not {value!r:.40}"
        (item,) = typing.get_args(tp) or (Any,)
        return next((p for i, v in enumerate(value) if (p := _check(v, item, f"{where}[{i}]"))), None)
    elif origin is dict:
        if not isinstance(value, dict):
            return f"{where}: should be an object, not {value!r:.40}"
        _, item = typing.get_args(tp) or (str, Any)
        return next((p for k, v in value.items() if (p := _check(v, item, f"{where}.{k}"))), None)
    else:
        ok = isinstance(value, tp)
    return None if ok else f"{where}: should be {_describe(tp)}, not {value!r:.40}"


def _check_record(value: Any, record: Any, where: str) -> str | None:
    if not isinstance(value, dict):
        return f"{where or 'the file'}: should be an object, not {value!r:.40}"
    hints = typing.get_type_hints(record)
    for key in sorted(record.__required_keys__):
        if key not in value:
            return f"{where + '.' if where else ''}{key}: missing"
    for key, tp in hints.items():
        if key in value:
            problem = _check(value[key], tp, f"{where + '.' if where else ''}{key}")
            if problem:
                return problem
    return None


def conform(value: Any, record: Any, source: object) -> Any:
    """`value` if it has the shape of TypedDict `record`; else a RunDirError naming `source` and the field."""
    problem = _check_record(value, record, "")
    if problem:
        raise RunDirError(f"{source}: {problem}; the file is damaged or not from stackmark, "
                          "delete that folder and measure it again")
    return value


# samples.csv, one row about every 0.5 s: cumulative counters, so any window's delta is exact
SAMPLE_COLUMNS = ["t", "server_cpu_s", "server_rss_bytes", "server_procs", "gen_cpu_s", "steal_s", "busy_s"]
