"""The smoke check of a team's own locustfile: does the server answer what the locustfile asks?

A team's service does not implement stackmark's endpoint contract, so there is
nothing to compare its answers with; what can still be proved before load is
that each request the team's own locustfile makes gets an answer that is not
a server error. One simulated user runs the locustfile for SMOKE_S seconds
against the started server, and Locust's own stats and failures CSV say, per
request name, what went wrong:

- a 5xx, a connection error, a timeout, or a failure the locustfile marked
  itself (`response.failure(...)`): a ``fail``, so that scenario is not measured;
- only 4xx: a ``warn`` (a client error may be what the locustfile asks for);
- no request at all: a ``fail`` (there is nothing to measure).

`smoke_findings` is the pure part (CSV rows -> findings); `smoke_check` runs
Locust through stackmark.loadgen's process handling (pinned, its own process
group, a watchdog, always stopped) and reads the CSV it wrote.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from runformat import paths
from scenarios.catalog import Scenario
from servers.base import ServerHandle
from servers.launcher import pin_prefix
from stackmark.loadgen import locust_csv, locust_process, wait_within
from stackmark.verify.findings import Finding, Level, VerifyResult, short, worst

SMOKE_S = 3  # long enough for a locustfile's tasks to reach each of its paths, short beside a cell
SMOKE_BUDGET_S = SMOKE_S + 30.0  # Locust's start and stop included; past it the run is killed

Kind = Literal["5xx", "4xx", "timeout", "connection", "failure"]
# Locust's error texts: FastHttpUser "LocustBadStatusCode(code=500)", HttpUser "HTTPError('500 Server Error: ..."
_STATUS = re.compile(r"BadStatusCode\(code=(\d{3})\)|HTTPError\('(\d{3}) ")
_TIMEOUT = re.compile(r"time ?out|timed out", re.IGNORECASE)  # ReadTimeout, ConnectTimeout, "timed out"
_CONNECTION = re.compile(r"connection|refused|reset|disconnected|broken ?pipe|retriesexceeded", re.IGNORECASE)
_CHECK: dict[Kind, tuple[str, str]] = {  # kind -> (Finding.check, what was expected)
    "5xx": ("status", "no server error (5xx)"),
    "4xx": ("status", "no client error (4xx)"),
    "timeout": ("timeout", "an answer in time"),
    "connection": ("connection", "an HTTP response"),
    "failure": ("locustfile", "no failure marked by the locustfile's own checks"),
}


def classify(error: str) -> Kind:
    """What one error of Locust's failures CSV was; the status is read first, as a timeout's text may name
    a connection pool."""
    status = _STATUS.search(error)
    if status is not None:
        code = int(status.group(1) or status.group(2))
        return "5xx" if code >= 500 else "4xx" if code >= 400 else "failure"
    if _TIMEOUT.search(error):
        return "timeout"
    return "connection" if _CONNECTION.search(error) else "failure"


def _count(row: dict[str, str], key: str) -> int:
    try:
        return int(row.get(key) or 0)
    except ValueError:
        return 0


def request_counts(stats: Sequence[dict[str, str]]) -> dict[str, int]:
    """Request name -> requests made, from Locust's stats CSV rows (its Aggregated total left out)."""
    return {row.get("Name", ""): _count(row, "Request Count") for row in stats
            if row.get("Type") or row.get("Name") != "Aggregated"}


def smoke_findings(scenario: str, stats: Sequence[dict[str, str]],
                   failures: Sequence[dict[str, str]]) -> list[Finding]:
    """The findings of one smoke run, from the rows of Locust's stats and failures CSV: one per (request
    name, error), a warn for a 4xx and a fail for anything else; a fail named after `scenario` if the
    locustfile made no request. No findings: every request name was answered."""
    counts = request_counts(stats)
    if sum(counts.values()) == 0:
        return [Finding(scenario, "fail", "requests", f"at least one request in {SMOKE_S} s",
                        "the locustfile made no request (or none was answered)")]
    found = []
    for row in failures:
        name, error = row.get("Name", ""), row.get("Error", "")
        kind = classify(error)
        check, expected = _CHECK[kind]
        level: Level = "warn" if kind == "4xx" else "fail"
        actual = f"{_count(row, 'Occurrences')} of {counts.get(name, 0)} requests: {error}"
        found.append(Finding(name, level, check, expected, short(actual), path=name,
                             request=f"{row.get('Method', '')} {name}".strip()))
    return found


