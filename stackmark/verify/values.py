"""JSON values as the contract compares them: by value, with strict types.

``==`` would pass a server that answers ``true`` for ``1`` or ``1.0`` for a
row id; frameworks differ exactly there, so the checks use these instead.
"""

from __future__ import annotations

import json
from typing import TypeGuard


def json_equal(a: object, b: object) -> bool:
    """JSON value equality that, unlike ``==``, keeps true != 1 and 1 != "1"."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(json_equal, a, b))
    return a == b


def dumps(value: object) -> str:
    """One stable spelling of a value for reports (sorted keys, text kept as text)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def is_int(value: object) -> TypeGuard[int]:
    """An integer and not a bool (JSON ``true`` arrives as a bool)."""
    return type(value) is int


def parse_json(body: bytes) -> tuple[object, str | None]:
    """``(value, None)``, or ``(None, what was wrong)`` for a body that is not JSON."""
    try:
        return json.loads(body), None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return None, "unparsable JSON: " + repr(body.decode("utf-8", errors="replace"))
