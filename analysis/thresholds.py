"""What `stackmark compare` judges and how strictly: the compared metrics and the gate's thresholds.

The thresholds come from a small TOML file (gate.toml at the repository root
is the example and the default; `--thresholds FILE` names another):

    [gate]
    alpha = 0.05                  # one-sided Mann-Whitney U significance
    metrics = ["cpu_us_per_req", "error_pct", "rps", "p99_ms"]   # which metrics gate (exit 1)
    flags = ["stalled", "generator-bound", "starved", "noisy"]   # make rps and p99 inconclusive
    [thresholds]
    default = 0.05                # a change must also be beyond this (5%) to count
    rps = 0.10
    error_pct = 1.0               # in percentage points, not a fraction
    [stacks."fastapi-uvicorn"]
    rps = 0.15

A typo is refused (one line naming the key), never ignored: a gate silently
running on defaults is worse than no gate.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from analysis.flags import FLAG_RULES

DEFAULT_FILE = Path("gate.toml")  # read from the working folder when --thresholds is not given
ALPHA = 0.05
DEFAULT_THRESHOLD = 0.05
ERROR_PP = 1.0


class ThresholdsError(ValueError):
    """A thresholds file that cannot be used: one line naming the file, the key and the fix."""


@dataclass(frozen=True)
class Metric:
    """A compared metric: which way is better and how a change in it is measured."""

    name: str
    label: str
    lower_is_better: bool
    in_points: bool  # a difference in its own unit (error_pct: 0 % against 0 % has no ratio), not a ratio
    reads_the_machine: bool  # rps and p99 move with a busy machine: a flagged cell makes them inconclusive
    counts_failed_repeats: bool  # a repeat that failed in current and never in base is a regression of this


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("cpu_us_per_req", "CPU us/req", lower_is_better=True, in_points=False, reads_the_machine=False,
           counts_failed_repeats=False),
    Metric("error_pct", "errors %", lower_is_better=True, in_points=True, reads_the_machine=False,
           counts_failed_repeats=True),
    Metric("rps", "req/s", lower_is_better=False, in_points=False, reads_the_machine=True,
           counts_failed_repeats=False),
    Metric("p99_ms", "p99 ms", lower_is_better=True, in_points=False, reads_the_machine=True,
           counts_failed_repeats=False),
)}

# Flags that do not make rps or p99 inconclusive by default, and why; every other FLAG_RULES name does,
# so a flag added to analysis.flags joins the gate without a change here.
NOT_BLOCKING = {
    "errors": "error_pct is gated on its own",
    "steal": "one repeat's steal moves a median little; heavy median steal is already `noisy`",
    "littles-off": "a property of how the stack holds connections, the same in both runs",
}
BLOCKING_FLAGS = tuple(name for name in FLAG_RULES if name not in NOT_BLOCKING)


@dataclass(frozen=True)
class Thresholds:
    """The gate's settings; `threshold(stack, metric)` is the size a change must exceed to count."""

    alpha: float = ALPHA
    default: float = DEFAULT_THRESHOLD  # for every ratio metric without its own
    metrics: Mapping[str, float] = field(default_factory=lambda: {"error_pct": ERROR_PP})
    stacks: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    gate: tuple[str, ...] = tuple(METRICS)
    flags: tuple[str, ...] = BLOCKING_FLAGS
    source: str = "built-in defaults"

    def threshold(self, stack: str, metric: str) -> float:
        """[stacks.STACK] metric, else [thresholds] metric, else the default (error_pct: 1 point)."""
        per_stack = self.stacks.get(stack, {})
        if metric in per_stack:
            return per_stack[metric]
        if metric in self.metrics:
            return self.metrics[metric]
        return ERROR_PP if METRICS[metric].in_points else self.default

    def describe(self) -> str:
        """One line: where the thresholds came from and what they are."""
        sizes = [f"{name} {self._shown(name, value)}" for name, value in self.metrics.items()]
        stacks = [f"{stack}: " + ", ".join(f"{m} {self._shown(m, v)}" for m, v in table.items())
                  for stack, table in self.stacks.items()]
        return (f"thresholds ({self.source}): alpha {self.alpha:g}, default {self.default:.0%}"
                + "".join(f", {s}" for s in sizes) + "".join(f"; {s}" for s in stacks)
                + f"; gating {', '.join(self.gate)}; rps and p99 inconclusive when flagged {', '.join(self.flags)}")

    @staticmethod
    def _shown(metric: str, value: float) -> str:
        return f"{value:g} pp" if METRICS[metric].in_points else f"{value:.0%}"


def _table(value: Any, where: str, allowed: set[str] | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ThresholdsError(f"{where} should be a table")
    unknown = sorted(set(value) - allowed) if allowed is not None else []
    if unknown:
        raise ThresholdsError(f"{where}: unknown key {unknown[0]!r}; valid: {', '.join(sorted(allowed or ()))}")
    return value


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise ThresholdsError(f"{where} = {value!r}: should be a number from {low:g} to {high:g}")
    return float(value)


def _names(value: Any, where: str, valid: set[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ThresholdsError(f"{where} should be a list of names")
    unknown = [v for v in value if v not in valid]
    if unknown:
        raise ThresholdsError(f"{where}: unknown name {unknown[0]!r}; valid: {', '.join(sorted(valid))}")
    return tuple(value)


def _sizes(table: dict[str, Any], where: str) -> dict[str, float]:
    """metric -> threshold, each checked: a fraction up to 10 (1000%), or points up to 100."""
    return {name: _number(v, f"{where}.{name}", 0.0, 100.0 if METRICS[name].in_points else 10.0)
            for name, v in table.items()}


def parse_thresholds(data: Mapping[str, Any], source: str) -> Thresholds:
    """Thresholds from a parsed TOML document; ThresholdsError (one line) on any unknown or bad key."""
    try:
        top = _table(dict(data), "the file", {"gate", "thresholds", "stacks"})
        gate = _table(top.get("gate", {}), "[gate]", {"alpha", "metrics", "flags"})
        sizes = dict(_table(top.get("thresholds", {}), "[thresholds]", {"default", *METRICS}))
        stacks = _table(top.get("stacks", {}), "[stacks]", None)
        default = _number(sizes.pop("default", DEFAULT_THRESHOLD), "[thresholds].default", 0.0, 10.0)
        return Thresholds(
            alpha=_number(gate.get("alpha", ALPHA), "[gate].alpha", 1e-6, 0.5),
            default=default,
            metrics={"error_pct": ERROR_PP, **_sizes(sizes, "[thresholds]")},
            stacks={stack: _sizes(_table(t, f"[stacks.{stack!r}]", set(METRICS)), f"[stacks.{stack!r}]")
                    for stack, t in stacks.items()},
            gate=_names(gate.get("metrics", list(METRICS)), "[gate].metrics", set(METRICS)),
            flags=_names(gate.get("flags", list(BLOCKING_FLAGS)), "[gate].flags", set(FLAG_RULES)),
            source=source)
    except ThresholdsError as exc:
        raise ThresholdsError(f"{source}: {exc}") from None


def load_thresholds(path: Path | None) -> Thresholds:
    """The thresholds file given, else ./gate.toml if there is one, else the built-in defaults."""
    if path is None:
        if not DEFAULT_FILE.is_file():
            return Thresholds()
        path = DEFAULT_FILE
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ThresholdsError(f"{path}: cannot read the thresholds file ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ThresholdsError(f"{path}: not valid TOML ({exc}); see gate.toml for the format") from None
    return parse_thresholds(data, str(path))
