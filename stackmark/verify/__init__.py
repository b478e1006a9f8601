"""Prove a running stack meets the endpoint contract before load is sent.

A benchmark of a stack that answers wrongly (a 500, a different body, chunked
instead of Content-Length, an /updates that writes nothing) measures the wrong
thing, so every run verifies first.  Every finding is a ``fail`` (that
endpoint is not measured) or a ``warn`` (measured, flagged).

One job per module:

- ``findings``: ``Finding``, ``VerifyResult``, and ``placed``, which ties a
  check's findings to the request that showed them;
- ``checks``: ``check_response``, the pure check of one response (status,
  headers, framing), with the body check of each endpoint kind taken from the
  table in ``bodies`` (rows in ``rows``, the HTML page in ``fortunes``, JSON
  comparison in ``values``);
- ``probe``: everything that talks to the stack or its database (HTTP, the
  WebSocket echo, rows, the Date probe, the loopback guard);
- ``stack``: ``verify_stack``, which runs the probes and the checks and never
  raises for network or database trouble, it reports it;
- ``render``: ``format_findings``, the findings as text.
"""

from __future__ import annotations

from .bodies import BODY_CHECKS, Expected
from .checks import check_response
from .findings import Finding, VerifyResult, request_line
from .fortunes import check_fortunes, expected_fortunes
from .probe import DATE_WAIT_S
from .render import format_findings
from .rows import check_rows, check_updates_written, check_world
from .stack import verify_stack

__all__ = [
    "BODY_CHECKS",
    "DATE_WAIT_S",
    "Expected",
    "Finding",
    "VerifyResult",
    "check_fortunes",
    "check_response",
    "check_rows",
    "check_updates_written",
    "check_world",
    "expected_fortunes",
    "format_findings",
    "request_line",
    "verify_stack",
]
