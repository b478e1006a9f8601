"""Whether two runs can be compared, and what changed between them besides the numbers.

Refused (unless --allow-different-host): another CPU model or core count,
another CPU pinning or Locust process count, another Python. Each moves
every number of a run by more than a gate's threshold, so a verdict across
them would measure the machine, not the change (pyperf refuses to merge runs
whose checked metadata differ). Listed, never refused: package versions,
stack command lines and git commits are the change under test; other
settings and host details are context a reviewer should see.
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analysis.compare_sample import Sample

HOST_CHECKED = ("cpu_model", "cpu_count", "python")
SETTINGS_CHECKED = ("server_cpus", "loadgen_cpus", "loadgen_processes")
HOST_IGNORED = ("hostname",)  # a CI runner's name changes every job and says nothing about speed


@dataclass(frozen=True)
class Changes:
    """What differs between base and current, each item one line for people."""

    packages: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    git: str = ""
    settings: tuple[str, ...] = ()
    host: tuple[str, ...] = ()  # differences that do not refuse a comparison (and refused ones, when allowed)

    def lines(self) -> list[tuple[str, str]]:
        """(heading, item) pairs in the order a reviewer reads them."""
        groups = [("versions", self.packages), ("command lines", self.commands), ("git", (self.git,)),
                  ("settings", self.settings), ("host", self.host)]
        return [(heading, item) for heading, items in groups for item in items if item]


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "[]"
    return "none" if value is None else str(value)


def _differences(base: Mapping[str, Any], current: Mapping[str, Any], keys: Sequence[str]) -> list[str]:
    return [f"{k} {_shown(base.get(k))} -> {_shown(current.get(k))}" for k in keys if base.get(k) != current.get(k)]


def incomparable(base: Sample, current: Sample, python_is_change: bool = False) -> list[str]:
    """What makes the two runs' numbers incomparable: one 'key base -> current' line per difference."""
    host_keys = [k for k in HOST_CHECKED if not (python_is_change and k == "python")]
    return _differences(base.host, current.host, host_keys) + _differences(base.settings, current.settings,
                                                                          SETTINGS_CHECKED)


def _packages(base: Mapping[str, str | None], current: Mapping[str, str | None]) -> list[str]:
    return [f"{name} {base.get(name) or 'absent'} -> {current.get(name) or 'absent'}"
            for name in sorted(set(base) | set(current)) if base.get(name) != current.get(name)]


def command_change(stack: str, base: Sequence[str], current: Sequence[str]) -> str:
    """'stack: `--http httptools` -> `--http h11`': only the arguments that differ."""
    parts = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=base, b=current, autojunk=False).get_opcodes():
        if op != "equal":
            before, after = " ".join(base[i1:i2]), " ".join(current[j1:j2])
            parts.append(f"`{before}` -> `{after}`" if before and after
                         else f"added `{after}`" if after else f"removed `{before}`")
    return f"{stack}: " + "; ".join(parts)


def _git(base: Mapping[str, Any], current: Mapping[str, Any]) -> str:
    def sha(git: Mapping[str, Any]) -> str:
        return f"{str(git.get('sha') or 'unknown')[:10]}{' (dirty)' if git.get('dirty') else ''}"

    return f"{sha(base)} -> {sha(current)}" if sha(base) != sha(current) else f"same commit {sha(base)}"


def changes(base: Sample, current: Sample, python_is_change: bool = False) -> Changes:
    """Everything that differs, listed next to the verdict; what refuses a comparison is in `host` too."""
    settings = sorted((set(base.settings) | set(current.settings)) - set(SETTINGS_CHECKED))
    host = sorted((set(base.host) | set(current.host)) - set(HOST_IGNORED))
    host_lines = _differences(base.host, current.host, host)
    if python_is_change:  # an A/B of two Pythons: the interpreter is what is being tested
        host_lines = [line for line in host_lines if not line.startswith("python ")]
    commands = [command_change(s, base.commands[s], current.commands[s])
                for s in sorted(set(base.commands) & set(current.commands))
                if base.commands[s] != current.commands[s]]
    packages = _packages(base.packages, current.packages)
    if python_is_change and base.host.get("python") != current.host.get("python"):
        packages.insert(0, f"python {_shown(base.host.get('python'))} -> {_shown(current.host.get('python'))}")
    return Changes(packages=tuple(packages), commands=tuple(commands), git=_git(base.git, current.git),
                   settings=tuple(_differences(base.settings, current.settings, settings)),
                   host=tuple(host_lines + _differences(base.settings, current.settings, SETTINGS_CHECKED)))
