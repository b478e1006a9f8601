"""What verification found: a ``Finding`` per difference, a ``VerifyResult`` per stack.

The pure checks only know what differs, not which request showed it, so they
return findings made by ``problem``; ``placed`` then ties them to their
endpoint and request and cuts long texts, in one place for every check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

from apps.contract import Endpoint, Variant

Level = Literal["fail", "warn"]  # fail: that endpoint is not measured; warn: measured, flagged
Status = Literal["ok", "warn", "fail"]

_MAX = 80  # longest expected/actual string shown


@dataclass(frozen=True)
class Finding:
    """One way a response differs from the contract.

    ``path`` is the endpoint's path (``/queries``); ``request`` what was sent
    (``GET /queries?queries=501``) and, for a named variant, its name.
    """

    endpoint: str
    level: Level
    check: str  # "status", "content-type", "body", "header:server", "content-length", "date", ...
    expected: str
    actual: str
    path: str = ""
    request: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def problem(check: str, expected: str, actual: str, level: Level = "fail") -> Finding:
    """A finding not yet tied to a request, as the pure checks return it."""
    return Finding("", level, check, expected, actual)


def placed(found: Iterable[Finding], endpoint: Endpoint, request: str) -> list[Finding]:
    """``found`` tied to ``endpoint`` and the ``request`` that showed it, texts cut to report length."""
    return [
        replace(f, endpoint=endpoint.name, path=endpoint.path, request=request,
                expected=short(f.expected), actual=short(f.actual))
        for f in found
    ]


def short(text: str, limit: int = _MAX) -> str:
    """``text`` cut to ``limit`` characters, so one odd body cannot flood a report."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def worst(levels: Iterable[str]) -> Status:
    """"fail" if any level is, else "warn" if any is, else "ok"."""
    seen = set(levels)
    return "fail" if "fail" in seen else "warn" if "warn" in seen else "ok"


def request_line(endpoint: Endpoint, variant: Variant | None = None) -> str:
    """What a request looks like in a report: ``/queries?queries=0``, ``POST /echo [count bool]``."""
    v = variant
    method = (v.method if v and v.method else None) or endpoint.method
    path = (v.path if v and v.path else None) or endpoint.path
    query = endpoint.query if v is None or v.query is None else v.query
    target = f"{path}?{query}" if query else path
    line = target if method == "GET" else f"{method} {target}"
    if v is not None and v.name != "default" and endpoint.kind in ("echo", "errors"):
        line += f" [{v.name}]"
    return line


@dataclass
class VerifyResult:
    """All findings for one stack; ``status`` is the worst level seen."""

    status: Status
    findings: list[Finding]
    endpoints: list[str] = field(default_factory=list)  # names checked

    @property
    def failed_endpoints(self) -> list[str]:
        """Names of endpoints with at least one "fail", in order, no repeats."""
        return list(dict.fromkeys(f.endpoint for f in self.findings if f.level == "fail"))

    @property
    def warned_endpoints(self) -> list[str]:
        """Names of endpoints with a "warn" and no "fail"."""
        failed = set(self.failed_endpoints)
        return list(dict.fromkeys(f.endpoint for f in self.findings if f.level == "warn" and f.endpoint not in failed))

    def endpoint_status(self, name: str) -> Status:
        """"ok", "warn" or "fail" for one endpoint."""
        return worst(f.level for f in self.findings if f.endpoint == name)

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "endpoints": list(self.endpoints),
            "failed_endpoints": self.failed_endpoints,
            "warned_endpoints": self.warned_endpoints,
            "findings": [f.to_dict() for f in self.findings],
        }
