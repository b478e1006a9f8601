"""Which CPUs the server and the load generator run on."""
from __future__ import annotations

import os

from stackmark.errors import UserError


def parse_cpus(text: str) -> list[int]:
    """'1', '0,1' or '2-3' -> CPU numbers that exist here; anything else is one line naming the fix."""
    cpus: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part:
                a, b = (int(x) for x in part.split("-"))
                if a > b:
                    raise UserError(f"CPU range {part!r} runs backwards; write it low-high, e.g. {b}-{a}")
                cpus.extend(range(a, b + 1))
            elif part:
                cpus.append(int(part))
    except ValueError:
        raise UserError(f"bad CPU list {text!r}; write it like 1 or 0,1 or 2-3") from None
    if not cpus:
        raise UserError(f"bad CPU list {text!r}; write it like 1 or 0,1 or 2-3")
    available = os.sched_getaffinity(0)
    missing = [c for c in cpus if c not in available]
    if missing:
        raise UserError(f"CPU {missing[0]} is not available here (have {sorted(available)}); pick others")
    return cpus


def default_cpus(no_pin: bool = False) -> tuple[list[int], list[int]]:
    """(server CPUs, load-generator CPUs): the server on its own CPU(s), Locust on CPU 0, when there are two."""
    cpus = sorted(os.sched_getaffinity(0))
    if no_pin or len(cpus) < 2:
        return [], []
    return cpus[1:], cpus[:1]
