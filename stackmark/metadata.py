"""What a run must record to be comparable later: code, machine, versions, settings."""
from __future__ import annotations

import json
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

# Every package that can change a number: the harness and its load generator, each server the matrix can
# run (a test checks every servers/registry.py name and every matrix framework is here), what the servers
# run on (event loops, parsers, Twisted), the frameworks and what they render or query with.
PACKAGES = (
    "stackmark", "locust", "geventhttpclient", "gevent",
    # servers
    "gunicorn", "uvicorn", "uvicorn-worker", "hypercorn", "uwsgi", "granian", "daphne", "twisted",
    "uvloop", "httptools", "h11", "websockets",
    # frameworks and what they use
    "flask", "werkzeug", "jinja2", "django", "asgiref", "fastapi", "starlette", "pydantic",
    "psycopg", "psycopg-pool", "aiosqlite",
    # analysis
    "psutil", "pandas", "scipy", "matplotlib",
)


def package_versions(names: tuple[str, ...] = PACKAGES, python: str | None = None) -> dict[str, str | None]:
    """Installed versions of `names`, here or in the environment of another interpreter (an A/B base)."""
    if python is not None and Path(python).resolve() != Path(sys.executable).resolve():
        return _versions_in(python, names)
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


_VERSIONS_SCRIPT = """
import json, sys
from importlib import metadata
out = {}
for name in sys.argv[1:]:
    try:
        out[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        out[name] = None
print(json.dumps(out))
"""


def _versions_in(python: str, names: tuple[str, ...]) -> dict[str, str | None]:
    r = subprocess.run([python, "-c", _VERSIONS_SCRIPT, *names], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return dict.fromkeys(names)
    found: dict[str, str | None] = json.loads(r.stdout)
    return found


def python_version(python: str) -> str:
    """`3.11.7` of another interpreter (or of this one)."""
    if Path(python).resolve() == Path(sys.executable).resolve():
        return platform.python_version()
    r = subprocess.run([python, "-c", "import platform; print(platform.python_version())"], capture_output=True,
                       text=True, timeout=60)
    return r.stdout.strip() if r.returncode == 0 else "unknown"


def git_state(repo: Path) -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            r = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"sha": sha, "dirty": bool(status) if status is not None else None}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def host_info() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpu_count": psutil.cpu_count(logical=True),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "memory_bytes": psutil.virtual_memory().total,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "kernel": platform.release(),
    }