def smoke_command(locustfile: Path, url: str, folder: Path) -> list[str]:
    """One user, SMOKE_S seconds, headless, Locust's CSV into `folder`; an argument list, never a shell."""
    return [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host", url,
        "--users", "1", "--spawn-rate", "1", "--run-time", f"{SMOKE_S}s",
        "--csv", str(folder / paths.LOCUST_CSV_PREFIX), "--only-summary",
        "--logfile", str(folder / paths.LOCUST_LOG), "--loglevel", "WARNING",
        "--exit-code-on-error", "0", "--stop-timeout", "1",
    ]


def smoke_folder(stack_dir: Path, scenario: Scenario) -> Path:
    """Where a stack's smoke run of `scenario` writes (no cell.json, so never read as a cell)."""
    return stack_dir / f"smoke-{scenario.name}"


def smoke_check(server: ServerHandle, scenario: Scenario, folder: Path, cpus: Sequence[int]) -> VerifyResult:
    """Run `scenario`'s locustfile against `server` for SMOKE_S seconds and judge what Locust recorded;
    never raises for a Locust or server failure, reports it as a finding."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{paths.LOCUST_CSV_PREFIX}_*.csv"):  # an earlier repeat's must not be read
        old.unlink()
    with locust_process(pin_prefix(cpus) + smoke_command(scenario.locustfile, server.url, folder),
                        folder / paths.LOCUST_OUT) as proc:
        code = wait_within(proc, SMOKE_BUDGET_S)
    stats = locust_csv(folder, "stats")
    if stats is None:
        ended = f"exited with code {code}" if code is not None else f"ran past {SMOKE_BUDGET_S:.0f} s"
        findings = [Finding(scenario.name, "fail", "locust", "a smoke run of the locustfile",
                            f"Locust {ended} and wrote no stats; see {folder / paths.LOCUST_OUT}")]
        return VerifyResult("fail", findings, [scenario.name])
    findings = smoke_findings(scenario.name, stats, locust_csv(folder, "failures") or [])
    return VerifyResult(worst(f.level for f in findings), findings, list(request_counts(stats)))


def contract_not_checked() -> VerifyResult:
    """What `stackmark verify` says of an app with `contract = false`: nothing to compare it with."""
    return VerifyResult("warn", [Finding("contract", "warn", "not checked", "the endpoint contract",
                                         "the app says contract = false; `stackmark bench --locustfile FILE` "
                                         "smoke-checks its own requests")])


@dataclass(frozen=True)
class StackChecks:
    """A stack's checks before load: the contract (if its app implements it) and, per team locustfile
    scenario, its smoke run. stack.json's verify block is all of them as one VerifyResult."""

    contract: VerifyResult | None = None
    smoke: dict[str, VerifyResult] = field(default_factory=dict)  # scenario name -> its smoke check

    def blocks(self, scenario: Scenario) -> bool:
        """The one rule for what verification keeps from being measured: a contract scenario one of whose
        endpoints (Scenario.endpoints: a mix requests several) failed, a team's locustfile whose smoke run
        failed."""
        if scenario.endpoint is None:
            smoke = self.smoke.get(scenario.name)
            return smoke is not None and smoke.status == "fail"
        return self.contract is not None and any(e in self.contract.failed_endpoints for e in scenario.endpoints)

    @property
    def result(self) -> VerifyResult:
        parts = ([self.contract] if self.contract is not None else []) + list(self.smoke.values())
        findings = [f for part in parts for f in part.findings]
        return VerifyResult(worst(f.level for f in findings), findings, [e for p in parts for e in p.endpoints])
