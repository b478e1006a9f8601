"""What compose.yaml's helper services run inside the image: seed the database, and Locust's master and
workers driving a catalog scenario headless, with the same locustfile, phases and raw files as a bench.

Settings come from the environment compose.yaml sets (no shell string is built from them):
`python -m stackmark.compose_services seed | locust-master | locust-worker`.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from scenarios.catalog import PHASES_FILE, load_scenarios
from stackmark.database import WORLD_ROWS, redact, row_counts, seed
from stackmark.errors import UserError
from stackmark.loadgen import LoadSettings, locust_command

MASTER_PORT = 5557
WAIT_S = 60.0  # how long a client waits for the database or the master to answer (no healthcheck under Podman)


def wait_for(what: str, probe: Callable[[], object], timeout_s: float = WAIT_S) -> None:
    """Retry `probe` until it stops raising, bounded: healthchecks do not run under Podman here."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            probe()
            return
        except (OSError, UserError) as exc:
            if time.monotonic() > deadline:
                raise UserError(f"{what} did not answer within {timeout_s:.0f} s: {exc}") from None
            time.sleep(0.5)


def seed_database(env: Mapping[str, str]) -> None:
    url = env["DATABASE_URL"]
    wait_for(redact(url), lambda: row_counts(url))
    seed(url)
    print(f"seed: {redact(url)}: world {WORLD_ROWS} rows, fortune seeded", flush=True)


def master_command(env: Mapping[str, str]) -> list[str]:
    """loadgen's own Locust command for the scenario, as a master waiting for $LOCUST_WORKERS workers."""
    scenario = load_scenarios()[env.get("SCENARIO", "json")]
    load = LoadSettings(concurrency=int(env.get("USERS", "32")), duration_s=float(env.get("DURATION_S", "5")),
                        warmup_s=float(env.get("WARMUP_S", "1.5")), primer_s=float(env.get("PRIMER_S", "0.5")),
                        cpus=[])
    cell_dir = Path(env.get("CELL_DIR", "/app/results/compose-locust"))
    cell_dir.mkdir(parents=True, exist_ok=True)
    workers = env.get("LOCUST_WORKERS", "2")
    return [*locust_command(scenario, env.get("TARGET_URL", "http://stack:8000"), load, cell_dir),
            "--master", "--master-bind-host", "0.0.0.0", "--master-bind-port", str(MASTER_PORT),
            "--expect-workers", workers, "--expect-workers-max-wait", str(int(WAIT_S))]


def worker_command(env: Mapping[str, str]) -> list[str]:
    """A worker of the master at $MASTER_HOST: the same locustfile and phases; the rest comes from the master."""
    scenario = load_scenarios()[env.get("SCENARIO", "json")]
    return [sys.executable, "-m", "locust", "-f", f"{scenario.locustfile},{PHASES_FILE}", "--worker",
            "--master-host", env.get("MASTER_HOST", "locust-master"), "--master-port", str(MASTER_PORT)]


def main(argv: Sequence[str]) -> int:
    env = os.environ
    try:
        if argv[:1] == ["seed"]:
            seed_database(env)
            return 0
        builders = {"locust-master": master_command, "locust-worker": worker_command}
        if len(argv) != 1 or argv[0] not in builders:
            raise UserError("usage: python -m stackmark.compose_services seed | locust-master | locust-worker")
        command = builders[argv[0]](env)
    except (UserError, KeyError, ValueError) as exc:
        print(f"stackmark.compose_services: error: {exc}", file=sys.stderr)
        return 2
    print(f"{argv[0]}: {' '.join(command)}", file=sys.stderr, flush=True)
    os.execv(command[0], command)  # an argument list, never a shell string


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
